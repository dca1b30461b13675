"""Turn on server access logging of an S3 bucket, to a log bucket the logging service may write.

ObjectId: the bucket name. A bucket that logs already (to any target) is left as it is.
Otherwise, with the parameters (`{account_id}`, `{region}` and `{bucket}` in them are filled in):

1. the target bucket `target_bucket` must exist in the bucket's account and region; when it does
   not, the job says so and exits 1, or with `create_target` creates it private (all four public
   access block settings on, ACLs disabled: BucketOwnerEnforced) and encrypted (SSE-S3, the one
   server access logs can be delivered to);
2. the target must let the logging service write (S3 refuses PutBucketLogging otherwise): a
   bucket policy allowing `logging.s3.amazonaws.com` s3:PutObject under the prefix, or the
   LogDelivery group's WRITE and READ_ACP grants. When neither is there the job adds to the
   target's bucket policy, merged (every other statement kept), the statement AWS documents,
   limited to this bucket and account (aws:SourceArn, aws:SourceAccount); with
   `grant_log_delivery` false it says what is missing and exits 1 instead;
3. logging is turned on: TargetBucket `target_bucket`, TargetPrefix `target_prefix`.

Plan prints the same CHANGE lines after reading only. Records, one per change: the target it
created (kind `s3-log-bucket`), the target's policy before and after (kind `s3-log-bucket-policy`),
the logging before and after (kind `s3-access-logging`). Rollback checks all of them first, then
turns logging off, restores the target's policy (or deletes the one it created) and deletes the
target it created while it is empty (logs delivered meanwhile are audit data: that bucket is
kept), refusing if the logging or the policy changed since.
"""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

LOGGING_KIND, POLICY_KIND, BUCKET_KIND = (
    "s3-access-logging",
    "s3-log-bucket-policy",
    "s3-log-bucket",
)
LOGGING_SERVICE = "logging.s3.amazonaws.com"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
SID = "S3ServerAccessLogsPolicy"


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def logging_of(s3: S3Client, bucket: str) -> dict[str, Any]:
    """The bucket's LoggingEnabled; {} when it does not log."""
    return dict(s3.get_bucket_logging(Bucket=bucket).get("LoggingEnabled") or {})


def fill(finding: jobkit.Finding, name: str) -> str:
    template = str(finding.parameters[name])
    values = {
        "account_id": finding.account_id,
        "region": finding.region,
        "bucket": finding.object_id,
    }
    try:
        return template.format_map(values)
    except (KeyError, ValueError, IndexError) as exc:
        raise jobkit.BadInput(
            f"remediationParameters.{name} {template!r}: only {{account_id}}, {{region}} and "
            f"{{bucket}} can be filled in ({exc})"
        ) from None


