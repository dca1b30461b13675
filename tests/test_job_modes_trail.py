"""The CloudTrail and KMS jobs in every mode, on moto (with sandbox/trail_strict.py), run as the
worker runs them: `exercise` (tests/job_modes.py) proves verify 3 -> 0, a plan without mutating
requests, remediate with records, an idempotent second run, rollback, and a refused rollback after
tampering. Each job also keeps what is not its business and fails with exit 1 and one ERROR line.

Trails are account-wide: every test deletes the trails it made (fixture `trails`), so the
account-level job sees only its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.aws import AwsSandbox
from tests.job_modes import Case, Run, exercise
from tests.test_jobs import ACCOUNT, REGION, payload

OTHER_REGION = "eu-west-1"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def cloudtrail_bucket(sandbox: AwsSandbox, prefix: str = "*") -> str:
    """A bucket whose policy lets CloudTrail deliver to it, under `prefix` (any by default; the
    sandbox refuses a trail on any other bucket, as AWS does)."""
    s3 = sandbox.admin_client("s3")
    bucket = unique("trail-logs")
    s3.create_bucket(Bucket=bucket)
    logs = f"{prefix}AWSLogs" if prefix == "*" else f"{prefix}/AWSLogs" if prefix else "AWSLogs"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSCloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": f"arn:aws:s3:::{bucket}",
            },
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/{logs}/{ACCOUNT}/*",
                "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
            },
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return bucket


class Trails:
    """Makes trails and deletes them at the end of the test."""

    def __init__(self, sandbox: AwsSandbox) -> None:
        self.sandbox = sandbox
        self.made: list[tuple[str, str]] = []

    def client(self, region: str = REGION) -> Any:
        return self.sandbox.admin_client("cloudtrail", region)

    def new(self, region: str = REGION, **settings: Any) -> str:
        name = unique("trail")
        self.client(region).create_trail(
            Name=name, S3BucketName=cloudtrail_bucket(self.sandbox), **settings
        )
        self.made.append((region, name))
        return name

    def adopt(self, region: str, name: str) -> None:
        """A trail a job made: deleted at the end too."""
        self.made.append((region, name))

    def describe(self, name: str, region: str = REGION) -> dict[str, Any]:
        found = self.client(region).describe_trails(includeShadowTrails=True)["trailList"]
        return next(t for t in found if t["Name"] == name)

    def cleanup(self) -> None:
        for region, name in self.made:
            client = self.client(region)
            if any(t["Name"] == name for t in client.describe_trails()["trailList"]):
                client.delete_trail(Name=name)


@pytest.fixture
def trails(aws_sandbox: AwsSandbox) -> Iterator[Trails]:
    made = Trails(aws_sandbox)
    yield made
    made.cleanup()


# ----------------------------------------------------------------------------------------------
# cloudtrail_enable_log_file_validation (CloudTrail.4)
# ----------------------------------------------------------------------------------------------


def test_cloudtrail_enable_log_file_validation_modes(trails: Trails, run: Run) -> None:
    name = trails.new(S3KeyPrefix="keep/me", EnableLogFileValidation=False)

    def state() -> Any:
        trail = trails.describe(name)
        return (trail["LogFileValidationEnabled"], trail["S3KeyPrefix"], trail["S3BucketName"])

    def tamper() -> None:  # someone turns validation off again
        trails.client().update_trail(Name=name, EnableLogFileValidation=False)

    exercise(run, Case("cloudtrail_enable_log_file_validation", payload(name, "x"), state, tamper))


def test_log_file_validation_keeps_the_rest_and_finds_the_home_region(
    trails: Trails, run: Run
) -> None:
    """A multi-region trail homed elsewhere, named by ARN from another region: changed in its
    home region (the sandbox refuses an UpdateTrail elsewhere, as AWS does); its other settings
    stay."""
    name = trails.new(OTHER_REGION, IsMultiRegionTrail=True, S3KeyPrefix="p")
    before = trails.describe(name, OTHER_REGION)
    done = run("cloudtrail_enable_log_file_validation", payload(before["TrailARN"], "x"))
    assert done.returncode == 0, str(done)
    assert done.changes == [f"CHANGE: trail {name}: log file validation turned on"]
    after = trails.describe(name, OTHER_REGION)
    assert after["LogFileValidationEnabled"] is True
    assert {k: v for k, v in after.items() if k != "LogFileValidationEnabled"} == {
        k: v for k, v in before.items() if k != "LogFileValidationEnabled"
    }


def test_log_file_validation_of_a_missing_trail_fails(trails: Trails, run: Run) -> None:
    done = run("cloudtrail_enable_log_file_validation", payload("no-such-trail", "x"))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "TrailNotFoundException" in done.errors[0], str(done)
    assert done.mutating == []


# ----------------------------------------------------------------------------------------------
# aws_kms_key_rotates (KMS.4)
# ----------------------------------------------------------------------------------------------

KMS_RULE = "5c8c26217a550e1fb6560c12"


def key_state(kms: Any, key_id: str) -> Any:
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    return (
        kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"],
        meta["KeyState"],
        meta["Description"],
        json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]),
        sorted(a["AliasName"] for a in kms.list_aliases(KeyId=key_id)["Aliases"]),
    )


def test_aws_kms_key_rotates_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    kms = aws_sandbox.admin_client("kms")
    key = kms.create_key(Description="orders")["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/{unique('orders')}", TargetKeyId=key["KeyId"])

    def tamper() -> None:  # someone turns rotation off again
        kms.disable_key_rotation(KeyId=key["KeyId"])

    state = lambda: key_state(kms, key["KeyId"])  # noqa: E731
    exercise(run, Case("aws_kms_key_rotates", payload(key["Arn"], KMS_RULE), state, tamper))


def test_key_rotation_keeps_the_key_as_it_was(aws_sandbox: AwsSandbox, run: Run) -> None:
    """Named by its bare id; only the rotation changes: policy, aliases, description stay."""
    kms = aws_sandbox.admin_client("kms")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Admins",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "App",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/app"},
                "Action": ["kms:Decrypt", "kms:Encrypt"],
                "Resource": "*",
            },
        ],
    }
    key = kms.create_key(Description="app data", Policy=json.dumps(policy))["KeyMetadata"]
    before = key_state(kms, key["KeyId"])
    done = run("aws_kms_key_rotates", payload(key["KeyId"], KMS_RULE))
    assert done.returncode == 0, str(done)
    assert done.changes == [f"CHANGE: key {key['Arn']}: automatic key rotation turned on"]
    assert key_state(kms, key["KeyId"]) == (True, *before[1:])
    assert before[3] == policy


@pytest.mark.parametrize("kind", ["aws-managed", "asymmetric", "hmac", "pending-deletion"])
def test_key_rotation_refuses_keys_kms_cannot_rotate(
    aws_sandbox: AwsSandbox, run: Run, kind: str
) -> None:
    kms = aws_sandbox.admin_client("kms")
    if kind == "aws-managed":  # the sandbox makes it AWS managed and rotating, as AWS shows it
        key = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
        assert key["KeyManager"] == "AWS"
    elif kind == "asymmetric":
        key = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    elif kind == "hmac":
        key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    else:
        key = kms.create_key()["KeyMetadata"]
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    before = key_state(kms, key["KeyId"])
    for mode in ("remediate", "plan"):
        done = run("aws_kms_key_rotates", payload(key["Arn"], KMS_RULE), mode)
        assert done.returncode == 1, str(done)
        assert len(done.errors) == 1, str(done)
        assert done.errors[0].startswith("ERROR: cannot turn on rotation, nothing was changed")
        assert done.changes == [] and done.records == [] and done.mutating == []
    assert key_state(kms, key["KeyId"]) == before


def test_key_rotation_of_a_missing_key_fails(aws_sandbox: AwsSandbox, run: Run) -> None:
    missing = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uuid.uuid4()}"
    done = run("aws_kms_key_rotates", payload(missing, KMS_RULE))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "NotFoundException" in done.errors[0], str(done)


# ----------------------------------------------------------------------------------------------
# aws_cloudtrail_logs_encrypted (CloudTrail.2)
# ----------------------------------------------------------------------------------------------

ENCRYPTED_RULE = "5c8c25e47a550e1fb6560bac"
ROOT_STATEMENT = {
    "Sid": "Admins",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
CLOUDTRAIL_STATEMENTS = [
    {
        "Sid": "AllowCloudTrailToEncryptLogs",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "kms:GenerateDataKey*",
        "Resource": "*",
        "Condition": {
            "StringLike": {
                "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"
            }
        },
    },
    {
        "Sid": "AllowCloudTrailToDescribeKey",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "kms:DescribeKey",
        "Resource": "*",
    },
]


def trail_key(sandbox: AwsSandbox, statements: list[dict[str, Any]], region: str = REGION) -> Any:
    kms = sandbox.admin_client("kms", region)
    policy = {"Version": "2012-10-17", "Statement": [ROOT_STATEMENT, *statements]}
    key = kms.create_key(Description="trail logs", Policy=json.dumps(policy))["KeyMetadata"]
    alias = f"alias/{unique('trail-logs')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return key, alias


def test_aws_cloudtrail_logs_encrypted_modes(
    aws_sandbox: AwsSandbox, trails: Trails, run: Run
) -> None:
    name = trails.new(EnableLogFileValidation=True)
    _, alias = trail_key(aws_sandbox, CLOUDTRAIL_STATEMENTS)
    other, _ = trail_key(aws_sandbox, CLOUDTRAIL_STATEMENTS)

    def state() -> Any:
        trail = trails.describe(name)
        return (trail.get("KmsKeyId"), trail["LogFileValidationEnabled"], trail["S3BucketName"])

    def tamper() -> None:  # someone moves the trail to another key
        trails.client().update_trail(Name=name, KmsKeyId=other["Arn"])

    finding = payload(name, ENCRYPTED_RULE, kms_key_id=alias)
    exercise(run, Case("aws_cloudtrail_logs_encrypted", finding, state, tamper))
    assert trails.describe(name)["KmsKeyId"] == other["Arn"]


def test_logs_encrypted_keeps_the_rest_of_the_trail(
    aws_sandbox: AwsSandbox, trails: Trails, run: Run
) -> None:
    name = trails.new(S3KeyPrefix="audit", EnableLogFileValidation=True)
    key, _ = trail_key(aws_sandbox, CLOUDTRAIL_STATEMENTS)
    before = trails.describe(name)
    done = run(
        "aws_cloudtrail_logs_encrypted", payload(name, ENCRYPTED_RULE, kms_key_id=key["KeyId"])
    )
    assert done.returncode == 0, str(done)
    assert done.changes == [f"CHANGE: trail {name}: log files encrypted with KMS key {key['Arn']}"]
    after = trails.describe(name)
    assert after == {**before, "KmsKeyId": key["Arn"]}  # the key's ARN, as AWS keeps it


def test_logs_encrypted_refuses_a_key_cloudtrail_may_not_use(
    aws_sandbox: AwsSandbox, trails: Trails, run: Run
) -> None:
    """The key's policy lets CloudTrail describe it but not generate data keys: exit 1, one
    ERROR line naming what to add; the trail and the key policy are left alone."""
    name = trails.new()
    key, alias = trail_key(aws_sandbox, CLOUDTRAIL_STATEMENTS[1:])
    kms = aws_sandbox.admin_client("kms")
    policy = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
    for mode in ("remediate", "plan"):
        done = run(
            "aws_cloudtrail_logs_encrypted", payload(name, ENCRYPTED_RULE, kms_key_id=alias), mode
        )
        assert done.returncode == 1, str(done)
        assert len(done.errors) == 1, str(done)
        assert "kms:GenerateDataKey*" in done.errors[0] and "was not changed" in done.errors[0]
        assert "kms:DescribeKey" not in done.errors[0].split("add", 1)[1]
        assert done.mutating == [] and done.changes == []
    assert "KmsKeyId" not in trails.describe(name)
    assert kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"] == policy


def test_logs_encrypted_with_a_missing_key_fails(trails: Trails, run: Run) -> None:
    name = trails.new()
    finding = payload(name, ENCRYPTED_RULE, kms_key_id="alias/no-such-key")
    done = run("aws_cloudtrail_logs_encrypted", finding)
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "NotFoundException" in done.errors[0], str(done)
    assert "KmsKeyId" not in trails.describe(name)


# ----------------------------------------------------------------------------------------------
# cloudtrail_enable_cloudwatch_logs (CloudTrail.5)
# ----------------------------------------------------------------------------------------------


def delivery_role(sandbox: AwsSandbox, trusted: str = "cloudtrail.amazonaws.com") -> str:
    iam = sandbox.admin_client("iam")
    name = unique("CloudTrail_CloudWatchLogs")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": trusted}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return name


def log_group(sandbox: AwsSandbox, region: str = REGION) -> str:
    name = f"CloudTrail/{unique('group')}"
    sandbox.admin_client("logs", region).create_log_group(logGroupName=name)
    return name


def test_cloudtrail_enable_cloudwatch_logs_modes(
    aws_sandbox: AwsSandbox, trails: Trails, run: Run
) -> None:
    name = trails.new(EnableLogFileValidation=True)
    group, role = log_group(aws_sandbox), delivery_role(aws_sandbox)
    other = log_group(aws_sandbox)

    def state() -> Any:
        trail = trails.describe(name)
        return (
            trail.get("CloudWatchLogsLogGroupArn"),
            trail.get("CloudWatchLogsRoleArn"),
            trail["LogFileValidationEnabled"],
        )

    def tamper() -> None:  # someone points the trail at another group
        trail = trails.describe(name)
        trails.client().update_trail(
            Name=name,
            CloudWatchLogsLogGroupArn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{other}:*",
            CloudWatchLogsRoleArn=trail["CloudWatchLogsRoleArn"],
        )

    finding = payload(name, "x", log_group_name=group, role=role)
    exercise(run, Case("cloudtrail_enable_cloudwatch_logs", finding, state, tamper))


def test_cloudwatch_logs_keeps_the_rest_of_the_trail(
    aws_sandbox: AwsSandbox, trails: Trails, run: Run
) -> None:
    name = trails.new(S3KeyPrefix="audit", EnableLogFileValidation=True)
    group, role = log_group(aws_sandbox), delivery_role(aws_sandbox)
    before = trails.describe(name)
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    done = run(
        "cloudtrail_enable_cloudwatch_logs", payload(name, "x", log_group_name=group, role=role_arn)
    )
    assert done.returncode == 0, str(done)
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
    assert done.changes == [
        f"CHANGE: trail {name}: events sent to CloudWatch Logs {group_arn} as {role_arn}"
    ]
    assert trails.describe(name) == {
        **before,
        "CloudWatchLogsLogGroupArn": group_arn,
        "CloudWatchLogsRoleArn": role_arn,
    }


@pytest.mark.parametrize("missing", ["log group", "trust"])
def test_cloudwatch_logs_refuses_what_cloudtrail_cannot_use(
    aws_sandbox: AwsSandbox, trails: Trails, run: Run, missing: str
) -> None:
    name = trails.new()
    if missing == "log group":
        group, role = "CloudTrail/no-such-group", delivery_role(aws_sandbox)
    else:
        group, role = log_group(aws_sandbox), delivery_role(aws_sandbox, "lambda.amazonaws.com")
    finding = payload(name, "x", log_group_name=group, role=role)
    for mode in ("remediate", "plan"):
        done = run("cloudtrail_enable_cloudwatch_logs", finding, mode)
        assert done.returncode == 1, str(done)
        assert len(done.errors) == 1 and "was not changed" in done.errors[0], str(done)
        assert ("does not exist" if missing == "log group" else "trust policy") in done.errors[0]
        assert done.mutating == [] and done.changes == []
    assert "CloudWatchLogsLogGroupArn" not in trails.describe(name)


def test_cloudwatch_logs_with_a_missing_role_fails(
    aws_sandbox: AwsSandbox, trails: Trails, run: Run
) -> None:
    name = trails.new()
    finding = payload(name, "x", log_group_name=log_group(aws_sandbox), role="no-such-role")
    done = run("cloudtrail_enable_cloudwatch_logs", finding)
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1 and "NoSuchEntity" in done.errors[0], str(done)


# ----------------------------------------------------------------------------------------------
# cloudtrail_enable_multi_region_trail (CloudTrail.1, CloudTrail.3; account level)
# ----------------------------------------------------------------------------------------------

MULTI_JOB = "cloudtrail_enable_multi_region_trail"
DATA_ONLY = [
    {
        "ReadWriteType": "WriteOnly",
        "IncludeManagementEvents": False,
        "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::orders/"]}],
    }
]


def account_state(trails: Trails) -> Any:
    """Every trail of the account: name, home, multi-region, global events, logging, selectors."""
    found = trails.client().describe_trails(includeShadowTrails=True)["trailList"]
    state = []
    for trail in sorted(found, key=lambda t: t["Name"]):
        home = trails.client(trail["HomeRegion"])
        selectors = home.get_event_selectors(TrailName=trail["TrailARN"])
        state.append(
            (
                trail["Name"],
                trail["HomeRegion"],
                trail["IsMultiRegionTrail"],
                trail["IncludeGlobalServiceEvents"],
                trail["S3BucketName"],
                home.get_trail_status(Name=trail["TrailARN"])["IsLogging"],
                json.dumps(selectors.get("EventSelectors"), sort_keys=True),
            )
        )
    return state


def account_finding(**parameters: Any) -> dict[str, Any]:
    return payload(ACCOUNT, "x", **parameters)


def test_multi_region_trail_created_when_the_account_has_none(
    aws_sandbox: AwsSandbox, trails: Trails, run: Run
) -> None:
    name = unique("org-trail")
    trails.adopt(REGION, name)
    bucket = cloudtrail_bucket(aws_sandbox, "audit")
    finding = account_finding(trail_name=name, bucket_name=bucket, s3_key_prefix="audit")

    def tamper() -> None:  # someone stops the new trail
        trails.client().stop_logging(Name=name)

    exercise(run, Case(MULTI_JOB, finding, lambda: account_state(trails), tamper))
    created = trails.describe(name)
    assert created["IsMultiRegionTrail"] and created["LogFileValidationEnabled"]
    assert (created["S3BucketName"], created["S3KeyPrefix"]) == (bucket, "audit")


def test_a_stopped_single_region_trail_is_widened_and_started(trails: Trails, run: Run) -> None:
    """The trail named `trail_name`: multi-region (with global events), logging, and a
    management-events selector beside its data-events one; the other trail is untouched."""
    name = trails.new(IncludeGlobalServiceEvents=False, EnableLogFileValidation=True)
    other = trails.new()
    trails.client().put_event_selectors(TrailName=name, EventSelectors=DATA_ONLY)
    finding = account_finding(trail_name=name)

    def tamper() -> None:  # someone narrows the selectors again
        trails.client().put_event_selectors(TrailName=name, EventSelectors=DATA_ONLY)

    before = trails.describe(other)
    exercise(run, Case(MULTI_JOB, finding, lambda: account_state(trails), tamper))
    assert trails.describe(other) == before


def test_a_stopped_multi_region_trail_is_started_in_its_home_region(
    trails: Trails, run: Run
) -> None:
    """CloudTrail.3's case: the trail exists, multi-region, homed in another region, stopped:
    the one change is StartLogging there; the trail's settings are kept."""
    name = trails.new(OTHER_REGION, IsMultiRegionTrail=True, EnableLogFileValidation=True)
    before = trails.describe(name)
    done = run(MULTI_JOB, account_finding())
    assert done.returncode == 0, str(done)
    assert done.changes == [f"CHANGE: trail {name}: logging started"]
    assert trails.client(OTHER_REGION).get_trail_status(Name=name)["IsLogging"] is True
    assert trails.describe(name) == before
    again = run(MULTI_JOB, account_finding())
    assert again.returncode == 0 and again.changes == [], str(again)


