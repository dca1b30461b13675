"""Turn on automatic rotation of a customer managed symmetric KMS key (Security Hub KMS.4).

ObjectId: the key's id or ARN (an ARN's region wins over the finding's). KMS rotates the key
material of such a key every year once rotation is on; the key id, ARN, aliases, policy, grants
and every ciphertext stay valid (old material is kept for decryption).

Refused, exit 1 with one ERROR line and no change, where KMS has no rotation to turn on:
AWS managed keys (AWS rotates them itself, yearly; not configurable), asymmetric and HMAC keys,
keys with imported key material or in a custom key store, and keys pending deletion.

Plan prints the same CHANGE line after reading only. The record keeps rotation as it was (kind
`kms-key-rotation`); rollback turns rotation off again while it is still on.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from remedy import jobkit

KIND = "kms-key-rotation"
PENDING_DELETION = ("PendingDeletion", "PendingReplicaDeletion")


def kms_for(finding: jobkit.Finding) -> Any:
    """A KMS client in the key's region: an ARN's, else the finding's."""
    parts = finding.object_id.split(":")
    if finding.object_id.startswith("arn:") and len(parts) > 5 and parts[3]:
        finding = dataclasses.replace(finding, region=parts[3])
    return jobkit.client("kms", finding)


def why_not_rotatable(key: dict[str, Any]) -> str | None:
    """Why KMS cannot rotate this key automatically, or None when it can."""
    arn = key.get("Arn", key.get("KeyId"))
    if key.get("KeyManager") == "AWS":
        return (
            f"{arn} is an AWS managed key: AWS rotates its key material every year itself "
            "and its rotation cannot be changed"
        )
    if key.get("KeyState") in PENDING_DELETION:
        return f"{arn} is pending deletion: cancel the deletion first if the key is still needed"
    spec = key.get("KeySpec") or key.get("CustomerMasterKeySpec")
    if spec != "SYMMETRIC_DEFAULT":
        return (
            f"{arn} is a {spec} key: automatic rotation exists only for symmetric encryption "
            "keys (rotate asymmetric and HMAC keys by hand, with a new key and its alias)"
        )
    if key.get("Origin") != "AWS_KMS" or key.get("CustomKeyStoreId"):
        return (
            f"{arn} has key material from {key.get('Origin')}: automatic rotation exists only "
            "for keys whose material KMS generated"
        )
    return None


def read_key(kms: Any, key_id: str) -> tuple[dict[str, Any], bool]:
    key: dict[str, Any] = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    rotating = kms.get_key_rotation_status(KeyId=key["KeyId"]).get("KeyRotationEnabled") is True
    return key, rotating


def remediate(finding: jobkit.Finding) -> None:
    kms = kms_for(finding)
    key, rotating = read_key(kms, finding.object_id)
    refused = why_not_rotatable(key)
    if refused:
        jobkit.error(f"cannot turn on rotation, nothing was changed: {refused}")
        sys.exit(jobkit.EXIT_FAILED)
    if rotating:
        jobkit.info(f"ok: key {key['Arn']} already rotates automatically")
        return
    jobkit.record(key["Arn"], KIND, {"KeyRotationEnabled": False}, {"KeyRotationEnabled": True})
    if not jobkit.planning():
        kms.enable_key_rotation(KeyId=key["KeyId"])
    jobkit.change(f"key {key['Arn']}: automatic key rotation turned on")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    found = jobkit.modes.of_kind(records, KIND)
    kms = kms_for(finding)
    key, rotating = read_key(kms, finding.object_id)
    if any(r["resource"] != key["Arn"] for r in found):
        raise jobkit.RecordError(f"the change records are not about key {key['Arn']}")
    if not rotating:
        raise jobkit.ChangedSince(
            f"key {key['Arn']} changed since the job turned rotation on: rotation is off already"
        )
    kms.disable_key_rotation(KeyId=key["KeyId"])
    jobkit.change(f"key {key['Arn']}: automatic key rotation turned off again (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
