"""Verify ec2_instance_require_imdsv2: the instance's metadata HttpTokens is `required`."""

from __future__ import annotations

from ec2_instance_require_imdsv2 import REQUIRED, http_tokens

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    instance = finding.object_id
    now = http_tokens(jobkit.ec2_client(finding), instance)
    problems = [] if now == REQUIRED else [f"{instance} serves IMDSv1 (HttpTokens is {now})"]
    jobkit.verdict(problems, f"{instance} requires IMDSv2 (HttpTokens required)")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
