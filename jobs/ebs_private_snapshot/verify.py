"""Verify ebs_private_snapshot: no createVolumePermission for the `all` group."""

from __future__ import annotations

from ebs_private_snapshot import is_public, permissions

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    snapshot = finding.object_id
    problems = []
    if is_public(permissions(jobkit.ec2_client(finding), snapshot)):
        problems.append(f"{snapshot} is public: anyone may create a volume from it")
    jobkit.verdict(problems, f"{snapshot} is not public")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
