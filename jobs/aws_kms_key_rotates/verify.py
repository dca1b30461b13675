"""Verify aws_kms_key_rotates: the key rotates its key material automatically."""

from __future__ import annotations

from aws_kms_key_rotates import kms_for, read_key

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    key, rotating = read_key(kms_for(finding), finding.object_id)
    problems = [] if rotating else [f"key {key['Arn']}: automatic key rotation is off"]
    jobkit.verdict(problems, f"key {key['Arn']} rotates automatically")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
