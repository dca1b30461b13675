"""Turn on server-side encryption for an SQS queue (Security Hub SQS.1).

ObjectId: the queue's URL, ARN or name. With no `kms_key_id` the queue gets SQS-managed
encryption (SqsManagedSseEnabled=true, SSE-SQS); with one, SSE-KMS with that key
(KmsMasterKeyId). A queue already encrypted either way is left alone; no other attribute is sent.

Plan prints the same CHANGE line after reading only. The record (kind `sqs-encryption`) keeps both
attributes as they were and as the job left them; rollback turns the encryption the job turned on
off again, once the queue is still as the job left it.
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit
from remedy.jobkit.sqs_queues import queue_name, queue_url

KIND = "sqs-encryption"
NAMES = ("SqsManagedSseEnabled", "KmsMasterKeyId")


def encryption(sqs: Any, url: str) -> dict[str, str]:
    """SqsManagedSseEnabled ('true'/'false') and KmsMasterKeyId ('' when none)."""
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(NAMES))
    attributes = found.get("Attributes", {})
    return {
        "SqsManagedSseEnabled": str(attributes.get("SqsManagedSseEnabled", "false")).lower(),
        "KmsMasterKeyId": attributes.get("KmsMasterKeyId") or "",
    }


def encrypted(state: dict[str, str]) -> bool:
    return state["SqsManagedSseEnabled"] == "true" or bool(state["KmsMasterKeyId"])


def remediate(finding: jobkit.Finding) -> None:
    sqs = jobkit.client("sqs", finding)
    url = queue_url(sqs, finding.object_id)
    name = queue_name(url)
    before = encryption(sqs, url)
    if encrypted(before):
        how = f"KMS key {before['KmsMasterKeyId']}" if before["KmsMasterKeyId"] else "SSE-SQS"
        jobkit.info(f"ok: {name} is encrypted at rest ({how})")
        return
    key: str = finding.parameters.get("kms_key_id", "")
    change = {"KmsMasterKeyId": key} if key else {"SqsManagedSseEnabled": "true"}
    jobkit.record(url, KIND, before, {**before, **change})
    if not jobkit.planning():
        sqs.set_queue_attributes(QueueUrl=url, Attributes=change)
    how = f"SSE-KMS with key {key}" if key else "SQS-managed encryption (SSE-SQS)"
    jobkit.change(f"{name}: server-side encryption turned on: {how}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    sqs = jobkit.client("sqs", finding)
    found = jobkit.modes.of_kind(records, KIND)
    url = queue_url(sqs, finding.object_id)
    if any(r["resource"] != url for r in found):
        raise jobkit.RecordError(f"the change records are not about queue {url}")
    first, last = found[0], found[-1]
    now = encryption(sqs, url)
    if now != last["after"]:
        raise jobkit.ChangedSince(
            f"{queue_name(url)}'s encryption changed since the job set it: {now}, not {last['after']}"
        )
    was = first["before"]
    undo = {n: was[n] for n in NAMES if was[n] != last["after"][n]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes=undo)
    jobkit.change(f"{queue_name(url)}: server-side encryption set back to {was} (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
