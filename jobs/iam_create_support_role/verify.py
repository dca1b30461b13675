"""Verify iam_create_support_role: AWSSupportAccess is attached to a user, group or role."""

from __future__ import annotations

from iam_create_support_role import POLICY_NAME, holders, iam_client, policy_arn

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    have = holders(iam_client(finding), policy_arn(finding))
    account = finding.account_id
    problems = [] if have else [f"account {account}: no user, group or role has {POLICY_NAME}"]
    jobkit.verdict(problems, f"account {account}: {POLICY_NAME} is attached to {', '.join(have)}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
