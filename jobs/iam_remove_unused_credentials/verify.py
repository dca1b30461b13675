"""Verify iam_remove_unused_credentials: no active access key, and (when the job removes them)
no console password, unused for max_unused_days or more."""

from __future__ import annotations

from iam_remove_unused_credentials import iam_client, unused_console_password, unused_keys

from remedy import jobkit
from remedy.jobkit.iam_keys import user_name


def verify(finding: jobkit.Finding) -> None:
    days: int = finding.parameters["max_unused_days"]
    iam = iam_client(finding)
    user = user_name(finding.object_id)
    problems = [
        f"user {user}: access key {key['AccessKeyId']} is active, {why}"
        for key, why in unused_keys(iam, user, days)
    ]
    if finding.parameters["remove_console_password"]:
        password = unused_console_password(iam, user, days)
        if password is not None:
            problems.append(f"user {user}: the console password is enabled, {password[1]}")
    jobkit.verdict(problems, f"user {user} has no credential unused for {days} days or more")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
