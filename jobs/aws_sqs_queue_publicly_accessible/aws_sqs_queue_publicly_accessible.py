"""Make an SQS queue's policy stop granting access to everyone.

ObjectId: the queue's URL, ARN or name. The queue policy loses each statement that Allows the `*`
principal with no condition limiting the caller (remedy/jobkit/public_statements.py says which
conditions limit); a public statement that names other principals too loses only `*`. Every
other statement, and the policy's Version and Id, are kept. The Policy
attribute is removed only when no statement is left (SQS refuses a policy without statements).

Plan prints the same CHANGE lines after reading only. The record (kind `sqs-queue-policy`) keeps
the policy text as it was and as the job left it; rollback puts the exact old text back, once the
policy is still as the job left it.
"""

from __future__ import annotations

import json
from typing import Any

from remedy import jobkit
from remedy.jobkit.public_statements import (
    describe,
    is_public,
    statements,
    without_everyone,
)
from remedy.jobkit.sqs_queues import queue_name, queue_url

KIND = "sqs-queue-policy"


def queue_policy(sqs: Any, url: str) -> str | None:
    """The queue policy's text, or None when the queue has none."""
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
    text: str | None = found.get("Attributes", {}).get("Policy") or None
    return text


def parsed(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    document = json.loads(text)
    if not isinstance(document, dict):
        raise jobkit.BadInput(f"the queue policy is not a JSON object: {text[:200]}")
    return document


def public_statements(text: str | None) -> list[dict[str, Any]]:
    document = parsed(text)
    return [s for s in statements(document) if is_public(s)] if document else []


def remediate(finding: jobkit.Finding) -> None:
    sqs = jobkit.client("sqs", finding)
    url = queue_url(sqs, finding.object_id)
    name = queue_name(url)
    text = queue_policy(sqs, url)
    document = parsed(text)
    public = public_statements(text)
    if document is None or not public:
        jobkit.info(f"ok: {name}'s queue policy grants nothing to everyone")
        return
    kept: list[dict[str, Any]] = []
    changes: list[str] = []
    for statement in statements(document):
        if not is_public(statement):
            kept.append(statement)
        elif (narrowed := without_everyone(statement)) is not None:
            kept.append(narrowed)  # it names other principals too: only `*` goes
            changes.append(f"{name}: removed * from the principals of {describe(statement)}")
        else:
            changes.append(f"{name}: removed {describe(statement)} from the queue policy")
    after = json.dumps({**document, "Statement": kept}) if kept else None
    jobkit.record(url, KIND, text, after)
    if not jobkit.planning():
        # An empty Policy removes the attribute (SQS refuses a policy without statements).
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": after or ""})
    for line in changes:
        jobkit.change(line)
    if after is None:
        jobkit.change(f"{name}: the queue policy had nothing else and was removed")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    sqs = jobkit.client("sqs", finding)
    found = jobkit.modes.of_kind(records, KIND)
    url = queue_url(sqs, finding.object_id)
    if any(r["resource"] != url for r in found):
        raise jobkit.RecordError(f"the change records are not about queue {url}")
    first, last = found[0], found[-1]  # a record per run: the first has the original policy
    now = queue_policy(sqs, url)
    if parsed(now) != parsed(last["after"]):
        raise jobkit.ChangedSince(
            f"{queue_name(url)}'s queue policy changed since the job edited it: it is now "
            f"{now or 'absent'}"
        )
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": first["before"] or ""})
    for statement in public_statements(first["before"]):
        jobkit.change(f"{queue_name(url)}: {describe(statement)} restored (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
