"""The sandbox refuses what CloudTrail and KMS refuse, with their status and error code, and
answers as they do where moto (5.x) does not (sandbox/trail_strict.py, whose docstring cites the
AWS pages). Real boto3 calls against the sandbox's moto server, as the administrator."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import AwsSandbox
from tests.test_job_modes_trail import (
    CLOUDTRAIL_STATEMENTS,
    cloudtrail_bucket,
    delivery_role,
    log_group,
    trail_key,
)
from tests.test_jobs import ACCOUNT, REGION

OTHER_REGION = "eu-west-1"


def refused(call: Any, status: int, code: str, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status, error
    assert error["Error"]["Code"] == code, error


@pytest.fixture
def made(aws_sandbox: AwsSandbox) -> Iterator[list[tuple[str, str]]]:
    """(region, name) of the trails a test made: deleted afterwards (trails are account-wide)."""
    names: list[tuple[str, str]] = []
    yield names
    for region, name in names:
        client = aws_sandbox.admin_client("cloudtrail", region)
        if any(t["Name"] == name for t in client.describe_trails()["trailList"]):
            client.delete_trail(Name=name)


def new_trail(
    sandbox: AwsSandbox, made: list[tuple[str, str]], region: str = REGION, **settings: Any
) -> tuple[Any, str]:
    client = sandbox.admin_client("cloudtrail", region)
    name = f"fidelity-{uuid.uuid4().hex[:10]}"
    client.create_trail(Name=name, S3BucketName=cloudtrail_bucket(sandbox), **settings)
    made.append((region, name))
    return client, name


def describe(client: Any, name: str) -> dict[str, Any]:
    found = client.describe_trails(includeShadowTrails=True)["trailList"]
    trail: dict[str, Any] = next(t for t in found if t["Name"] == name)
    return trail


# ----------------------------------------------------------------------------------------------
# CloudTrail: the bucket policy
# ----------------------------------------------------------------------------------------------


def test_a_trail_needs_a_bucket_policy_cloudtrail_may_write_by(
    aws_sandbox: AwsSandbox, made: list[tuple[str, str]]
) -> None:
    s3 = aws_sandbox.admin_client("s3")
    cloudtrail = aws_sandbox.admin_client("cloudtrail")
    bare = f"fidelity-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bare)
    name = f"fidelity-{uuid.uuid4().hex[:10]}"
    made.append((REGION, name))
    refused(
        cloudtrail.create_trail,
        400,
        "InsufficientS3BucketPolicyException",
        Name=name,
        S3BucketName=bare,
    )
    # a policy for another prefix does not let CloudTrail write under this one
    prefixed = cloudtrail_bucket(aws_sandbox, "audit")
    refused(
        cloudtrail.create_trail,
        400,
        "InsufficientS3BucketPolicyException",
        Name=name,
        S3BucketName=prefixed,
        S3KeyPrefix="other",
    )
    cloudtrail.create_trail(Name=name, S3BucketName=prefixed, S3KeyPrefix="audit")
    # moving the trail to a bucket without the policy is refused too
    refused(
        cloudtrail.update_trail,
        400,
        "InsufficientS3BucketPolicyException",
        Name=name,
        S3BucketName=bare,
    )
    assert describe(cloudtrail, name)["S3BucketName"] == prefixed


# ----------------------------------------------------------------------------------------------
# CloudTrail: the KMS key
# ----------------------------------------------------------------------------------------------


def test_a_trails_key_must_exist_and_let_cloudtrail_use_it(
    aws_sandbox: AwsSandbox, made: list[tuple[str, str]]
) -> None:
    cloudtrail, name = new_trail(aws_sandbox, made)
    refused(
        cloudtrail.update_trail,
        400,
        "KmsKeyNotFoundException",
        Name=name,
        KmsKeyId="alias/no-such-key",
    )
    other_region, _ = trail_key(aws_sandbox, CLOUDTRAIL_STATEMENTS, OTHER_REGION)
    refused(
        cloudtrail.update_trail,
        400,
        "KmsKeyNotFoundException",
        Name=name,
        KmsKeyId=other_region["Arn"],
    )
    closed, _ = trail_key(aws_sandbox, CLOUDTRAIL_STATEMENTS[1:])  # DescribeKey only
    refused(
        cloudtrail.update_trail,
        400,
        "InsufficientEncryptionPolicyException",
        Name=name,
        KmsKeyId=closed["Arn"],
    )
    assert "KmsKeyId" not in describe(cloudtrail, name)


def test_a_trail_keeps_its_keys_arn_and_an_empty_key_takes_it_off(
    aws_sandbox: AwsSandbox, made: list[tuple[str, str]]
) -> None:
    cloudtrail, name = new_trail(aws_sandbox, made)
    key, alias = trail_key(aws_sandbox, CLOUDTRAIL_STATEMENTS)
    cloudtrail.update_trail(Name=name, KmsKeyId=alias)
    assert describe(cloudtrail, name)["KmsKeyId"] == key["Arn"]
    cloudtrail.update_trail(Name=name, KmsKeyId="")
    assert "KmsKeyId" not in describe(cloudtrail, name)


# ----------------------------------------------------------------------------------------------
# CloudTrail: multi-region, home region, CloudWatch Logs, DeleteTrail
# ----------------------------------------------------------------------------------------------


def test_a_multi_region_trail_must_include_global_events_on_update(
    aws_sandbox: AwsSandbox, made: list[tuple[str, str]]
) -> None:
    cloudtrail, name = new_trail(aws_sandbox, made, IncludeGlobalServiceEvents=False)
    refused(
        cloudtrail.update_trail,
        400,
        "InvalidParameterCombinationException",
        Name=name,
        IsMultiRegionTrail=True,
    )
    cloudtrail.update_trail(Name=name, IsMultiRegionTrail=True, IncludeGlobalServiceEvents=True)
    refused(
        cloudtrail.update_trail,
        400,
        "InvalidParameterCombinationException",
        Name=name,
        IncludeGlobalServiceEvents=False,
    )


def test_a_multi_region_trail_changes_only_in_its_home_region(
    aws_sandbox: AwsSandbox, made: list[tuple[str, str]]
) -> None:
    home, name = new_trail(aws_sandbox, made, OTHER_REGION, IsMultiRegionTrail=True)
    arn = describe(home, name)["TrailARN"]
    elsewhere = aws_sandbox.admin_client("cloudtrail", REGION)
    assert describe(elsewhere, name)["HomeRegion"] == OTHER_REGION  # seen from everywhere
    for call, kwargs in (
        (elsewhere.update_trail, {"Name": arn, "EnableLogFileValidation": True}),
        (elsewhere.start_logging, {"Name": arn}),
        (elsewhere.stop_logging, {"Name": name}),
        (elsewhere.delete_trail, {"Name": arn}),
    ):
        refused(call, 400, "InvalidHomeRegionException", **kwargs)
    home.update_trail(Name=arn, EnableLogFileValidation=True)
    home.start_logging(Name=arn)
    assert describe(elsewhere, name)["LogFileValidationEnabled"] is True


def test_cloudwatch_logs_need_a_log_group_and_a_role_cloudtrail_may_assume(
    aws_sandbox: AwsSandbox, made: list[tuple[str, str]]
) -> None:
    cloudtrail, name = new_trail(aws_sandbox, made)
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{log_group(aws_sandbox)}:*"
    role = f"arn:aws:iam::{ACCOUNT}:role/{delivery_role(aws_sandbox)}"
    lambda_role = (
        f"arn:aws:iam::{ACCOUNT}:role/{delivery_role(aws_sandbox, 'lambda.amazonaws.com')}"
    )
    missing_group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:no-such-group:*"
    refused(
        cloudtrail.update_trail,
        400,
        "InvalidCloudWatchLogsLogGroupArnException",
        Name=name,
        CloudWatchLogsLogGroupArn=missing_group,
        CloudWatchLogsRoleArn=role,
    )
    for bad_role in (lambda_role, f"arn:aws:iam::{ACCOUNT}:role/no-such-role"):
        refused(
            cloudtrail.update_trail,
            400,
            "InvalidCloudWatchLogsRoleArnException",
            Name=name,
            CloudWatchLogsLogGroupArn=group,
            CloudWatchLogsRoleArn=bad_role,
        )
    cloudtrail.update_trail(Name=name, CloudWatchLogsLogGroupArn=group, CloudWatchLogsRoleArn=role)
    trail = describe(cloudtrail, name)
    assert (trail["CloudWatchLogsLogGroupArn"], trail["CloudWatchLogsRoleArn"]) == (group, role)
    cloudtrail.update_trail(Name=name, CloudWatchLogsLogGroupArn="", CloudWatchLogsRoleArn="")
    trail = describe(cloudtrail, name)
    assert "CloudWatchLogsLogGroupArn" not in trail and "CloudWatchLogsRoleArn" not in trail


def test_delete_trail_takes_an_arn_and_refuses_a_missing_trail(
    aws_sandbox: AwsSandbox, made: list[tuple[str, str]]
) -> None:
    cloudtrail, name = new_trail(aws_sandbox, made)
    cloudtrail.delete_trail(Name=describe(cloudtrail, name)["TrailARN"])
    assert not [t for t in cloudtrail.describe_trails()["trailList"] if t["Name"] == name]
    refused(cloudtrail.delete_trail, 400, "TrailNotFoundException", Name=name)


# ----------------------------------------------------------------------------------------------
# KMS
# ----------------------------------------------------------------------------------------------


def test_rotation_only_of_symmetric_keys_with_kms_material(aws_sandbox: AwsSandbox) -> None:
    kms = aws_sandbox.admin_client("kms")
    for settings in (
        {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
        {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
        {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
        {"Origin": "EXTERNAL"},
    ):
        key = kms.create_key(**settings)["KeyMetadata"]
        for call in (kms.enable_key_rotation, kms.disable_key_rotation):
            refused(call, 400, "UnsupportedOperationException", KeyId=key["KeyId"])
        assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    symmetric = kms.create_key()["KeyMetadata"]
    assert symmetric["KeyUsage"] == "ENCRYPT_DECRYPT"  # KMS's default; moto leaves it null
    kms.enable_key_rotation(KeyId=symmetric["KeyId"])
    assert kms.get_key_rotation_status(KeyId=symmetric["KeyId"])["KeyRotationEnabled"] is True


def test_rotation_of_a_key_pending_deletion_is_refused(aws_sandbox: AwsSandbox) -> None:
    kms = aws_sandbox.admin_client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    refused(kms.enable_key_rotation, 400, "KMSInvalidStateException", KeyId=key["KeyId"])


def test_aws_managed_keys_are_aws_managed_and_rotate(aws_sandbox: AwsSandbox) -> None:
    kms = aws_sandbox.admin_client("kms", OTHER_REGION)
    key = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert key["KeyManager"] == "AWS"
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    customer = kms.create_key()["KeyMetadata"]
    assert customer["KeyManager"] == "CUSTOMER"
    assert json.loads(kms.get_key_policy(KeyId=customer["KeyId"], PolicyName="default")["Policy"])
