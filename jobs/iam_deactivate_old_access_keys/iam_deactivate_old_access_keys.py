"""Deactivate an IAM user's active access keys older than `max_age_days` (default 90).

ObjectId: the user's name or ARN (Security Hub's IAM.3 names the user). A key is old when it was
created more than `max_age_days` days ago: it is deactivated (Status Inactive), not deleted, so its
owner, or rollback, can turn it on again. Keys that are young enough, and inactive keys, are left
as they are. See remedy/jobkit/iam_keys.py for the records and the rollback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remedy import jobkit
from remedy.jobkit.iam_keys import (
    KIND,
    access_keys,
    check_rollback,
    days_since,
    deactivate,
    restore,
    user_name,
)

if TYPE_CHECKING:
    from mypy_boto3_iam.client import IAMClient


def iam_client(finding: jobkit.Finding) -> IAMClient:
    made: IAMClient = jobkit.client("iam", finding)
    return made


def old_keys(iam: IAMClient, user: str, max_age: int) -> list[dict[str, Any]]:
    """The user's active keys created more than `max_age` days ago."""
    return [
        k
        for k in access_keys(iam, user)
        if k["Status"] == "Active" and days_since(k["CreateDate"]) > max_age
    ]


def remediate(finding: jobkit.Finding) -> None:
    max_age: int = finding.parameters["max_age_days"]
    iam = iam_client(finding)
    user = user_name(finding.object_id)
    found = old_keys(iam, user, max_age)
    if not found:
        jobkit.info(f"ok: user {user} has no active access key older than {max_age} days")
        return
    for key in found:
        age = days_since(key["CreateDate"])
        created = key["CreateDate"].date().isoformat()
        deactivate(iam, user, key["AccessKeyId"], f"created {created}, {age} days ago")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    found = jobkit.modes.of_kind(records, KIND)
    iam = iam_client(finding)
    user = user_name(finding.object_id)
    check_rollback(iam, user, found)
    restore(iam, user, found)


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
