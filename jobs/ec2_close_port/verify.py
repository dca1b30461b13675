"""Verify ec2_close_port: no security group of the instance lets the internet reach tcp/<port>."""

from __future__ import annotations

from ec2_close_port import security_groups_of_instance

from remedy import jobkit
from remedy.jobkit.ec2_ports import open_on_port


def verify(finding: jobkit.Finding) -> None:
    port: int = finding.parameters["port"]  # remedy.json's schema: the kit checked it
    ec2 = jobkit.ec2_client(finding)
    groups = security_groups_of_instance(ec2, finding.object_id)
    problems = open_on_port(ec2, groups, port)
    jobkit.verdict(problems, f"no group of {finding.object_id} lets the internet reach tcp/{port}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
