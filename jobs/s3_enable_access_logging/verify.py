"""Verify s3_enable_access_logging: the bucket has server access logging on."""

from __future__ import annotations

from s3_enable_access_logging import logging_of

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    s3 = jobkit.s3_client(finding)
    bucket = finding.object_id
    found = logging_of(s3, bucket)
    problems = [] if found.get("TargetBucket") else [f"{bucket} has server access logging off"]
    where = f"s3://{found.get('TargetBucket')}/{found.get('TargetPrefix', '')}"
    jobkit.verdict(problems, f"{bucket} logs its accesses to {where}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
