"""Turn on the four settings of the account's S3 Block Public Access (Security Hub S3.1).

An account-level control: the target is the finding's account (`CloudAccountID`) in its region
(S3 Control is regional, the setting applies to the whole account); the finding's ObjectId, if
any, is not read. Every setting off (or unset) is turned on; settings already on stay on, and a
configuration with all four on is left alone.

Plan prints the same CHANGE line after reading only. Before the change one record (kind
`s3-account-public-access-block`) keeps the configuration as it was (`{}`: the account had none)
and as the job left it. Rollback refuses while the configuration differs from the job's; else
it puts the old settings back, or deletes the configuration when the account had none.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from remedy import jobkit

KIND = "s3-account-public-access-block"
SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def s3control(finding: jobkit.Finding) -> Any:
    return jobkit.client("s3control", finding)


def account_block(client: Any, account: str) -> dict[str, bool]:
    """The account's public access block; {} when it has none."""
    try:
        found = client.get_public_access_block(AccountId=account)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchPublicAccessBlockConfiguration":
            raise
        return {}
    return {k: bool(v) for k, v in found["PublicAccessBlockConfiguration"].items()}


def remediate(finding: jobkit.Finding) -> None:
    client = s3control(finding)
    account = finding.account_id
    current = account_block(client, account)
    off = [name for name in SETTINGS if current.get(name) is not True]
    if not off:
        jobkit.info(f"ok: account {account} already blocks all public access to S3")
        return
    wanted = {name: True for name in SETTINGS}
    jobkit.record(account, KIND, current, wanted)
    if not jobkit.planning():
        client.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration=wanted)
    jobkit.change(
        f"account {account}: S3 Block Public Access turned on ({', '.join(off)} were off)"
    )


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    client = s3control(finding)
    account = finding.account_id
    found = jobkit.modes.of_kind(records, KIND)
    if any(r["resource"] != account for r in found):
        raise jobkit.RecordError(f"the change records are not about account {account}")
    record = found[0]  # the job makes one change per run
    now = account_block(client, account)
    if any(now.get(name) is not record["after"].get(name) for name in SETTINGS):
        raise jobkit.ChangedSince(
            f"account {account}'s S3 Block Public Access changed since the job turned it on: it is now {json.dumps(now, sort_keys=True)}"
        )
    if not record["before"]:
        client.delete_public_access_block(AccountId=account)
        jobkit.change(f"account {account}: S3 Block Public Access deleted, as before (rollback)")
        return
    before = {name: record["before"].get(name) is True for name in SETTINGS}
    client.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration=before)
    on = ", ".join(name for name, value in before.items() if value) or "none"
    jobkit.change(f"account {account}: S3 Block Public Access restored (on: {on}) (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
