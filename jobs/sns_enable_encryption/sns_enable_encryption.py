"""Encrypt an SNS topic at rest with a KMS key (Security Hub SNS.1).

ObjectId: the topic's ARN (or its name, in the finding's account and region). A topic without a
KmsMasterKeyId gets the `kms_key_id` parameter (default `alias/aws/sns`, SNS's AWS-managed key);
a topic with one keeps it. Only that attribute is set.

Plan prints the same CHANGE line after reading only. The record (kind `sns-topic-kms-key`) keeps
the key as it was (none) and as the job set it; rollback sets an empty key again (which turns
SNS encryption off), once the topic still has the key the job set.
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit

KIND = "sns-topic-kms-key"


def topic_arn(finding: jobkit.Finding) -> str:
    if finding.object_id.startswith("arn:"):
        return finding.object_id
    return f"arn:aws:sns:{finding.region}:{finding.account_id}:{finding.object_id}"


def topic_key(sns: Any, arn: str) -> str:
    """The topic's KmsMasterKeyId, '' when it has none."""
    key: str = sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("KmsMasterKeyId") or ""
    return key


def remediate(finding: jobkit.Finding) -> None:
    sns = jobkit.client("sns", finding)
    arn = topic_arn(finding)
    name = arn.rsplit(":", 1)[-1]
    before = topic_key(sns, arn)
    if before:
        jobkit.info(f"ok: {name} is encrypted with KMS key {before}")
        return
    key: str = finding.parameters["kms_key_id"]
    jobkit.record(arn, KIND, before, key)
    if not jobkit.planning():
        sns.set_topic_attributes(TopicArn=arn, AttributeName="KmsMasterKeyId", AttributeValue=key)
    jobkit.change(f"{name}: encryption at rest turned on with KMS key {key}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    sns = jobkit.client("sns", finding)
    found = jobkit.modes.of_kind(records, KIND)
    arn = topic_arn(finding)
    if any(r["resource"] != arn for r in found):
        raise jobkit.RecordError(f"the change records are not about topic {arn}")
    first, last = found[0], found[-1]
    now = topic_key(sns, arn)
    if now != last["after"]:
        raise jobkit.ChangedSince(
            f"{arn}'s KMS key changed since the job set it: {now or 'none'}, not {last['after']}"
        )
    sns.set_topic_attributes(
        TopicArn=arn, AttributeName="KmsMasterKeyId", AttributeValue=first["before"]
    )
    jobkit.change(f"{arn.rsplit(':', 1)[-1]}: KMS key {now} removed again (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
