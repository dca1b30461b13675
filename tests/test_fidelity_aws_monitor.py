"""The AWS sandbox refuses what AWS Config, GuardDuty and CloudWatch Logs refuse, with AWS's status
and error code, for the calls of the monitoring jobs (config_enable_recorder,
guardduty_enable_detector, cloudwatch_cis_metric_alarm).

moto enforces some of these itself (checked here so an upgrade that drops one is noticed); the
rest are added around moto in sandbox/monitor_strict.py, which cites AWS's documentation for each.
Every test works in a region of its own: recorders and detectors are one per account and region.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import AwsSandbox

ROLE = "arn:aws:iam::123456789012:role/config-recorder"


def refused(call: Any, status: int, code: str, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status, error
    assert error["Error"]["Code"] == code, error


def recorder(config: Any, name: str = "default") -> None:
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": name,
            "roleARN": ROLE,
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )


# ----------------------------------------------------------------------------------------------
# AWS Config
# ----------------------------------------------------------------------------------------------


def test_a_delivery_channel_to_a_missing_bucket_is_refused(aws_sandbox: AwsSandbox) -> None:
    """Added (sandbox/monitor_strict.py): moto refuses only an empty bucket name."""
    config = aws_sandbox.admin_client("config", "ap-south-1")
    recorder(config)
    missing = f"fidelity-missing-{uuid.uuid4().hex[:12]}"
    refused(
        config.put_delivery_channel,
        400,
        "NoSuchBucketException",
        DeliveryChannel={"name": "default", "s3BucketName": missing},
    )
    assert config.describe_delivery_channels()["DeliveryChannels"] == []
    bucket = f"fidelity-config-{uuid.uuid4().hex[:12]}"
    aws_sandbox.admin_client("s3").create_bucket(Bucket=bucket)  # in another region: still found
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": bucket})
    assert config.describe_delivery_channels()["DeliveryChannels"][0]["s3BucketName"] == bucket
    config.delete_delivery_channel(DeliveryChannelName="default")
    config.delete_configuration_recorder(ConfigurationRecorderName="default")


def test_config_ordering_rules_moto_enforces(aws_sandbox: AwsSandbox) -> None:
    """moto's own: a channel needs a recorder, recording needs a channel, one recorder a region,
    and the channel of a running recorder cannot be deleted."""
    config = aws_sandbox.admin_client("config", "ap-northeast-3")
    bucket = f"fidelity-config-{uuid.uuid4().hex[:12]}"
    aws_sandbox.admin_client("s3").create_bucket(Bucket=bucket)
    refused(
        config.put_delivery_channel,
        400,
        "NoAvailableConfigurationRecorderException",
        DeliveryChannel={"name": "default", "s3BucketName": bucket},
    )
    recorder(config)
    refused(
        config.put_configuration_recorder,
        400,
        "MaxNumberOfConfigurationRecordersExceededException",
        ConfigurationRecorder={"name": "second", "roleARN": ROLE},
    )
    refused(
        config.start_configuration_recorder,
        400,
        "NoAvailableDeliveryChannelException",
        ConfigurationRecorderName="default",
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": bucket})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    refused(
        config.delete_delivery_channel,
        400,
        "LastDeliveryChannelDeleteFailedException",
        DeliveryChannelName="default",
    )
    config.stop_configuration_recorder(ConfigurationRecorderName="default")
    config.delete_delivery_channel(DeliveryChannelName="default")
    config.delete_configuration_recorder(ConfigurationRecorderName="default")


# ----------------------------------------------------------------------------------------------
# GuardDuty
# ----------------------------------------------------------------------------------------------


def test_a_second_detector_in_a_region_is_refused(aws_sandbox: AwsSandbox) -> None:
    """Added (sandbox/monitor_strict.py): one detector per account and region."""
    guardduty = aws_sandbox.admin_client("guardduty", "eu-west-2")
    first = guardduty.create_detector(Enable=False)["DetectorId"]
    refused(guardduty.create_detector, 400, "BadRequestException", Enable=True)
    assert guardduty.list_detectors()["DetectorIds"] == [first]
    other = aws_sandbox.admin_client("guardduty", "eu-central-1")  # another region: its own
    second = other.create_detector(Enable=True)["DetectorId"]
    other.delete_detector(DetectorId=second)
    guardduty.delete_detector(DetectorId=first)
    guardduty.create_detector(Enable=True)  # once deleted, a new one may be created
    for detector in guardduty.list_detectors()["DetectorIds"]:
        guardduty.delete_detector(DetectorId=detector)


def test_a_missing_detector_is_refused(aws_sandbox: AwsSandbox) -> None:
    """moto's own: GetDetector of an id the account does not own."""
    guardduty = aws_sandbox.admin_client("guardduty", "eu-west-2")
    refused(guardduty.get_detector, 400, "BadRequestException", DetectorId="0" * 32)


# ----------------------------------------------------------------------------------------------
# CloudWatch Logs
# ----------------------------------------------------------------------------------------------


def test_a_metric_filter_on_a_missing_log_group_is_refused(aws_sandbox: AwsSandbox) -> None:
    """Added (sandbox/monitor_strict.py): moto stored the filter of a group that is not there."""
    logs = aws_sandbox.admin_client("logs")
    group = f"fidelity-{uuid.uuid4().hex[:12]}"
    transformation = {"metricName": "m", "metricNamespace": "LogMetrics", "metricValue": "1"}
    refused(
        logs.put_metric_filter,
        400,
        "ResourceNotFoundException",
        logGroupName=group,
        filterName="f",
        filterPattern='{$.userIdentity.type="Root"}',
        metricTransformations=[transformation],
    )
    assert logs.describe_metric_filters(logGroupName=group)["metricFilters"] == []
    logs.create_log_group(logGroupName=group)
    logs.put_metric_filter(
        logGroupName=group,
        filterName="f",
        filterPattern='{$.userIdentity.type="Root"}',
        metricTransformations=[transformation],
    )
    assert [
        f["filterName"] for f in logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    ] == ["f"]
