"""Verify security_group_close_port: nothing on the group lets the internet reach the port(s)."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit.ec2_ports import closure_of, open_on


def verify(finding: jobkit.Finding) -> None:
    closure = closure_of(finding.parameters)  # remedy.json's schema: the kit checked them
    problems = open_on(jobkit.ec2_client(finding), [finding.object_id], closure)
    jobkit.verdict(problems, f"{finding.object_id} lets no internet source reach {closure.label}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
