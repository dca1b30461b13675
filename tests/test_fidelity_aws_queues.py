"""The sandbox refuses and keeps what SQS and Elastic Load Balancing do (sandbox/queues_strict.py),
with AWS's status and error code, through real boto3 calls; and the Lambda calls the Lambda job
makes pass moto's IAM enforcement (their SigV4 signature is checked against the empty body the
client signed).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import AwsSandbox
from tests.test_job_modes_queues import (
    OWN_ACCOUNT,
    log_bucket,
    new_classic,
    new_function,
    new_queue,
    new_v2,
    queue_attributes,
)


def refused(call: Any, status: int, code: str, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status, error
    assert error["Error"]["Code"] == code, error
    return str(error["Error"].get("Message", ""))


@pytest.mark.parametrize("policy", ["{not json", "[]", json.dumps({"Version": "2012-10-17"})])
def test_a_malformed_queue_policy_is_refused(aws_sandbox: AwsSandbox, policy: str) -> None:
    url = new_queue(aws_sandbox, [OWN_ACCOUNT])
    sqs = aws_sandbox.admin_client("sqs")
    message = refused(
        sqs.set_queue_attributes,
        400,
        "InvalidAttributeValue",
        QueueUrl=url,
        Attributes={"Policy": policy},
    )
    assert message == "Invalid value for the parameter Policy."
    assert queue_attributes(aws_sandbox, url)["Policy"]["Statement"] == [OWN_ACCOUNT]


def test_set_queue_attributes_keeps_the_policy_it_does_not_name(aws_sandbox: AwsSandbox) -> None:
    url = new_queue(aws_sandbox, [OWN_ACCOUNT], SqsManagedSseEnabled="false")
    sqs = aws_sandbox.admin_client("sqs")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"SqsManagedSseEnabled": "true"})
    attributes = queue_attributes(aws_sandbox, url)
    assert attributes["SqsManagedSseEnabled"] == "true"
    assert attributes["Policy"]["Statement"] == [OWN_ACCOUNT]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})  # empty: removed
    assert "Policy" not in queue_attributes(aws_sandbox, url)


def closed_bucket(sandbox: AwsSandbox) -> str:
    bucket = f"remedy-closed-{uuid.uuid4().hex[:10]}"
    sandbox.admin_client("s3").create_bucket(Bucket=bucket)
    return bucket


def test_classic_access_logs_need_a_bucket_elb_may_write(aws_sandbox: AwsSandbox) -> None:
    elb = aws_sandbox.admin_client("elb")
    name = new_classic(aws_sandbox)
    for bucket in (closed_bucket(aws_sandbox), f"remedy-missing-{uuid.uuid4().hex[:8]}"):
        message = refused(
            elb.modify_load_balancer_attributes,
            409,
            "InvalidConfigurationRequest",
            LoadBalancerName=name,
            LoadBalancerAttributes={"AccessLog": {"Enabled": True, "S3BucketName": bucket}},
        )
        assert message.startswith(f"Access Denied for bucket: {bucket}")
    good = log_bucket(aws_sandbox)
    elb.modify_load_balancer_attributes(
        LoadBalancerName=name,
        LoadBalancerAttributes={"AccessLog": {"Enabled": True, "S3BucketName": good}},
    )
    found = elb.describe_load_balancer_attributes(LoadBalancerName=name)["LoadBalancerAttributes"]
    assert found["AccessLog"]["Enabled"] is True
    assert found["ConnectionDraining"] == {"Enabled": True, "Timeout": 120}  # kept
    assert len(found["AdditionalAttributes"]) == 1  # not one more per call


def test_v2_access_logs_need_a_bucket_elb_may_write(aws_sandbox: AwsSandbox) -> None:
    elbv2 = aws_sandbox.admin_client("elbv2")
    arn = new_v2(aws_sandbox)
    on = {"Key": "access_logs.s3.enabled", "Value": "true"}
    message = refused(
        elbv2.modify_load_balancer_attributes,
        400,
        "InvalidConfigurationRequest",
        LoadBalancerArn=arn,
        Attributes=[on, {"Key": "access_logs.s3.bucket", "Value": closed_bucket(aws_sandbox)}],
    )
    assert message.startswith("Access Denied for bucket")
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn,
        Attributes=[on, {"Key": "access_logs.s3.bucket", "Value": log_bucket(aws_sandbox)}],
    )


def test_a_missing_classic_load_balancer_is_not_found(aws_sandbox: AwsSandbox) -> None:
    elb = aws_sandbox.admin_client("elb")
    refused(
        elb.describe_load_balancer_attributes,
        400,
        "LoadBalancerNotFound",
        LoadBalancerName="remedy-no-such-lb",
    )
    refused(
        elb.modify_load_balancer_attributes,
        400,
        "LoadBalancerNotFound",
        LoadBalancerName="remedy-no-such-lb",
        LoadBalancerAttributes={"AccessLog": {"Enabled": False}},
    )


def test_signed_bodiless_lambda_requests_pass_iam_enforcement(aws_sandbox: AwsSandbox) -> None:
    lam = aws_sandbox.admin_client("lambda")
    name = new_function(aws_sandbox)
    assert lam.get_function_configuration(FunctionName=name)["FunctionName"] == name
    lam.add_permission(
        FunctionName=name, StatementId="s", Action="lambda:InvokeFunction", Principal="*"
    )
    assert json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    lam.remove_permission(FunctionName=name, StatementId="s")  # DELETE, no body
    refused(lam.get_policy, 404, "ResourceNotFoundException", FunctionName=name)
