"""Verify azure_network_security_group_close_port: no inbound rule lets the internet reach tcp/<port>."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import azure, verdict
from remedy.jobkit.azure_nsg import close_tcp_port, still_open


def verify(finding: jobkit.Finding) -> None:
    port: int = finding.parameters["port"]  # remedy.json's schema: the kit checked it
    network = azure.network_client(finding)
    problems = still_open(network, finding.resource_group, finding.object_id, close_tcp_port(port))
    verdict(problems, f"{finding.object_id} lets no internet source reach tcp/{port}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
