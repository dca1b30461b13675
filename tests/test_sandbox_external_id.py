"""The sandbox refuses an AssumeRole without the trust policy's external id, as AWS does."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.aws import WORKER_USER, AwsSandbox
from sandbox.moto_server import external_ids_required


def _worker_sts(sandbox: AwsSandbox) -> Any:
    return boto3.client(
        "sts",
        endpoint_url=sandbox.endpoint,
        region_name=sandbox.region,
        aws_access_key_id=sandbox.worker.access_key_id,
        aws_secret_access_key=sandbox.worker.secret_access_key,
    )


@pytest.mark.parametrize("given", [{}, {"ExternalId": "not-the-one"}], ids=["none", "wrong"])
def test_assume_role_without_the_right_external_id_is_refused_as_aws_refuses_it(
    aws_sandbox: AwsSandbox, given: dict[str, str]
) -> None:
    with pytest.raises(ClientError) as refused:
        _worker_sts(aws_sandbox).assume_role(
            RoleArn=aws_sandbox.role_arn, RoleSessionName="no-external-id", **given
        )
    answer = refused.value.response
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert answer["Error"]["Code"] == "AccessDenied"
    assert answer["Error"]["Message"] == (
        f"User: arn:aws:iam::{aws_sandbox.account_id}:user/{WORKER_USER} is not authorized to "
        f"perform: sts:AssumeRole on resource: {aws_sandbox.role_arn}"
    )


def test_assume_role_with_the_external_id_works(aws_sandbox: AwsSandbox) -> None:
    answer = _worker_sts(aws_sandbox).assume_role(
        RoleArn=aws_sandbox.role_arn,
        RoleSessionName="with-external-id",
        ExternalId=aws_sandbox.external_id,
    )
    assert answer["AssumedRoleUser"]["Arn"].endswith(
        ":assumed-role/remedy-remediation/with-external-id"
    )


def test_only_a_trust_policy_that_asks_for_an_external_id_needs_one() -> None:
    allow = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    asking = {**allow, "Condition": {"StringEquals": {"sts:ExternalId": ["a", "b"]}}}
    assert external_ids_required({"Statement": [allow]}) is None
    assert external_ids_required({"Statement": [asking]}) == {"a", "b"}
    assert external_ids_required({"Statement": [asking, allow]}) is None  # one lets it in
