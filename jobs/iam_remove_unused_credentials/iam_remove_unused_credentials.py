"""Disable an IAM user's credentials unused for `max_unused_days`: deactivate its access keys,
remove its console password.

ObjectId: the user's name or ARN (Security Hub's IAM.8 / IAM.22 name the user). Unused: an active
access key last used `max_unused_days` or more days ago, or never used and created that long ago,
is deactivated (Status Inactive; see remedy/jobkit/iam_keys.py). A console password last used that
long ago, or never used and created that long ago, is removed (DeleteLoginProfile) when
`remove_console_password` is true (the default): IAM has no way to turn a password off.

Rollback reactivates the keys. A removed console password cannot be restored (AWS never returns a
password, so the old one is lost): rollback reactivates the keys, then exits 1 with one ERROR line
saying the password was not restored and how to give the user a new one.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

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

LOGIN_PROFILE_KIND = "iam-login-profile"


def iam_client(finding: jobkit.Finding) -> IAMClient:
    made: IAMClient = jobkit.client("iam", finding)
    return made


def unused_keys(iam: IAMClient, user: str, days: int) -> list[tuple[dict[str, Any], str]]:
    """(key, why) for each active key unused for `days` days or more."""
    found = []
    for key in access_keys(iam, user):
        if key["Status"] != "Active":
            continue
        used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
        last: datetime | None = used.get("LastUsedDate")
        since = last or key["CreateDate"]
        if days_since(since) >= days:
            why = (
                f"last used {last.date().isoformat()}, {days_since(last)} days ago"
                if last
                else f"never used, created {days_since(key['CreateDate'])} days ago"
            )
            found.append((key, why))
    return found


def login_profile(iam: IAMClient, user: str) -> dict[str, Any] | None:
    try:
        return dict(iam.get_login_profile(UserName=user)["LoginProfile"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        return None


def unused_console_password(
    iam: IAMClient, user: str, days: int
) -> tuple[dict[str, Any], str] | None:
    """(login profile, why) when the user's console password is unused for `days` or more."""
    profile = login_profile(iam, user)
    if profile is None:
        return None
    last: datetime | None = iam.get_user(UserName=user)["User"].get("PasswordLastUsed")
    since = last or profile["CreateDate"]
    if days_since(since) < days:
        return None
    why = (
        f"last used {last.date().isoformat()}, {days_since(last)} days ago"
        if last
        else f"never used, set {days_since(profile['CreateDate'])} days ago"
    )
    return profile, why


def remediate(finding: jobkit.Finding) -> None:
    days: int = finding.parameters["max_unused_days"]
    iam = iam_client(finding)
    user = user_name(finding.object_id)
    keys = unused_keys(iam, user, days)
    password = (
        unused_console_password(iam, user, days)
        if finding.parameters["remove_console_password"]
        else None
    )
    if not keys and password is None:
        jobkit.info(f"ok: user {user} has no credential unused for {days} days or more")
        return
    for key, why in keys:
        deactivate(iam, user, key["AccessKeyId"], why)
    if password is not None:
        profile, why = password
        jobkit.record(
            user,
            LOGIN_PROFILE_KIND,
            {
                "CreateDate": profile["CreateDate"].isoformat(),
                "PasswordResetRequired": bool(profile.get("PasswordResetRequired")),
            },
            None,
        )
        if not jobkit.planning():
            iam.delete_login_profile(UserName=user)
        jobkit.change(f"user {user}: console password removed, login profile deleted ({why})")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    found = jobkit.modes.of_kind(records, KIND, LOGIN_PROFILE_KIND)
    iam = iam_client(finding)
    user = user_name(finding.object_id)
    keys = [r for r in found if r["kind"] == KIND]
    passwords = [r for r in found if r["kind"] == LOGIN_PROFILE_KIND]
    if any(r["resource"] != user for r in passwords):
        raise jobkit.RecordError(f"the change records are not about user {user}")
    check_rollback(iam, user, keys)
    restore(iam, user, keys)
    if passwords:
        done = f"its {len(keys)} access key(s) were reactivated; " if keys else ""
        jobkit.error(
            f"rollback incomplete: the console password of user {user} was removed by the fix "
            f"and cannot be restored (AWS never returns a password); {done}give the user a new "
            "one with CreateLoginProfile and PasswordResetRequired if they still need it"
        )
        sys.exit(jobkit.EXIT_FAILED)


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
