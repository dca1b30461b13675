"""Turn on an S3 bucket's default encryption when it has none: SSE-S3, or SSE-KMS with a key.

ObjectId: the bucket name. A bucket whose encryption configuration already has a default
(SSE-S3, SSE-KMS or DSSE-KMS, whatever the key) is left as it is. Otherwise the job sets one rule:
AES256 (SSE-S3), or aws:kms with the parameter `kms_key_id`; an S3 Bucket Key setting the bucket
already had is kept, else `bucket_key_enabled` applies (SSE-KMS only).

Plan prints the same CHANGE line after reading only. Before the change one record (kind
`s3-default-encryption`) keeps the configuration as it was (null: none) and as the job set it.
Rollback refuses while the configuration differs from the job's; else it puts the old one back,
or deletes the one the job set (on AWS a bucket then falls back to SSE-S3, which every bucket has
had by default since January 2023).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import ServerSideEncryptionRuleTypeDef

KIND = "s3-default-encryption"


def encryption(s3: S3Client, bucket: str) -> list[dict[str, Any]] | None:
    """The bucket's encryption rules; None when it has no encryption configuration."""
    try:
        found = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != (
            "ServerSideEncryptionConfigurationNotFoundError"
        ):
            raise
        return None
    return [dict(rule) for rule in found.get("Rules", [])]


def default_algorithm(rules: list[dict[str, Any]] | None) -> str | None:
    """The default encryption's algorithm (AES256, aws:kms, aws:kms:dsse), None when none."""
    for rule in rules or []:
        algorithm = rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
        if algorithm:
            return str(algorithm)
    return None


def wanted_rule(
    parameters: Any, rules: list[dict[str, Any]] | None
) -> ServerSideEncryptionRuleTypeDef:
    key = str(parameters.get("kms_key_id") or "")
    rule: ServerSideEncryptionRuleTypeDef = {
        "ApplyServerSideEncryptionByDefault": (
            {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
            if key
            else {"SSEAlgorithm": "AES256"}
        )
    }
    kept = next((r["BucketKeyEnabled"] for r in rules or [] if "BucketKeyEnabled" in r), None)
    if kept is not None:
        rule["BucketKeyEnabled"] = bool(kept)
    elif key:
        rule["BucketKeyEnabled"] = bool(parameters.get("bucket_key_enabled", True))
    return rule


def remediate(finding: jobkit.Finding) -> None:
    s3 = jobkit.s3_client(finding)
    bucket = finding.object_id
    rules = encryption(s3, bucket)
    algorithm = default_algorithm(rules)
    if algorithm:
        jobkit.info(f"ok: {bucket} already encrypts new objects by default ({algorithm})")
        return
    rule = wanted_rule(finding.parameters, rules)
    jobkit.record(bucket, KIND, rules, [rule])
    if not jobkit.planning():
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})
    default = rule["ApplyServerSideEncryptionByDefault"]
    how = (
        f"SSE-KMS with key {default['KMSMasterKeyID']}"
        if "KMSMasterKeyID" in default
        else "SSE-S3 (AES256)"
    )
    jobkit.change(f"{bucket}: default encryption turned on, {how}")


def _comparable(rules: Any) -> Any:
    """Rules as S3 gives them back (it fills in BucketKeyEnabled false)."""
    if rules is None:
        return None
    return sorted(
        (str(r.get("ApplyServerSideEncryptionByDefault")), bool(r.get("BucketKeyEnabled")))
        for r in rules
    )


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    s3 = jobkit.s3_client(finding)
    bucket = finding.object_id
    found = jobkit.modes.of_kind(records, KIND)
    if any(r["resource"] != bucket for r in found):
        raise jobkit.RecordError(f"the change records are not about bucket {bucket}")
    record = found[0]  # the job makes one change per run
    now = encryption(s3, bucket)
    if _comparable(now) != _comparable(record["after"]):
        raise jobkit.ChangedSince(
            f"{bucket}'s default encryption changed since the job set it: it is now {now}"
        )
    if record["before"] is None:
        s3.delete_bucket_encryption(Bucket=bucket)
        jobkit.change(f"{bucket}: default encryption configuration deleted, as before (rollback)")
    else:
        s3.put_bucket_encryption(
            Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": record["before"]}
        )
        jobkit.change(f"{bucket}: encryption configuration restored as it was (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
