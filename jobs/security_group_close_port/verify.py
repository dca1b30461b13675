"""Verify security_group_close_port: nothing on the group lets the internet reach tcp/<port>."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit.ec2_ports import open_on_port


def verify(finding: jobkit.Finding) -> None:
    port: int = finding.parameters["port"]  # remedy.json's schema: the kit checked it
    problems = open_on_port(jobkit.ec2_client(finding), [finding.object_id], port)
    jobkit.verdict(problems, f"{finding.object_id} lets no internet source reach tcp/{port}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
