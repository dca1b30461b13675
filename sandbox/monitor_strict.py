"""What AWS Config, GuardDuty and CloudWatch Logs refuse and moto (5.x) lets through, for the calls
the monitoring jobs (config_enable_recorder, guardduty_enable_detector, cloudwatch_cis_metric_alarm)
and their tests make.

Installed into the sandbox's moto server by sandbox/moto_server.py:

- AWS Config PutDeliveryChannel to a bucket that does not exist: 400 NoSuchBucketException
  (https://docs.aws.amazon.com/config/latest/APIReference/API_PutDeliveryChannel.html, Errors:
  "NoSuchBucketException: The specified Amazon S3 bucket does not exist"); moto only refuses an
  empty bucket name;
- GuardDuty CreateDetector in a region that has a detector already: 400 BadRequestException
  "The request is rejected because a detector already exists for the current account."
  (https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateDetector.html: "You can
  have only one detector per account per Region"); moto keeps creating detectors;
- CloudWatch Logs PutMetricFilter on a log group that does not exist: 400
  ResourceNotFoundException "The specified log group does not exist."
  (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutMetricFilter.html,
  Errors: "ResourceNotFoundException: The specified resource does not exist"); moto stores the
  filter of a group that is not there.

(The fix of moto's signature check that GuardDuty's reads need is sandbox/moto_signing.py.)
"""

from __future__ import annotations

from typing import Any

from moto.config.models import ConfigBackend
from moto.core.exceptions import JsonRESTError
from moto.guardduty.models import GuardDutyBackend
from moto.logs.exceptions import ResourceNotFoundException
from moto.logs.models import LogsBackend
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition


class BucketNotFound(JsonRESTError):
    code = 400

    def __init__(self, bucket: str) -> None:
        super().__init__("NoSuchBucketException", f"Cannot find a S3 bucket named {bucket}.")


class DetectorExists(JsonRESTError):
    code = 400

    def __init__(self) -> None:
        super().__init__(
            "BadRequestException",
            "The request is rejected because a detector already exists for the current account.",
        )

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [("X-Amzn-ErrorType", "BadRequestException")]


def bucket_exists(name: str, region: str) -> bool:
    """In any account of the bucket's partition: a delivery channel may write to another's."""
    partition = get_partition(region)
    for backends in list(s3_backends.values()):
        backend = backends.get(partition) if partition in backends else None
        if backend is not None and name in backend.buckets:
            return True
    return False


_put_delivery_channel = ConfigBackend.put_delivery_channel
_create_detector = GuardDutyBackend.create_detector
_put_metric_filter = LogsBackend.put_metric_filter


def put_delivery_channel(self: ConfigBackend, delivery_channel: dict[str, Any]) -> None:
    bucket = delivery_channel.get("s3BucketName")
    if self.recorders and bucket and not bucket_exists(str(bucket), self.region_name):
        raise BucketNotFound(str(bucket))
    _put_delivery_channel(self, delivery_channel)


def create_detector(self: GuardDutyBackend, *args: Any, **kwargs: Any) -> str:
    if self.detectors:
        raise DetectorExists()
    made: str = _create_detector(self, *args, **kwargs)
    return made


def put_metric_filter(
    self: LogsBackend,
    filter_name: str,
    filter_pattern: str,
    log_group_name: str,
    metric_transformations: str,
) -> None:
    if log_group_name not in self.groups:
        raise ResourceNotFoundException()
    _put_metric_filter(self, filter_name, filter_pattern, log_group_name, metric_transformations)


def install() -> None:
    ConfigBackend.put_delivery_channel = put_delivery_channel  # type: ignore[method-assign]
    GuardDutyBackend.create_detector = create_detector  # type: ignore[method-assign]
    LogsBackend.put_metric_filter = put_metric_filter  # type: ignore[method-assign]
