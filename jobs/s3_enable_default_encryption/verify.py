"""Verify s3_enable_default_encryption: the bucket encrypts new objects by default."""

from __future__ import annotations

from s3_enable_default_encryption import default_algorithm, encryption

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    s3 = jobkit.s3_client(finding)
    bucket = finding.object_id
    algorithm = default_algorithm(encryption(s3, bucket))
    problems = [] if algorithm else [f"{bucket} has no default encryption"]
    jobkit.verdict(problems, f"{bucket} encrypts new objects by default ({algorithm})")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
