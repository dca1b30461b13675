"""The sandbox refuses what S3 refuses for the S3 catalogue's calls, with S3's status and error
code, and IAM checks S3's action names (sandbox/s3_strict.py), through real boto3 calls.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from remedy.services.aws import at_endpoint
from sandbox.aws import AwsSandbox


def refused(call: Any, status: int, code: str, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status, error
    assert error["Error"]["Code"] == code, error
    return str(error["Error"].get("Message", ""))


def new_bucket(sandbox: AwsSandbox) -> tuple[Any, str]:
    s3 = sandbox.admin_client("s3")
    bucket = f"fidelity-s3-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    return s3, bucket


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def reader(bucket: str, **changes: Any) -> dict[str, Any]:
    return {
        "Sid": "Read",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        **changes,
    }


# ----------------------------------------------------------------------------------------------
# Bucket policies
# ----------------------------------------------------------------------------------------------


def test_a_policy_with_a_duplicate_sid_is_refused(aws_sandbox: AwsSandbox) -> None:
    s3, bucket = new_bucket(aws_sandbox)
    text = policy(
        reader(bucket), reader(bucket, Action="s3:ListBucket", Resource=f"arn:aws:s3:::{bucket}")
    )
    message = refused(s3.put_bucket_policy, 400, "MalformedPolicy", Bucket=bucket, Policy=text)
    assert "unique" in message


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"Effect": "Maybe"}, "Invalid effect"),
        ({"Principal": None}, "Principal"),
        ({"Action": None}, "Action"),
        ({"Resource": "arn:aws:s3:::another-bucket/*"}, "invalid resource"),
    ],
)
def test_a_malformed_statement_is_refused(
    aws_sandbox: AwsSandbox, change: dict[str, Any], needle: str
) -> None:
    s3, bucket = new_bucket(aws_sandbox)
    statement = {k: v for k, v in {**reader(bucket), **change}.items() if v is not None}
    message = refused(
        s3.put_bucket_policy, 400, "MalformedPolicy", Bucket=bucket, Policy=policy(statement)
    )
    assert needle in message


def test_a_well_formed_policy_with_a_tls_deny_is_taken(aws_sandbox: AwsSandbox) -> None:
    s3, bucket = new_bucket(aws_sandbox)
    deny = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(reader(bucket), deny))
    assert len(json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]) == 2


# ----------------------------------------------------------------------------------------------
# Default encryption
# ----------------------------------------------------------------------------------------------


def test_an_unknown_sse_algorithm_is_refused(aws_sandbox: AwsSandbox) -> None:
    s3, bucket = new_bucket(aws_sandbox)
    config = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "DES"}}]}
    refused(
        s3.put_bucket_encryption,
        400,
        "MalformedXML",
        Bucket=bucket,
        ServerSideEncryptionConfiguration=config,
    )


def test_a_kms_key_with_sse_s3_is_refused(aws_sandbox: AwsSandbox) -> None:
    s3, bucket = new_bucket(aws_sandbox)
    default = {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "alias/aws/s3"}
    config = {"Rules": [{"ApplyServerSideEncryptionByDefault": default}]}
    refused(
        s3.put_bucket_encryption,
        400,
        "InvalidArgument",
        Bucket=bucket,
        ServerSideEncryptionConfiguration=config,
    )


# ----------------------------------------------------------------------------------------------
# Server access logging: the target must let the logging service write
# ----------------------------------------------------------------------------------------------


def logging_to(target: str, prefix: str) -> dict[str, Any]:
    return {"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": prefix}}


def test_logging_to_a_target_that_does_not_allow_it_is_refused(aws_sandbox: AwsSandbox) -> None:
    s3, bucket = new_bucket(aws_sandbox)
    _, target = new_bucket(aws_sandbox)
    refused(
        s3.put_bucket_logging,
        400,
        "InvalidTargetBucketForLogging",
        Bucket=bucket,
        BucketLoggingStatus=logging_to(target, "logs/"),
    )
    missing = f"fidelity-absent-{uuid.uuid4().hex[:8]}"
    message = refused(
        s3.put_bucket_logging,
        400,
        "InvalidTargetBucketForLogging",
        Bucket=bucket,
        BucketLoggingStatus=logging_to(missing, "logs/"),
    )
    assert "does not exist" in message


def test_a_policy_for_another_prefix_does_not_let_logging_write(aws_sandbox: AwsSandbox) -> None:
    s3, bucket = new_bucket(aws_sandbox)
    _, target = new_bucket(aws_sandbox)
    allow = {
        "Effect": "Allow",
        "Principal": {"Service": ["logging.s3.amazonaws.com"]},
        "Action": ["s3:PutObject"],
        "Resource": [f"arn:aws:s3:::{target}/other/*"],
    }
    s3.put_bucket_policy(Bucket=target, Policy=policy(allow))
    refused(
        s3.put_bucket_logging,
        400,
        "InvalidTargetBucketForLogging",
        Bucket=bucket,
        BucketLoggingStatus=logging_to(target, "logs/"),
    )
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus=logging_to(target, "other/"))


def test_a_policy_in_any_form_iam_takes_lets_logging_write(aws_sandbox: AwsSandbox) -> None:
    """Lists and wildcards, with a public-read-style statement beside it (moto answered 500)."""
    s3, bucket = new_bucket(aws_sandbox)
    _, target = new_bucket(aws_sandbox)
    everyone = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": f"arn:aws:s3:::{target}/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    allow = {
        "Effect": "Allow",
        "Principal": {"Service": ["logging.s3.amazonaws.com"]},
        "Action": ["s3:PutObject"],
        "Resource": [f"arn:aws:s3:::{target}/logs/*"],
    }
    s3.put_bucket_policy(Bucket=target, Policy=policy(everyone, allow))
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus=logging_to(target, "logs/"))
    found = s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]
    assert found == {"TargetBucket": target, "TargetPrefix": "logs/"}


# ----------------------------------------------------------------------------------------------
# IAM checks S3's action names (moto checks its own)
# ----------------------------------------------------------------------------------------------


def user_with(sandbox: AwsSandbox, actions: list[str]) -> dict[str, str]:
    """Keys of a new user allowed exactly these actions."""
    iam = sandbox.admin_client("iam")
    name = f"fidelity-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="only",
        PolicyDocument=policy({"Effect": "Allow", "Action": actions, "Resource": "*"}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def client_as(sandbox: AwsSandbox, service: str, keys: dict[str, str]) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=sandbox.endpoint,
        region_name=sandbox.region,
        **keys,
    )


@pytest.mark.parametrize(
    ("allowed", "call", "denied"),
    [
        # (the S3 action granted, a call it allows, a call it does not)
        ("s3:GetEncryptionConfiguration", "get_bucket_encryption", "put_bucket_encryption"),
        ("s3:PutEncryptionConfiguration", "delete_bucket_encryption", "get_bucket_encryption"),
        ("s3:PutBucketPublicAccessBlock", "delete_public_access_block", "get_public_access_block"),
        ("s3:ListBucket", "head_bucket", "get_bucket_policy"),
    ],
)
def test_iam_checks_s3s_action_names(
    aws_sandbox: AwsSandbox, allowed: str, call: str, denied: str
) -> None:
    _, bucket = new_bucket(aws_sandbox)
    s3 = client_as(aws_sandbox, "s3", user_with(aws_sandbox, [allowed]))
    args: dict[str, Any] = {"Bucket": bucket}
    if denied == "put_bucket_encryption":
        args["ServerSideEncryptionConfiguration"] = {
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        }
    try:
        getattr(s3, call)(Bucket=bucket)
    except ClientError as exc:  # allowed: any answer but AccessDenied
        assert exc.response["Error"]["Code"] not in ("AccessDenied", "403"), exc.response
    with pytest.raises(ClientError) as caught:
        getattr(s3, denied)(**args)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_s3_control_is_served_and_checks_the_account_actions(aws_sandbox: AwsSandbox) -> None:
    """The account-level block at a loopback endpoint (the registry's s3control client), with
    IAM checking s3:GetAccountPublicAccessBlock / s3:PutAccountPublicAccessBlock."""
    account = aws_sandbox.account_id
    reader_only = at_endpoint(
        client_as(
            aws_sandbox,
            "s3control",
            user_with(aws_sandbox, ["s3:GetAccountPublicAccessBlock"]),
        )
    )
    bucket_level = at_endpoint(
        client_as(
            aws_sandbox,
            "s3control",
            user_with(aws_sandbox, ["s3:GetBucketPublicAccessBlock", "s3:GetPublicAccessBlock"]),
        )
    )
    try:
        reader_only.get_public_access_block(AccountId=account)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
    refused(
        reader_only.put_public_access_block,
        403,
        "AccessDenied",
        AccountId=account,
        PublicAccessBlockConfiguration={"BlockPublicAcls": True},
    )
    refused(bucket_level.get_public_access_block, 403, "AccessDenied", AccountId=account)
