"""Verify iam_deactivate_old_access_keys: the user has no active key older than max_age_days."""

from __future__ import annotations

from iam_deactivate_old_access_keys import iam_client, old_keys

from remedy import jobkit
from remedy.jobkit.iam_keys import days_since, user_name


def verify(finding: jobkit.Finding) -> None:
    max_age: int = finding.parameters["max_age_days"]
    user = user_name(finding.object_id)
    problems = [
        f"user {user}: access key {k['AccessKeyId']} is active and "
        f"{days_since(k['CreateDate'])} days old"
        for k in old_keys(iam_client(finding), user, max_age)
    ]
    jobkit.verdict(problems, f"user {user} has no active access key older than {max_age} days")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
