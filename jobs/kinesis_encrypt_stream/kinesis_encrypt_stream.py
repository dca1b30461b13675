"""Encrypt a Kinesis data stream at rest with a KMS key (Security Hub Kinesis.1).

ObjectId: the stream's name or ARN. A stream whose EncryptionType is NONE gets
StartStreamEncryption with the `kms_key_id` parameter (default `alias/aws/kinesis`, Kinesis's
AWS-managed key); a stream already encrypted keeps its key. Nothing else about the stream changes.

Plan prints the same CHANGE line after reading only. The record (kind `kinesis-encryption`) keeps
the encryption as it was and as the job set it; rollback calls StopStreamEncryption with the key
the job set, once the stream is still encrypted with it.
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit

KIND = "kinesis-encryption"


def stream_name(object_id: str) -> str:
    """A name, or the name at the end of an ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)."""
    return object_id.rsplit("/", 1)[-1] if object_id.startswith("arn:") else object_id


def encryption(kinesis: Any, name: str) -> dict[str, str]:
    """EncryptionType (NONE or KMS) and KeyId ('' when none)."""
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    return {
        "EncryptionType": summary.get("EncryptionType") or "NONE",
        "KeyId": summary.get("KeyId") or "",
    }


def remediate(finding: jobkit.Finding) -> None:
    kinesis = jobkit.client("kinesis", finding)
    name = stream_name(finding.object_id)
    before = encryption(kinesis, name)
    if before["EncryptionType"] == "KMS":
        jobkit.info(f"ok: {name} is encrypted with KMS key {before['KeyId']}")
        return
    key: str = finding.parameters["kms_key_id"]
    after = {"EncryptionType": "KMS", "KeyId": key}
    jobkit.record(name, KIND, before, after)
    if not jobkit.planning():
        kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=key)
    jobkit.change(f"{name}: encryption at rest turned on with KMS key {key}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    kinesis = jobkit.client("kinesis", finding)
    found = jobkit.modes.of_kind(records, KIND)
    name = stream_name(finding.object_id)
    if any(r["resource"] != name for r in found):
        raise jobkit.RecordError(f"the change records are not about stream {name}")
    last = found[-1]
    now = encryption(kinesis, name)
    if now != last["after"]:
        raise jobkit.ChangedSince(
            f"{name}'s encryption changed since the job set it: {now}, not {last['after']}"
        )
    kinesis.stop_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId=now["KeyId"])
    jobkit.change(f"{name}: encryption with KMS key {now['KeyId']} stopped (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
