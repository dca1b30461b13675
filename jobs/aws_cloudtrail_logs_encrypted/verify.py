"""Verify aws_cloudtrail_logs_encrypted: the trail encrypts its log files with a KMS key."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit.cloudtrail import find_trail


def verify(finding: jobkit.Finding) -> None:
    trail = find_trail(finding)
    problems = [] if trail.get("KmsKeyId") else [f"trail {trail.name}: no KMS key (KmsKeyId)"]
    jobkit.verdict(problems, f"trail {trail.name} encrypts its logs with {trail.get('KmsKeyId')}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
