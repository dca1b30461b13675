"""Verify ec2_vpc_enable_flow_logs: the VPC has an active flow log of REJECT or ALL traffic."""

from __future__ import annotations

from ec2_vpc_enable_flow_logs import capturing_rejects, flow_logs

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    vpc = finding.object_id
    problems = []
    if not capturing_rejects(flow_logs(jobkit.ec2_client(finding), vpc)):
        problems.append(f"{vpc} has no active flow log capturing rejected traffic")
    jobkit.verdict(problems, f"{vpc} has a flow log capturing rejected traffic")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
