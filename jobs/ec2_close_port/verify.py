"""Verify ec2_close_port: no security group of the instance lets the internet reach the port(s)."""

from __future__ import annotations

from ec2_close_port import security_groups_of_instance

from remedy import jobkit
from remedy.jobkit.ec2_ports import closure_of, open_on


def verify(finding: jobkit.Finding) -> None:
    closure = closure_of(finding.parameters)  # remedy.json's schema: the kit checked them
    ec2 = jobkit.ec2_client(finding)
    groups = security_groups_of_instance(ec2, finding.object_id)
    problems = open_on(ec2, groups, closure)
    jobkit.verdict(
        problems, f"no group of {finding.object_id} lets the internet reach {closure.label}"
    )


if __name__ == "__main__":
    jobkit.run(verify, __file__)
