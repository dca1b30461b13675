"""Make an S3 bucket refuse requests without TLS: one Deny statement in its bucket policy.

ObjectId: the bucket name. When no statement of the bucket policy already denies every principal
all S3 actions on the bucket and its objects while `aws:SecureTransport` is false, the job adds
one (the statement AWS's Security Hub S3.5 remediation shows), merged into the policy: every other
statement, the Version and the Id are kept as they are. A bucket without a policy gets one
holding only that statement.

Plan prints the same CHANGE line after reading only. Before the change one record (kind
`s3-bucket-policy`) keeps the policy text as it was (null: there was none) and as the job left
it. Rollback refuses while the policy differs from the job's; else it puts the old text back
exactly, or deletes the policy the job created.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

KIND = "s3-bucket-policy"
SID = "DenyInsecureTransport"


def bucket_policy(s3: S3Client, bucket: str) -> str | None:
    """The bucket policy's text; None when the bucket has none."""
    try:
        return s3.get_bucket_policy(Bucket=bucket)["Policy"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchBucketPolicy":
            raise
        return None


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def statements(document: Any) -> list[Any]:
    return _listed(document.get("Statement")) if isinstance(document, dict) else []


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _listed(principal.get("AWS"))


def _insecure(condition: Any) -> bool:
    """A `Bool` condition on aws:SecureTransport being false (key case-insensitive)."""
    tests = condition.get("Bool", {}) if isinstance(condition, dict) else {}
    if not isinstance(tests, dict) or len(condition) != 1 or len(tests) != 1:
        return False  # another condition narrows the deny
    ((key, value),) = tests.items()
    return key.lower() == "aws:securetransport" and [str(v).lower() for v in _listed(value)] == [
        "false"
    ]


def denies_insecure_transport(statement: Any, bucket: str) -> bool:
    """Whether the statement denies everyone every S3 action on the bucket and its objects
    over plain HTTP."""
    if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
        return False
    if not _everyone(statement.get("Principal")):
        return False
    if not {"s3:*", "*"} & set(_listed(statement.get("Action"))):
        return False
    resources = set(_listed(statement.get("Resource")))
    whole = {"*", "arn:aws:s3:::*"} & resources
    if not whole and not {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"} <= resources:
        return False
    return _insecure(statement.get("Condition"))


def requires_tls(text: str | None, bucket: str) -> bool:
    document = json.loads(text) if text else {}
    return any(denies_insecure_transport(s, bucket) for s in statements(document))


def deny_statement(bucket: str, taken: set[str]) -> dict[str, Any]:
    sid = SID
    while sid in taken:  # Sids are unique within a policy
        sid += "X"
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def remediate(finding: jobkit.Finding) -> None:
    s3 = jobkit.s3_client(finding)
    bucket = finding.object_id
    before = bucket_policy(s3, bucket)
    if requires_tls(before, bucket):
        jobkit.info(f"ok: {bucket}'s bucket policy already denies requests without TLS")
        return
    document = json.loads(before) if before else {"Version": "2012-10-17", "Statement": []}
    found = statements(document)
    taken = {str(s.get("Sid")) for s in found if isinstance(s, dict) and "Sid" in s}
    added = deny_statement(bucket, taken)
    document["Statement"] = [*found, added]
    after = json.dumps(document)
    jobkit.record(bucket, KIND, before, after)
    if not jobkit.planning():
        s3.put_bucket_policy(Bucket=bucket, Policy=after)
    kept = f", keeping its {len(found)} other statement(s)" if before else " (it had no policy)"
    jobkit.change(
        f"{bucket}: bucket policy statement {added['Sid']} denies requests without TLS{kept}"
    )


def _same(text: str | None, other: str | None) -> bool:
    """Policies compared as documents: S3 may give the text back reformatted."""
    return (text is None) == (other is None) and (
        text is None or json.loads(text) == json.loads(str(other))
    )


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    s3 = jobkit.s3_client(finding)
    bucket = finding.object_id
    found = jobkit.modes.of_kind(records, KIND)
    if any(r["resource"] != bucket for r in found):
        raise jobkit.RecordError(f"the change records are not about bucket {bucket}")
    record = found[0]  # the job makes one change per run
    if not _same(bucket_policy(s3, bucket), record["after"]):
        raise jobkit.ChangedSince(
            f"{bucket}'s bucket policy changed since the job added its statement"
        )
    if record["before"] is None:
        s3.delete_bucket_policy(Bucket=bucket)
        jobkit.change(f"{bucket}: bucket policy deleted, as before the job (rollback)")
    else:
        s3.put_bucket_policy(Bucket=bucket, Policy=record["before"])
        jobkit.change(f"{bucket}: bucket policy restored as it was (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