def exists(s3: S3Client, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    return True


def bucket_policy(s3: S3Client, bucket: str) -> str | None:
    try:
        return s3.get_bucket_policy(Bucket=bucket)["Policy"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchBucketPolicy":
            raise
        return None


def policy_allows(text: str | None, target: str, prefix: str) -> bool:
    """An Allow to the logging service of s3:PutObject on a Resource covering the prefix."""
    from fnmatch import fnmatchcase

    document = json.loads(text) if text else {}
    key = f"arn:aws:s3:::{target}/{prefix}access-log"
    for statement in _listed(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        services = _listed(principal.get("Service")) if isinstance(principal, dict) else []
        if LOGGING_SERVICE not in services:
            continue
        if not {"s3:PutObject", "s3:*", "*"} & set(_listed(statement.get("Action"))):
            continue
        if any(fnmatchcase(key, str(r)) for r in _listed(statement.get("Resource"))):
            return True
    return False


def acl_allows(s3: S3Client, target: str) -> bool:
    """The LogDelivery group may WRITE and READ_ACP (ACL-based delivery)."""
    granted = {
        g.get("Permission")
        for g in s3.get_bucket_acl(Bucket=target).get("Grants", [])
        if g.get("Grantee", {}).get("URI") == LOG_DELIVERY
    }
    return "FULL_CONTROL" in granted or {"WRITE", "READ_ACP"} <= granted


def delivery_statement(bucket: str, target: str, prefix: str, account: str, taken: set[str]) -> Any:
    sid = SID
    while sid in taken:
        sid += "X"
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": LOGGING_SERVICE},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{target}/{prefix}*",
        "Condition": {
            "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
            "StringEquals": {"aws:SourceAccount": account},
        },
    }


def fail(message: str) -> None:
    """The job cannot fix it: one ERROR line, exit 1."""
    jobkit.error(message)
    sys.exit(jobkit.EXIT_FAILED)


def create_target(s3: S3Client, target: str, region: str) -> None:
    jobkit.record(target, BUCKET_KIND, None, target)
    if not jobkit.planning():
        if region == "us-east-1":
            s3.create_bucket(Bucket=target)
        else:
            s3.create_bucket(
                Bucket=target,
                CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
            )
        s3.put_bucket_ownership_controls(
            Bucket=target,
            OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        )
        s3.put_public_access_block(
            Bucket=target,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=target,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
    jobkit.change(f"{target}: log bucket created (public access blocked, ACLs disabled, SSE-S3)")


def let_logging_write(
    s3: S3Client, finding: jobkit.Finding, target: str, prefix: str, created: bool
) -> None:
    bucket = finding.object_id
    before = None if created else bucket_policy(s3, target)
    if policy_allows(before, target, prefix) or (not created and acl_allows(s3, target)):
        jobkit.info(f"ok: {target} lets the logging service write under {prefix!r}")
        return
    if not finding.parameters.get("grant_log_delivery", True):
        fail(
            f"log bucket {target} does not let the logging service write: its bucket policy "
            f"needs an Allow of s3:PutObject on arn:aws:s3:::{target}/{prefix}* to "
            f"{LOGGING_SERVICE} (or the LogDelivery group WRITE and READ_ACP in its ACL); "
            "add it, or run with grant_log_delivery true"
        )
    document = json.loads(before) if before else {"Version": "2012-10-17", "Statement": []}
    found = _listed(document.get("Statement"))
    taken = {str(s.get("Sid")) for s in found if isinstance(s, dict) and "Sid" in s}
    added = delivery_statement(bucket, target, prefix, finding.account_id, taken)
    document["Statement"] = [*found, added]
    after = json.dumps(document)
    jobkit.record(target, POLICY_KIND, before, after)
    if not jobkit.planning():
        s3.put_bucket_policy(Bucket=target, Policy=after)
    jobkit.change(
        f"{target}: bucket policy statement {added['Sid']} lets {LOGGING_SERVICE} write "
        f"{bucket}'s logs under {prefix!r}"
    )


def remediate(finding: jobkit.Finding) -> None:
    s3 = jobkit.s3_client(finding)
    bucket = finding.object_id
    current = logging_of(s3, bucket)
    if current:
        jobkit.info(f"ok: {bucket} already logs to {current.get('TargetBucket')}")
        return
    target, prefix = fill(finding, "target_bucket"), fill(finding, "target_prefix")
    if not BUCKET_NAME.match(target):
        raise jobkit.BadInput(f"remediationParameters.target_bucket {target!r} is no bucket name")
    if target == bucket:
        raise jobkit.BadInput(
            f"remediationParameters.target_bucket names {bucket} itself: a bucket logging into "
            "itself logs its own log deliveries; name another bucket"
        )
    created = False
    if not exists(s3, target):
        if not finding.parameters.get("create_target", False):
            fail(
                f"log bucket {target} does not exist: create it in account {finding.account_id}, "
                f"region {finding.region} (private, SSE-S3), or run with create_target true"
            )
        create_target(s3, target, finding.region)
        created = True
    let_logging_write(s3, finding, target, prefix, created)
    wanted = {"TargetBucket": target, "TargetPrefix": prefix}
    jobkit.record(bucket, LOGGING_KIND, current, wanted)
    if not jobkit.planning():
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": wanted})
    jobkit.change(f"{bucket}: server access logging turned on, to s3://{target}/{prefix}")


def _same_policy(text: str | None, other: str | None) -> bool:
    return (text is None) == (other is None) and (
        text is None or json.loads(text) == json.loads(str(other))
    )


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    s3 = jobkit.s3_client(finding)
    found = jobkit.modes.of_kind(records, LOGGING_KIND, POLICY_KIND, BUCKET_KIND)
    logging = [r for r in found if r["kind"] == LOGGING_KIND]
    policies = [r for r in found if r["kind"] == POLICY_KIND]
    buckets = [r for r in found if r["kind"] == BUCKET_KIND]
    if any(r["resource"] != finding.object_id for r in logging):
        raise jobkit.RecordError(f"the change records are not about bucket {finding.object_id}")
    changed = []  # check everything before touching anything
    for r in logging:
        now = logging_of(s3, r["resource"])
        if {k: now.get(k) for k in ("TargetBucket", "TargetPrefix")} != r["after"]:
            changed.append(f"{r['resource']} logs to {now or 'nowhere'} now")
    for r in policies:
        if not _same_policy(bucket_policy(s3, r["resource"]), r["after"]):
            changed.append(f"{r['resource']}'s bucket policy changed")
    if changed:
        raise jobkit.ChangedSince(f"changed since the job ran: {'; '.join(changed)}")
    for r in logging:
        status: Any = {"LoggingEnabled": r["before"]} if r["before"] else {}
        s3.put_bucket_logging(Bucket=r["resource"], BucketLoggingStatus=status)
        jobkit.change(f"{r['resource']}: server access logging turned off, as before (rollback)")
    for r in policies:
        if r["before"] is None:
            s3.delete_bucket_policy(Bucket=r["resource"])
            jobkit.change(f"{r['resource']}: bucket policy deleted, as before (rollback)")
        else:
            s3.put_bucket_policy(Bucket=r["resource"], Policy=r["before"])
            jobkit.change(f"{r['resource']}: bucket policy restored as it was (rollback)")
    for r in buckets:  # deleted when empty; logs that arrived are kept (audit data)
        if not exists(s3, r["resource"]):
            continue
        if s3.list_objects_v2(Bucket=r["resource"], MaxKeys=1).get("KeyCount"):
            jobkit.info(f"kept: log bucket {r['resource']} holds the logs delivered meanwhile")
            continue
        s3.delete_bucket(Bucket=r["resource"])
        jobkit.change(f"{r['resource']}: log bucket the job created deleted (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
