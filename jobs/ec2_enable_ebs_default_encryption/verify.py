"""Verify ec2_enable_ebs_default_encryption: EBS encryption by default is on in the region."""

from __future__ import annotations

from ec2_enable_ebs_default_encryption import encrypted_by_default, target

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    where = target(finding)
    problems = []
    if not encrypted_by_default(jobkit.ec2_client(finding)):
        problems.append(f"EBS encryption by default is off in {where}")
    jobkit.verdict(problems, f"EBS encryption by default is on in {where}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