def test_creating_a_trail_needs_a_bucket(trails: Trails, run: Run) -> None:
    done = run(MULTI_JOB, account_finding(trail_name=unique("org-trail")))
    assert done.returncode == 2, str(done)
    assert len(done.errors) == 1, str(done)
    assert done.errors[0].startswith("ERROR: remediationParameters.bucket_name is missing")
    assert done.mutating == []


def test_creating_a_trail_on_a_bucket_cloudtrail_may_not_write_fails(
    aws_sandbox: AwsSandbox, trails: Trails, run: Run
) -> None:
    s3 = aws_sandbox.admin_client("s3")
    bucket = unique("no-policy")
    s3.create_bucket(Bucket=bucket)
    name = unique("org-trail")
    trails.adopt(REGION, name)
    done = run(MULTI_JOB, account_finding(trail_name=name, bucket_name=bucket))
    assert done.returncode == 1, str(done)
    assert len(done.errors) == 1, str(done)
    assert "CreateTrail failed: InsufficientS3BucketPolicyException" in done.errors[0]
    assert done.changes == []
    assert account_state(trails) == []


def test_management_events_are_added_beside_the_data_events_a_trail_logs(
    trails: Trails, run: Run
) -> None:
    """A logging multi-region trail with advanced selectors for S3 data events only: one
    advanced selector for management events is added, the data one kept; rollback restores."""
    name = trails.new(IsMultiRegionTrail=True)
    client = trails.client()
    client.start_logging(Name=name)
    data = [
        {
            "Name": "S3 writes",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            ],
        }
    ]
    client.put_event_selectors(TrailName=name, AdvancedEventSelectors=data)
    done = run(MULTI_JOB, account_finding())
    assert done.returncode == 0, str(done)
    assert done.changes == [f"CHANGE: trail {name}: now logs read and write management events"]
    management = {
        "Name": "Management events",
        "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
    }
    assert client.get_event_selectors(TrailName=name)["AdvancedEventSelectors"] == [
        *data,
        management,
    ]
    assert run(MULTI_JOB, account_finding(), "verify").returncode == 0
    undone = run(MULTI_JOB, account_finding(), "rollback", done.records)
    assert undone.returncode == 0, str(undone)
    assert client.get_event_selectors(TrailName=name)["AdvancedEventSelectors"] == data
