"""Encrypt a CloudTrail trail's log files with a KMS key (SSE-KMS; Security Hub CloudTrail.2).

ObjectId: the trail's name or ARN; the trail is changed in its home region (remedy/jobkit/
cloudtrail.py). Parameter `kms_key_id`: the key (id, ARN, alias name or alias ARN) in the trail's
home region. The job does not create keys or edit key policies: before it changes the trail it
checks that the key is an enabled symmetric encryption key whose key policy lets
cloudtrail.amazonaws.com call kms:GenerateDataKey* and kms:DescribeKey, and otherwise fails (exit
1, nothing changed) naming what is missing and the statement to add. Only KmsKeyId changes: the
bucket, prefix, validation, CloudWatch Logs, selectors and logging state are kept. Readers of the
logs then need kms:Decrypt on the key.

Plan prints the same CHANGE line after reading only. The record keeps the trail's key as it was
(none) and as left (kind `cloudtrail-kms-key`); rollback takes the key off again (UpdateTrail with
an empty KmsKeyId) while the trail still uses the job's key.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from fnmatch import fnmatchcase
from typing import Any

from remedy import jobkit
from remedy.jobkit.cloudtrail import Trail, find_trail

KIND = "cloudtrail-kms-key"
PRINCIPAL = "cloudtrail.amazonaws.com"
#: what CloudTrail needs of the key, as its key policy must grant it
#: (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html)
NEEDED = ("kms:GenerateDataKey*", "kms:DescribeKey")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def missing_grants(policy: Any) -> list[str]:
    """The actions of NEEDED that no Allow statement of the key policy grants to CloudTrail."""
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    granted: list[str] = []
    for statement in _listed(statements):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) else None
        if PRINCIPAL in _listed(services):
            granted += [str(a).lower() for a in _listed(statement.get("Action", []))]
    return [
        action
        for action in NEEDED
        if not any(fnmatchcase(action.lower().rstrip("*"), pattern) for pattern in granted)
        and action.lower() not in granted
    ]


def statement_to_add(account: str, missing: list[str]) -> dict[str, Any]:
    return {
        "Sid": "AllowCloudTrailToEncryptLogs",
        "Effect": "Allow",
        "Principal": {"Service": PRINCIPAL},
        "Action": missing,
        "Resource": "*",
        "Condition": {
            "StringLike": {
                "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account}:trail/*"
            }
        },
    }


def usable_key(finding: jobkit.Finding, trail: Trail) -> str:
    """The key's ARN, once it is one CloudTrail can use; else exit 1 saying what is missing."""
    kms = jobkit.client("kms", _in_region(finding, trail.home_region))
    wanted = finding.parameters["kms_key_id"]
    key: dict[str, Any] = kms.describe_key(KeyId=wanted)["KeyMetadata"]
    arn = str(key["Arn"])
    problems = []
    if key.get("KeyState") != "Enabled":
        problems.append(f"it is {key.get('KeyState')}, not Enabled")
    if key.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        problems.append(f"it is a {key.get('KeySpec')} key; CloudTrail needs a symmetric one")
    if key.get("KeyUsage") != "ENCRYPT_DECRYPT":
        problems.append(f"its usage is {key.get('KeyUsage')}, not ENCRYPT_DECRYPT")
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    missing = missing_grants(policy)
    if missing:
        problems.append(
            f"its key policy does not let {PRINCIPAL} call {', '.join(missing)}: add "
            f"{json.dumps(statement_to_add(finding.account_id, missing))}"
        )
    if problems:
        jobkit.error(
            f"trail {trail.name} was not changed: key {arn} ({wanted}) cannot encrypt its "
            f"logs: {'; '.join(problems)}"
        )
        sys.exit(jobkit.EXIT_FAILED)
    return arn


def _in_region(finding: jobkit.Finding, region: str) -> jobkit.Finding:
    return dataclasses.replace(finding, region=region or finding.region)


def remediate(finding: jobkit.Finding) -> None:
    trail = find_trail(finding)
    if trail.get("KmsKeyId"):
        jobkit.info(
            f"ok: trail {trail.name} already encrypts its logs with {trail.get('KmsKeyId')}"
        )
        return
    key_arn = usable_key(finding, trail)
    jobkit.record(trail.arn, KIND, {"KmsKeyId": None}, {"KmsKeyId": key_arn})
    if not jobkit.planning():
        trail.client.update_trail(Name=trail.arn, KmsKeyId=key_arn)
    jobkit.change(f"trail {trail.name}: log files encrypted with KMS key {key_arn}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    found = jobkit.modes.of_kind(records, KIND)
    trail = find_trail(finding)
    if any(r["resource"] != trail.arn for r in found):
        raise jobkit.RecordError(f"the change records are not about trail {trail.arn}")
    record = found[-1]
    if trail.get("KmsKeyId") != record["after"]["KmsKeyId"]:
        raise jobkit.ChangedSince(
            f"trail {trail.name} changed since the job set its key: its KmsKeyId is now "
            f"{trail.get('KmsKeyId')}, not {record['after']['KmsKeyId']}"
        )
    trail.client.update_trail(Name=trail.arn, KmsKeyId="")
    jobkit.change(f"trail {trail.name}: KMS encryption of log files taken off again (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
