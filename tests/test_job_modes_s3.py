"""The S3 catalogue's jobs in every mode, on moto with IAM enforced, run as the worker runs them.

For each job (and alias): tests/job_modes.py's `exercise` (verify 3 -> 0, a plan that sends no
mutating request, remediate, a second remediate that changes nothing, rollback, rollback refused
after a person's change), what the job keeps, and a failure that exits 1 with one ERROR line.
Outcomes are read back from moto with the sandbox administrator's keys.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from remedy.services.aws import at_endpoint
from sandbox.aws import AwsSandbox
from tests.job_modes import JOBS_DIR, Case, Run, exercise
from tests.job_process import run_like_the_worker
from tests.test_jobs import ALL_USERS, AUTH_USERS, LOG_DELIVERY, group_grant, payload

BLOCK_NAMES = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
TRAIL_BUCKET_PUBLIC_RULE = "5c8c265d7a550e1fb6560c65"  # aws_s3_cloudtrail_public_access
FULL_ACCESS_RULE = "5c8c26567a550e1fb6560c5d"  # aws_s3_remove_fullaccess_authenticatedusers
HTTPS_RULE = "688d093c-3b8d-11eb-adc1-0242ac120002"  # aws_s3_bucket_policy_allow_https
ENCRYPTION_RULE = "1d187035-9fff-48b2-a7c3-ffc56a4da5e6"  # s3_enable_default_encryption
LOGGING_RULE = "5c8c265e7a550e1fb6560c67"  # s3_enable_access_logging
TRAIL_LOGGING_RULE = "5c8c265c7a550e1fb6560c63"  # s3_enable_access_logging (the trail's bucket)
MISSING_BUCKET = "remedy-no-such-bucket-5e1d"


def new_bucket(s3: Any, prefix: str = "remedy-s3") -> str:
    bucket = f"{prefix}-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    return bucket


def code_of(call: Any, **kwargs: Any) -> str:
    try:
        call(**kwargs)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


def block_of(s3: Any, bucket: str) -> dict[str, Any] | None:
    try:
        found = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
        return None
    return {name: found.get(name) for name in BLOCK_NAMES}


def grants_of(s3: Any, bucket: str) -> list[str]:
    return sorted(json.dumps(g, sort_keys=True) for g in s3.get_bucket_acl(Bucket=bucket)["Grants"])


def add_grants(s3: Any, bucket: str, *grants: dict[str, Any]) -> None:
    acl = s3.get_bucket_acl(Bucket=bucket)
    s3.put_bucket_acl(
        Bucket=bucket,
        AccessControlPolicy={"Owner": acl["Owner"], "Grants": [*acl["Grants"], *grants]},
    )


def policy_of(s3: Any, bucket: str) -> Any:
    try:
        return json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchBucketPolicy"
        return None


# ----------------------------------------------------------------------------------------------
# s3_remove_public_access and its aliases
# ----------------------------------------------------------------------------------------------


def test_s3_remove_public_access_modes_bucket_without_a_block(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    """A bucket that had no public access block has none again after rollback (not all-off)."""
    s3 = aws_sandbox.admin_client("s3")
    bucket = new_bucket(s3)
    add_grants(s3, bucket, group_grant(ALL_USERS, "READ"), group_grant(LOG_DELIVERY, "WRITE"))

    def state() -> Any:
        return (block_of(s3, bucket), grants_of(s3, bucket))

    def tamper() -> None:  # someone turns RestrictPublicBuckets off
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={n: n != "RestrictPublicBuckets" for n in BLOCK_NAMES},
        )

    assert block_of(s3, bucket) is None
    exercise(run, Case("s3_remove_public_access", payload(bucket, "rule-x"), state, tamper))


def test_aws_s3_cloudtrail_public_access_is_the_same_fix(aws_sandbox: AwsSandbox, run: Run) -> None:
    s3 = aws_sandbox.admin_client("s3")
    bucket = new_bucket(s3, "remedy-trail-logs")
    add_grants(s3, bucket, group_grant(AUTH_USERS, "READ"))
    finding = payload(bucket, TRAIL_BUCKET_PUBLIC_RULE)  # no parameters: the alias's apply

    assert run("s3_remove_public_access", finding, "verify").returncode == 3
    fixed = run("s3_remove_public_access", finding)
    assert fixed.returncode == 0, str(fixed)
    assert block_of(s3, bucket) == dict.fromkeys(BLOCK_NAMES, True)
    assert not [g for g in grants_of(s3, bucket) if "global/" in g]
    assert run("s3_remove_public_access", finding, "verify").returncode == 0


def test_aws_s3_remove_fullaccess_authenticatedusers_modes(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    """Only FULL_CONTROL to AuthenticatedUsers / AllUsers goes: nothing is granted back to
    anyone (the open catalogue's job granted AllUsers READ, WRITE and READ_ACP), the other
    public grant and the block (none) stay as they were."""
    s3 = aws_sandbox.admin_client("s3")
    bucket = new_bucket(s3)
    add_grants(
        s3,
        bucket,
        group_grant(AUTH_USERS, "FULL_CONTROL"),
        group_grant(ALL_USERS, "FULL_CONTROL"),
        group_grant(ALL_USERS, "READ"),
    )
    before = grants_of(s3, bucket)
    finding = payload(bucket, FULL_ACCESS_RULE)  # the alias's parameters come with its rule

    def state() -> Any:
        return (block_of(s3, bucket), grants_of(s3, bucket))

    def tamper() -> None:  # someone grants AuthenticatedUsers WRITE
        add_grants(s3, bucket, group_grant(AUTH_USERS, "WRITE"))

    exercise(run, Case("s3_remove_public_access", finding, state, tamper))

    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    add_grants(s3, bucket, group_grant(AUTH_USERS, "FULL_CONTROL"), group_grant(ALL_USERS, "READ"))
    before = grants_of(s3, bucket)
    fixed = run("s3_remove_public_access", finding)
    assert fixed.returncode == 0, str(fixed)
    after = grants_of(s3, bucket)
    assert set(after) < set(before)  # nothing granted, only taken away
    assert [json.loads(g) for g in set(before) - set(after)] == [
        group_grant(AUTH_USERS, "FULL_CONTROL")
    ]
    assert fixed.changes == [
        f"CHANGE: {bucket}: removed ACL grant FULL_CONTROL to AuthenticatedUsers"
    ]
    assert block_of(s3, bucket) is None  # the alias leaves the block alone


# ----------------------------------------------------------------------------------------------
# aws_s3_bucket_policy_allow_https
# ----------------------------------------------------------------------------------------------

OTHER_STATEMENT = {
    "Sid": "ReadersRead",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
    "Action": ["s3:GetObject"],
    "Resource": "arn:aws:s3:::{bucket}/*",
}


def test_aws_s3_bucket_policy_allow_https_modes_keeps_other_statements(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    s3 = aws_sandbox.admin_client("s3")
    bucket = new_bucket(s3)
    other = json.loads(json.dumps(OTHER_STATEMENT).replace("{bucket}", bucket))
    policy = {"Version": "2012-10-17", "Id": "kept", "Statement": [other]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))

    def tamper() -> None:  # someone adds a statement
        changed = policy_of(s3, bucket)
        changed["Statement"].append({**other, "Sid": "More"})
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(changed))

    finding = payload(bucket, HTTPS_RULE)
    exercise(
        run,
        Case("aws_s3_bucket_policy_allow_https", finding, lambda: policy_of(s3, bucket), tamper),
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    fixed = run("aws_s3_bucket_policy_allow_https", finding)
    assert fixed.returncode == 0, str(fixed)
    after = policy_of(s3, bucket)
    assert after["Id"] == "kept" and after["Version"] == "2012-10-17"
    assert after["Statement"][0] == other  # kept as it was, first
    assert after["Statement"][1] == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_aws_s3_bucket_policy_allow_https_modes_without_a_policy(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    """A bucket with no policy gets one; rollback deletes it (nothing to restore)."""
    s3 = aws_sandbox.admin_client("s3")
    bucket = new_bucket(s3)

    def tamper() -> None:  # someone deletes the policy
        s3.delete_bucket_policy(Bucket=bucket)

    exercise(
        run,
        Case(
            "aws_s3_bucket_policy_allow_https",
            payload(bucket, HTTPS_RULE),
            lambda: policy_of(s3, bucket),
            tamper,
        ),
    )
    assert policy_of(s3, bucket) is None


def test_aws_s3_bucket_policy_allow_https_picks_a_free_sid(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    s3 = aws_sandbox.admin_client("s3")
    bucket = new_bucket(s3)
    taken = {
        **OTHER_STATEMENT,
        "Sid": "DenyInsecureTransport",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [taken]})
    )
    fixed = run("aws_s3_bucket_policy_allow_https", payload(bucket, HTTPS_RULE))
    assert fixed.returncode == 0, str(fixed)
    sids = [s["Sid"] for s in policy_of(s3, bucket)["Statement"]]
    assert sids == ["DenyInsecureTransport", "DenyInsecureTransportX"]


# ----------------------------------------------------------------------------------------------
# s3_enable_default_encryption
# ----------------------------------------------------------------------------------------------


def encryption_of(s3: Any, bucket: str) -> Any:
    try:
        return s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ServerSideEncryptionConfigurationNotFoundError"
        return None


def test_s3_enable_default_encryption_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    s3 = aws_sandbox.admin_client("s3")
    bucket = new_bucket(s3)  # moto makes buckets without default encryption (AWS: SSE-S3)

    def tamper() -> None:  # someone switches to SSE-KMS
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
            },
        )

    finding = payload(bucket, ENCRYPTION_RULE)
    exercise(
        run,
        Case("s3_enable_default_encryption", finding, lambda: encryption_of(s3, bucket), tamper),
    )


def test_s3_enable_default_encryption_with_a_kms_key(aws_sandbox: AwsSandbox, run: Run) -> None:
    s3 = aws_sandbox.admin_client("s3")
    bucket = new_bucket(s3)
    key = aws_sandbox.admin_client("kms").create_key()["KeyMetadata"]["Arn"]
    finding = payload(bucket, ENCRYPTION_RULE, kms_key_id=key)
    fixed = run("s3_enable_default_encryption", finding)
    assert fixed.returncode == 0, str(fixed)
    assert fixed.changes == [
        f"CHANGE: {bucket}: default encryption turned on, SSE-KMS with key {key}"
    ]
    assert encryption_of(s3, bucket)["Rules"] == [
        {
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": key,
            },
            "BucketKeyEnabled": True,
        }
    ]


def test_s3_enable_default_encryption_keeps_an_existing_default(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    """Already encrypted (here with SSE-KMS and no Bucket Key): no change, whatever the job's
    own parameters say."""
    s3 = aws_sandbox.admin_client("s3")
    bucket = new_bucket(s3)
    rules = [
        {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"},
            "BucketKeyEnabled": False,
        }
    ]
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
    done = run("s3_enable_default_encryption", payload(bucket, ENCRYPTION_RULE))
    assert done.returncode == 0, str(done)
    assert done.changes == [] and done.records == [] and done.mutating == []
    assert encryption_of(s3, bucket)["Rules"] == rules


# ----------------------------------------------------------------------------------------------
# s3_account_block_public_access (account level: S3 Control)
# ----------------------------------------------------------------------------------------------


def account_block_of(control: Any, account: str) -> Any:
    try:
        found = control.get_public_access_block(AccountId=account)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
        return None
    return found["PublicAccessBlockConfiguration"]


@pytest.mark.parametrize("had", [None, {"BlockPublicAcls": True, "RestrictPublicBuckets": False}])
def test_s3_account_block_public_access_modes(
    aws_sandbox: AwsSandbox, run: Run, had: dict[str, bool] | None
) -> None:
    """Keeps a setting already on; rollback puts the old settings back, or deletes the block
    when the account had none. (The sandbox has one account: these tests share it.)"""
    control = at_endpoint(aws_sandbox.admin_client("s3control"))
    account = aws_sandbox.account_id
    if had is None:
        if account_block_of(control, account) is not None:
            control.delete_public_access_block(AccountId=account)
    else:
        control.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration=had)

    def tamper() -> None:  # someone turns IgnorePublicAcls off
        control.put_public_access_block(
            AccountId=account,
            PublicAccessBlockConfiguration={n: n != "IgnorePublicAcls" for n in BLOCK_NAMES},
        )

    finding = payload(account, "rule-x")
    try:
        exercise(
            run,
            Case(
                "s3_account_block_public_access",
                finding,
                lambda: account_block_of(control, account),
                tamper,
            ),
        )
    finally:
        control.delete_public_access_block(AccountId=account)


# ----------------------------------------------------------------------------------------------
# s3_enable_access_logging
# ----------------------------------------------------------------------------------------------


def logging_of(s3: Any, bucket: str) -> Any:
    return s3.get_bucket_logging(Bucket=bucket).get("LoggingEnabled")


def exists(s3: Any, bucket: str) -> bool:
    return code_of(s3.head_bucket, Bucket=bucket) == "ok"


def test_s3_enable_access_logging_modes_existing_target(aws_sandbox: AwsSandbox, run: Run) -> None:
    """The target's policy keeps its statement and gets the logging service's beside it."""
    s3 = aws_sandbox.admin_client("s3")
    bucket, target = new_bucket(s3), new_bucket(s3, "remedy-logs")
    kept = {
        "Sid": "AuditorsRead",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{aws_sandbox.account_id}:root"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{target}/*",
    }
    s3.put_bucket_policy(
        Bucket=target, Policy=json.dumps({"Version": "2012-10-17", "Statement": [kept]})
    )

    def state() -> Any:
        return (logging_of(s3, bucket), policy_of(s3, target))

    def tamper() -> None:  # someone points the logs elsewhere
        s3.put_bucket_logging(
            Bucket=bucket,
            BucketLoggingStatus={
                "LoggingEnabled": {"TargetBucket": target, "TargetPrefix": f"{bucket}/x/"}
            },
        )

    finding = payload(bucket, LOGGING_RULE, target_bucket=target)
    exercise(run, Case("s3_enable_access_logging", finding, state, tamper))
    assert logging_of(s3, bucket) == {"TargetBucket": target, "TargetPrefix": f"{bucket}/x/"}
    statements = policy_of(s3, target)["Statement"]
    assert statements[0] == kept
    assert statements[1] == {
        "Sid": "S3ServerAccessLogsPolicy",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{target}/{bucket}/*",
        "Condition": {
            "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
            "StringEquals": {"aws:SourceAccount": aws_sandbox.account_id},
        },
    }


def test_s3_enable_access_logging_modes_creating_the_target(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    """The CloudTrail.7 rule on a trail's bucket: the log bucket is created private and
    encrypted; rollback deletes it again."""
    s3 = aws_sandbox.admin_client("s3")
    bucket = new_bucket(s3, "remedy-trail")
    target = f"remedy-new-logs-{uuid.uuid4().hex[:8]}"
    finding = payload(
        bucket,
        TRAIL_LOGGING_RULE,
        target_bucket=target,
        target_prefix="s3/{bucket}/",
        create_target=True,
    )

    def state() -> Any:
        return (logging_of(s3, bucket), policy_of(s3, target) if exists(s3, target) else None)

    def tamper() -> None:  # someone replaces the log bucket's policy
        s3.delete_bucket_policy(Bucket=target)

    exercise(run, Case("s3_enable_access_logging", finding, state, tamper))
    # moto delivers access logs as AWS does: the bucket the first fix created holds them, and
    # rollback kept it (deleting audit logs is not a rollback's call)
    assert s3.list_objects_v2(Bucket=target, Prefix=f"s3/{bucket}/")["KeyCount"] > 0
    assert block_of(s3, target) == dict.fromkeys(BLOCK_NAMES, True)
    assert encryption_of(s3, target)["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    ownership = s3.get_bucket_ownership_controls(Bucket=target)["OwnershipControls"]
    assert ownership["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert logging_of(s3, bucket) == {"TargetBucket": target, "TargetPrefix": f"s3/{bucket}/"}


def test_s3_enable_access_logging_keeps_a_target_that_allows_it(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    """A target whose ACL lets the LogDelivery group write needs no policy change."""
    s3 = aws_sandbox.admin_client("s3")
    bucket, target = new_bucket(s3), new_bucket(s3, "remedy-logs")
    add_grants(
        s3, target, group_grant(LOG_DELIVERY, "WRITE"), group_grant(LOG_DELIVERY, "READ_ACP")
    )
    done = run("s3_enable_access_logging", payload(bucket, LOGGING_RULE, target_bucket=target))
    assert done.returncode == 0, str(done)
    assert done.changes == [
        f"CHANGE: {bucket}: server access logging turned on, to s3://{target}/{bucket}/"
    ]
    assert policy_of(s3, target) is None


def test_s3_enable_access_logging_says_what_is_missing(aws_sandbox: AwsSandbox, run: Run) -> None:
    s3 = aws_sandbox.admin_client("s3")
    bucket, target = new_bucket(s3), new_bucket(s3, "remedy-logs")
    missing = f"remedy-absent-logs-{uuid.uuid4().hex[:8]}"

    absent = run("s3_enable_access_logging", payload(bucket, LOGGING_RULE, target_bucket=missing))
    assert absent.returncode == 1, str(absent)
    assert len(absent.errors) == 1 and f"log bucket {missing} does not exist" in absent.errors[0]
    assert "create_target" in absent.errors[0]
    assert absent.mutating == [] and not exists(s3, missing)

    closed = run(
        "s3_enable_access_logging",
        payload(bucket, LOGGING_RULE, target_bucket=target, grant_log_delivery=False),
    )
    assert closed.returncode == 1, str(closed)
    assert len(closed.errors) == 1 and "logging.s3.amazonaws.com" in closed.errors[0]
    assert closed.mutating == [] and logging_of(s3, bucket) is None

    itself = run("s3_enable_access_logging", payload(bucket, LOGGING_RULE, target_bucket=bucket))
    assert itself.returncode == 2 and len(itself.errors) == 1, str(itself)
    assert "remediationParameters.target_bucket" in itself.errors[0]


# ----------------------------------------------------------------------------------------------
# Every job: a bucket that does not exist fails with one ERROR line (exit 1)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "rule"),
    [
        ("s3_remove_public_access", FULL_ACCESS_RULE),
        ("aws_s3_bucket_policy_allow_https", HTTPS_RULE),
        ("s3_enable_default_encryption", ENCRYPTION_RULE),
        ("s3_enable_access_logging", LOGGING_RULE),
    ],
)
def test_a_bucket_that_does_not_exist_exits_1(run: Run, job: str, rule: str) -> None:
    done = run(job, payload(MISSING_BUCKET, rule))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "NoSuchBucket" in done.errors[0], str(done)
    assert done.mutating == []


def test_s3_account_block_public_access_without_the_permission_exits_1(
    aws_sandbox: AwsSandbox, tmp_path: Path
) -> None:
    """The worker's own identity may only assume the role: S3 Control answers AccessDenied,
    which names the account-level action (the sandbox checks S3's names)."""
    done = run_like_the_worker(
        JOBS_DIR / "s3_account_block_public_access",
        tmp_path / "job",
        payload(aws_sandbox.account_id, "rule-x"),
        aws_sandbox.worker_env(),
    )
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("ERROR: ")]
    assert done.returncode == 1, done.stderr
    assert len(errors) == 1 and "AccessDenied" in errors[0]
    assert "s3:GetAccountPublicAccessBlock" in errors[0]
