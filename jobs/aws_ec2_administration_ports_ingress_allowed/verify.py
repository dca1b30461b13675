"""Verify aws_ec2_administration_ports_ingress_allowed: for each internet-wide source, protocol
and port, the first inbound entry that matches (in rule-number order) does not allow it."""

from __future__ import annotations

from aws_ec2_administration_ports_ingress_allowed import open_entries, settings

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    ports, protocols = settings(finding)
    problems = open_entries(jobkit.ec2_client(finding), finding)
    what = ", ".join(f"{p}/{n}" for n in ports for p in protocols)
    jobkit.verdict(problems, f"{finding.object_id} lets no internet-wide source reach {what}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
