"""IAM users' access keys for the credential jobs (iam_deactivate_old_access_keys,
iam_remove_unused_credentials): find a user's keys, deactivate one with its change record, and
roll deactivations back.

A key is deactivated (Status Inactive), never deleted: its owner can reactivate it, and rollback
does. Before each deactivation one change record (kind `iam-access-key`, resource the user name)
keeps the key id and its status before and after (an access key id is an identifier, not a
secret; the secret is never read). Rollback checks every recorded key first: each must still exist
and be Inactive, or nothing is changed (ChangedSince); then it reactivates them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from remedy.jobkit import ChangedSince, RecordError, change, planning, record

if TYPE_CHECKING:
    from mypy_boto3_iam.client import IAMClient

KIND = "iam-access-key"


def user_name(object_id: str) -> str:
    """The user's name from a finding's ObjectId: a name, or `arn:aws:iam::1:user/path/name`."""
    if object_id.startswith("arn:") and ":user/" in object_id:
        return object_id.rsplit("/", 1)[-1]
    return object_id


def access_keys(iam: IAMClient, user: str) -> list[dict[str, Any]]:
    """Every access key of the user (id, status, CreateDate), all pages."""
    found: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        page = (
            iam.list_access_keys(UserName=user, Marker=marker)
            if marker
            else iam.list_access_keys(UserName=user)
        )
        found += [dict(k) for k in page["AccessKeyMetadata"]]
        if not page.get("IsTruncated"):
            return found
        marker = page["Marker"]


def days_since(when: datetime) -> int:
    return (datetime.now(UTC) - when).days


def deactivate(iam: IAMClient, user: str, key_id: str, why: str) -> None:
    """Record, then deactivate one active key (only the record and the line in plan mode)."""
    record(
        user,
        KIND,
        {"AccessKeyId": key_id, "Status": "Active"},
        {"AccessKeyId": key_id, "Status": "Inactive"},
    )
    if not planning():
        iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
    change(f"user {user}: access key {key_id} deactivated ({why})")


def check_rollback(iam: IAMClient, user: str, found: list[dict[str, Any]]) -> None:
    """ChangedSince unless every recorded key still exists with the status the job left."""
    if any(r["resource"] != user for r in found):
        raise RecordError(f"the change records are not about user {user}")
    if not found:
        return
    now = {k["AccessKeyId"]: k["Status"] for k in access_keys(iam, user)}
    changed = []
    for entry in found:
        key_id, left = entry["after"]["AccessKeyId"], entry["after"]["Status"]
        if key_id not in now:
            changed.append(f"access key {key_id} is gone")
        elif now[key_id] != left:
            changed.append(f"access key {key_id} is {now[key_id]}, the job left it {left}")
    if changed:
        raise ChangedSince(f"user {user} changed since the job: {'; '.join(changed)}")


def restore(iam: IAMClient, user: str, found: list[dict[str, Any]]) -> None:
    """Put each recorded key's status back (once check_rollback passed)."""
    for entry in found:
        key_id, status = entry["before"]["AccessKeyId"], entry["before"]["Status"]
        iam.update_access_key(UserName=user, AccessKeyId=key_id, Status=status)
        change(f"user {user}: access key {key_id} {status.lower()} again (rollback)")
