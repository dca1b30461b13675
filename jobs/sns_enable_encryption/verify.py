"""Verify sns_enable_encryption: the topic has a KMS key."""

from __future__ import annotations

from sns_enable_encryption import topic_arn, topic_key

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    sns = jobkit.client("sns", finding)
    arn = topic_arn(finding)
    key = topic_key(sns, arn)
    problems = [] if key else [f"{arn} has no KMS key: it is not encrypted at rest"]
    jobkit.verdict(problems, f"{arn} is encrypted with KMS key {key}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
