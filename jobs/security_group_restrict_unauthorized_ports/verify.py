"""Verify security_group_restrict_unauthorized_ports: the internet reaches authorized ports only."""

from __future__ import annotations

from security_group_restrict_unauthorized_ports import unauthorized

from remedy import jobkit
from remedy.jobkit.ec2_ports import open_on


def verify(finding: jobkit.Finding) -> None:
    closure = unauthorized(finding.parameters)
    problems = open_on(jobkit.ec2_client(finding), [finding.object_id], closure)
    jobkit.verdict(problems, f"{finding.object_id} lets no internet source reach {closure.label}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
