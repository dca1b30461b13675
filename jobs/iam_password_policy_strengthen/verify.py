"""Verify iam_password_policy_strengthen: the account's password policy has every asked setting
at least as strong as asked."""

from __future__ import annotations

from iam_password_policy_strengthen import asked, current_policy, describe, iam_client, weak

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    wanted = asked(finding.parameters)
    account = finding.account_id
    policy = current_policy(iam_client(finding))
    problems = [f"account {account} has no IAM password policy"] if policy is None else []
    for setting, (have, need) in weak(policy, wanted).items():
        if policy is not None:
            problems.append(
                f"account {account}: password policy {setting} is {describe(setting, have)}, "
                f"needs {describe(setting, need)}"
            )
    settings = ", ".join(f"{k} {describe(k, v)}" for k, v in wanted.items())
    jobkit.verdict(problems, f"account {account} password policy has {settings} or stronger")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
