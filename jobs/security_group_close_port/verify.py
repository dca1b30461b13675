"""Verify security_group_close_port: nothing on the group lets the internet reach the port(s)."""

from __future__ import annotations

from collections.abc import Sequence

from remedy import jobkit
from remedy.jobkit.ec2_ports import closure_of, open_on, prefetch_groups


def verify(finding: jobkit.Finding) -> None:
    closure = closure_of(finding.parameters)  # remedy.json's schema: the kit checked them
    problems = open_on(jobkit.ec2_client(finding), [finding.object_id], closure)
    jobkit.verdict(problems, f"{finding.object_id} lets no internet source reach {closure.label}")


def prefetch(findings: Sequence[jobkit.Finding]) -> None:
    """A batch: describe every group once, before each member's verdict."""
    prefetch_groups(jobkit.ec2_client(findings[0]), [f.object_id for f in findings])


if __name__ == "__main__":
    jobkit.run(verify, __file__, prefetch=prefetch)
