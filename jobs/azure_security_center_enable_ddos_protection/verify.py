"""Verify azure_security_center_enable_ddos_protection: the virtual network has
enableDdosProtection true and a DDoS protection plan."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import azure, verdict


def verify(finding: jobkit.Finding) -> None:
    network = azure.network_client(finding)
    name = finding.object_id
    props = network.virtual_networks.get(finding.resource_group, name).as_dict().get("properties")
    props = props or {}
    plan = (props.get("ddosProtectionPlan") or {}).get("id")
    problems = []
    if not props.get("enableDdosProtection"):
        problems.append(f"{name}: enableDdosProtection is not true")
    if not plan:
        problems.append(f"{name}: no DDoS protection plan is attached")
    verdict(problems, f"{name} is protected by DDoS protection plan {plan}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
