"""Verify aws_rds_snapshot_remove_publicaccess: `all` is not among the snapshot's restore values."""

from __future__ import annotations

from aws_rds_snapshot_remove_publicaccess import PUBLIC, read

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    snapshot = read(jobkit.client("rds", finding), finding.object_id)
    problems = []
    if PUBLIC in snapshot.restore:
        problems.append(f"{snapshot.kind} {snapshot.identifier} may be restored by all accounts")
    jobkit.verdict(problems, f"{snapshot.kind} {snapshot.identifier} is not public")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
