"""Verify azure_security_udp_access_restricted_from_internet: no inbound rule allows udp from the
internet."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import azure, verdict
from remedy.jobkit.azure_nsg import still_open, stop_udp


def verify(finding: jobkit.Finding) -> None:
    network = azure.network_client(finding)
    problems = still_open(network, finding.resource_group, finding.object_id, stop_udp)
    verdict(problems, f"{finding.object_id} allows no udp from the internet")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
