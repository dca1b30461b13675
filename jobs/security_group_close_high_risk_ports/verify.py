"""Verify security_group_close_high_risk_ports: no internet source reaches a high-risk port."""

from __future__ import annotations

from security_group_close_high_risk_ports import high_risk

from remedy import jobkit
from remedy.jobkit.ec2_ports import open_on


def verify(finding: jobkit.Finding) -> None:
    closure = high_risk(finding.parameters)
    problems = open_on(jobkit.ec2_client(finding), [finding.object_id], closure)
    jobkit.verdict(problems, f"{finding.object_id} lets no internet source reach {closure.label}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
