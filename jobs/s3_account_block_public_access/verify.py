"""Verify s3_account_block_public_access: all four account-level settings are on."""

from __future__ import annotations

from s3_account_block_public_access import SETTINGS, account_block, s3control

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    account = finding.account_id
    block = account_block(s3control(finding), account)
    problems = [f"account {account}: {name} is off" for name in SETTINGS if not block.get(name)]
    jobkit.verdict(problems, f"account {account} blocks all public access to S3")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
