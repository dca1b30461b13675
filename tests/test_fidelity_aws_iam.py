"""The sandbox's IAM answers as IAM does where the IAM jobs could tell (sandbox/iam_strict.py),
checked with real boto3 calls against the sandbox's moto server.

boto3 itself refuses UpdateAccountPasswordPolicy values below their ranges before sending them;
the server refuses them too, for any other client: the tests send them with boto3's parameter
validation off.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from sandbox.aws import AwsSandbox
from sandbox.iam_strict import age_credentials
from tests.test_job_modes_iam import self_signed, set_password_policy


def refused(call: Any, status: int, code: str, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status, error
    assert error["Error"]["Code"] == code, error
    return str(error["Error"]["Message"])


def unvalidated_iam(sandbox: AwsSandbox) -> Any:
    """An admin IAM client that sends what it is given (boto3 checks no range)."""
    return boto3.client(
        "iam",
        endpoint_url=sandbox.endpoint,
        region_name=sandbox.region,
        aws_access_key_id=sandbox.admin.access_key_id,
        aws_secret_access_key=sandbox.admin.secret_access_key,
        config=Config(parameter_validation=False),
    )


# ----------------------------------------------------------------------------------------------
# UpdateAccountPasswordPolicy: the value ranges
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "field"),
    [
        ("MinimumPasswordLength", 5, "minimumPasswordLength"),
        ("PasswordReusePrevention", 0, "passwordReusePrevention"),
        ("MaxPasswordAge", 0, "maxPasswordAge"),
    ],
)
def test_password_policy_values_below_their_range_are_refused(
    aws_sandbox: AwsSandbox, setting: str, value: int, field: str
) -> None:
    iam = aws_sandbox.admin_client("iam")
    set_password_policy(iam, MinimumPasswordLength=10)
    message = refused(
        unvalidated_iam(aws_sandbox).update_account_password_policy,
        400,
        "ValidationError",
        **{setting: value},
    )
    assert f'at "{field}" failed to satisfy constraint' in message
    assert iam.get_account_password_policy()["PasswordPolicy"]["MinimumPasswordLength"] == 10
    with pytest.raises(ParamValidationError):  # boto3 itself refuses them before sending
        iam.update_account_password_policy(**{setting: value})


@pytest.mark.parametrize(
    ("setting", "value"),
    [("MinimumPasswordLength", 129), ("PasswordReusePrevention", 25), ("MaxPasswordAge", 1096)],
)
def test_password_policy_values_above_their_range_are_refused(
    aws_sandbox: AwsSandbox, setting: str, value: int
) -> None:  # moto's own check: noticed if an upgrade drops it
    refused(
        unvalidated_iam(aws_sandbox).update_account_password_policy,
        400,
        "ValidationError",
        **{setting: value},
    )


def test_password_policy_values_at_their_bounds_are_taken(aws_sandbox: AwsSandbox) -> None:
    iam = aws_sandbox.admin_client("iam")
    iam.update_account_password_policy(
        MinimumPasswordLength=6, PasswordReusePrevention=1, MaxPasswordAge=1
    )
    iam.update_account_password_policy(
        MinimumPasswordLength=128, PasswordReusePrevention=24, MaxPasswordAge=1095
    )
    policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert (policy["MinimumPasswordLength"], policy["PasswordReusePrevention"]) == (128, 24)
    assert policy["MaxPasswordAge"] == 1095 and policy["ExpirePasswords"] is True


# ----------------------------------------------------------------------------------------------
# Server certificates: read from the certificate
# ----------------------------------------------------------------------------------------------


def test_server_certificate_metadata_comes_from_the_certificate(aws_sandbox: AwsSandbox) -> None:
    iam = aws_sandbox.admin_client("iam")
    body, key = self_signed(dt.timedelta(days=30))
    name = f"fidelity-{uuid.uuid4().hex[:8]}"
    uploaded = iam.upload_server_certificate(
        ServerCertificateName=name, CertificateBody=body, PrivateKey=key
    )["ServerCertificateMetadata"]
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    assert abs(uploaded["Expiration"] - expected) < dt.timedelta(minutes=5)
    assert abs(uploaded["UploadDate"] - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    listed = {
        m["ServerCertificateName"]: m
        for m in iam.list_server_certificates()["ServerCertificateMetadataList"]
    }
    assert listed[name]["Expiration"] == uploaded["Expiration"]
    got = iam.get_server_certificate(ServerCertificateName=name)["ServerCertificate"]
    assert got["ServerCertificateMetadata"]["Expiration"] == uploaded["Expiration"]
    assert got["CertificateBody"].strip() == body.strip()
    other = f"fidelity-{uuid.uuid4().hex[:8]}"
    body2, key2 = self_signed(dt.timedelta(days=30))
    second = iam.upload_server_certificate(
        ServerCertificateName=other, CertificateBody=body2, PrivateKey=key2
    )["ServerCertificateMetadata"]
    assert second["ServerCertificateId"] != uploaded["ServerCertificateId"]


def test_a_malformed_certificate_or_a_foreign_key_is_refused(aws_sandbox: AwsSandbox) -> None:
    iam = aws_sandbox.admin_client("iam")
    body, key = self_signed(dt.timedelta(days=30))
    _, other_key = self_signed(dt.timedelta(days=30))
    name = f"fidelity-{uuid.uuid4().hex[:8]}"
    refused(
        iam.upload_server_certificate,
        400,
        "MalformedCertificate",
        ServerCertificateName=name,
        CertificateBody="not a certificate",
        PrivateKey=key,
    )
    refused(
        iam.upload_server_certificate,
        400,
        "KeyPairMismatch",
        ServerCertificateName=name,
        CertificateBody=body,
        PrivateKey=other_key,
    )
    listed = iam.list_server_certificates()["ServerCertificateMetadataList"]
    assert name not in {m["ServerCertificateName"] for m in listed}


# ----------------------------------------------------------------------------------------------
# Login profiles, AWS managed policies, and the sandbox's route for credential dates
# ----------------------------------------------------------------------------------------------


def test_login_profile_create_date_is_when_the_password_was_set(aws_sandbox: AwsSandbox) -> None:
    iam = aws_sandbox.admin_client("iam")
    user = f"fidelity-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    created = iam.create_login_profile(UserName=user, Password="Fidelity-Pa55!")["LoginProfile"]
    assert abs(created["CreateDate"] - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    old = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    age_credentials(
        aws_sandbox.endpoint, user_name=user, login_profile_create_date=old, password_last_used=old
    )
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["CreateDate"] == old
    assert iam.get_user(UserName=user)["User"]["PasswordLastUsed"] == old
    assert iam.get_user(UserName=user)["User"]["CreateDate"] != old


def test_access_key_dates_can_be_set_for_tests(aws_sandbox: AwsSandbox) -> None:
    iam = aws_sandbox.admin_client("iam")
    user = f"fidelity-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    assert (
        iam.get_access_key_last_used(AccessKeyId=key)["AccessKeyLastUsed"].get("LastUsedDate")
        is None
    )
    created, used = dt.datetime(2025, 1, 2, tzinfo=dt.UTC), dt.datetime(2025, 2, 3, tzinfo=dt.UTC)
    age_credentials(aws_sandbox.endpoint, access_key_id=key, create_date=created, last_used=used)
    assert iam.list_access_keys(UserName=user)["AccessKeyMetadata"][0]["CreateDate"] == created
    assert (
        iam.get_access_key_last_used(AccessKeyId=key)["AccessKeyLastUsed"]["LastUsedDate"] == used
    )


def test_aws_managed_policies_exist(aws_sandbox: AwsSandbox) -> None:
    iam = aws_sandbox.admin_client("iam")
    policy = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AWSSupportAccess")["Policy"]
    assert policy["PolicyName"] == "AWSSupportAccess"
