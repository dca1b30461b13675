"""Verify ec2_transit_gateway_disable_auto_accept: AutoAcceptSharedAttachments is not enable."""

from __future__ import annotations

from ec2_transit_gateway_disable_auto_accept import auto_accept

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    gateway = finding.object_id
    problems = []
    if auto_accept(jobkit.ec2_client(finding), gateway) == "enable":
        problems.append(f"{gateway} accepts shared VPC attachment requests automatically")
    jobkit.verdict(problems, f"{gateway} does not accept shared VPC attachments by itself")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
