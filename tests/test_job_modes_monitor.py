"""The monitoring jobs in every mode, on moto, run as the worker runs them: config_enable_recorder
(Config.1), cloudwatch_cis_metric_alarm and its 14 aliases (CloudWatch.1-14), and
guardduty_enable_detector (GuardDuty.1).

For each: the every-mode life of one fix (tests/job_modes.py `exercise`), what it keeps, and a
failure that exits 1 with one ERROR line. Recorders and detectors are one per account and region,
and the moto server is shared by the session, so every account-level test works in a region of its
own. Outcomes are read back from moto with the sandbox administrator's keys.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from sandbox.aws import AwsSandbox
from tests.job_modes import Case, Run, exercise
from tests.test_job_modes_trail import cloudtrail_bucket, delivery_role
from tests.test_jobs import ACCOUNT, payload

JOBS_DIR = Path(__file__).resolve().parent.parent / "jobs"
ACCOUNT_OBJECT = f"AWS::::Account:{ACCOUNT}"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/my-config-role"
SERVICE_LINKED = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
)


def in_region(finding: dict[str, Any], region: str) -> dict[str, Any]:
    finding["notificationInfo"]["FindingInfo"]["Region"] = region
    return finding


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def aliases(job: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((JOBS_DIR / job / "remedy.json").read_text())["aliases"]
    return found


# ----------------------------------------------------------------------------------------------
# config_enable_recorder
# ----------------------------------------------------------------------------------------------


def config_state(config: Any) -> Any:
    recorders = config.describe_configuration_recorders()["ConfigurationRecorders"]
    channels = config.describe_delivery_channels()["DeliveryChannels"]
    statuses = config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    return (
        [
            (r["name"], r["roleARN"], json.dumps(r.get("recordingGroup"), sort_keys=True))
            for r in recorders
        ],
        [(c["name"], c["s3BucketName"], c.get("s3KeyPrefix")) for c in channels],
        [(s["name"], s["recording"]) for s in statuses],
    )


def clear_config(config: Any) -> None:
    for status in config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]:
        if status["recording"]:
            config.stop_configuration_recorder(ConfigurationRecorderName=status["name"])
    for channel in config.describe_delivery_channels()["DeliveryChannels"]:
        config.delete_delivery_channel(DeliveryChannelName=channel["name"])
    for recorder in config.describe_configuration_recorders()["ConfigurationRecorders"]:
        config.delete_configuration_recorder(ConfigurationRecorderName=recorder["name"])


def test_config_enable_recorder_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    region = "eu-west-3"
    config = aws_sandbox.admin_client("config", region)
    bucket = unique("remedy-config")
    aws_sandbox.admin_client("s3").create_bucket(Bucket=bucket)
    finding = in_region(payload(ACCOUNT_OBJECT, "Config.1", bucket=bucket), region)

    def tamper() -> None:  # someone stops recording
        config.stop_configuration_recorder(ConfigurationRecorderName="default")

    exercise(run, Case("config_enable_recorder", finding, lambda: config_state(config), tamper))
    clear_config(config)


def test_config_enable_recorder_creates_all_three(aws_sandbox: AwsSandbox, run: Run) -> None:
    region = "eu-west-1"
    config = aws_sandbox.admin_client("config", region)
    bucket = unique("remedy-config")
    aws_sandbox.admin_client("s3").create_bucket(Bucket=bucket)
    finding = in_region(
        payload(ACCOUNT_OBJECT, "Config.1", bucket=bucket, s3_key_prefix="cfg"), region
    )
    fixed = run("config_enable_recorder", finding)
    assert fixed.returncode == 0, str(fixed)
    assert len(fixed.changes) == 3 and len(fixed.records) == 3, str(fixed)
    recorders, channels, statuses = config_state(config)
    assert [r[:2] for r in recorders] == [("default", SERVICE_LINKED)]
    group = json.loads(recorders[0][2])
    assert group["allSupported"] is True and group["includeGlobalResourceTypes"] is True
    assert channels == [("default", bucket, "cfg")]
    assert statuses == [("default", True)]
    clear_config(config)


def test_config_enable_recorder_keeps_an_existing_setup(aws_sandbox: AwsSandbox, run: Run) -> None:
    """A stopped recorder of some resource types, with its own role and channel: only started."""
    region = "eu-north-1"
    config = aws_sandbox.admin_client("config", region)
    bucket = unique("remedy-config-own")
    aws_sandbox.admin_client("s3").create_bucket(Bucket=bucket)
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "mine",
            "roleARN": OTHER_ROLE,
            "recordingGroup": {
                "allSupported": False,
                "includeGlobalResourceTypes": False,
                "resourceTypes": ["AWS::S3::Bucket"],
            },
        }
    )
    config.put_delivery_channel(
        DeliveryChannel={"name": "own", "s3BucketName": bucket, "s3KeyPrefix": "own"}
    )
    before = config_state(config)
    finding = in_region(payload(ACCOUNT_OBJECT, "Config.1", bucket="another-bucket"), region)
    fixed = run("config_enable_recorder", finding)
    assert fixed.returncode == 0, str(fixed)
    assert fixed.changes == [
        f"CHANGE: account {ACCOUNT} {region}: started configuration recorder mine"
    ]
    recorders, channels, statuses = config_state(config)
    assert (recorders, channels) == before[:2]  # the role, resource types and channel are kept
    recorded = config.describe_configuration_recorders()["ConfigurationRecorders"][0]
    assert recorded["recordingGroup"]["resourceTypes"] == ["AWS::S3::Bucket"]
    assert statuses == [("mine", True)]
    undone = run("config_enable_recorder", finding, "rollback", fixed.records)
    assert undone.returncode == 0, str(undone)
    assert config_state(config) == before  # stopped again; nothing of the owner's deleted
    clear_config(config)


def test_config_enable_recorder_fails_on_a_missing_bucket(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    region = "sa-east-1"
    config = aws_sandbox.admin_client("config", region)
    finding = in_region(payload(ACCOUNT_OBJECT, "Config.1", bucket=unique("no-such")), region)
    failed = run("config_enable_recorder", finding)
    assert failed.returncode == 1, str(failed)
    assert len(failed.errors) == 1 and "NoSuchBucketException" in failed.errors[0], str(failed)
    assert "Traceback" not in failed.stderr
    # the recorder made before the refusal was recorded, so a rollback removes it
    recorders, channels, _ = config_state(config)
    assert [r[0] for r in recorders] == ["default"] and channels == []
    assert [r["kind"] for r in failed.records] == ["config-recorder", "config-delivery-channel"]
    undone = run("config_enable_recorder", finding, "rollback", failed.records[:1])
    assert undone.returncode == 0, str(undone)
    assert config_state(config) == ([], [], [])


# ----------------------------------------------------------------------------------------------
# guardduty_enable_detector
# ----------------------------------------------------------------------------------------------


def detectors(guardduty: Any) -> dict[str, tuple[str, str]]:
    found = guardduty.list_detectors()["DetectorIds"]
    described = {d: guardduty.get_detector(DetectorId=d) for d in found}
    return {d: (v["Status"], v["FindingPublishingFrequency"]) for d, v in described.items()}


def clear_detectors(guardduty: Any) -> None:
    for detector in guardduty.list_detectors()["DetectorIds"]:
        guardduty.delete_detector(DetectorId=detector)


def test_guardduty_enable_detector_modes_creates(aws_sandbox: AwsSandbox, run: Run) -> None:
    region = "ap-southeast-2"
    guardduty = aws_sandbox.admin_client("guardduty", region)
    finding = in_region(payload(ACCOUNT_OBJECT, "GuardDuty.1"), region)

    def state() -> Any:  # detector ids change with each creation: compare statuses
        return sorted(detectors(guardduty).values())

    def tamper() -> None:  # someone disables the detector the job created
        for detector in guardduty.list_detectors()["DetectorIds"]:
            guardduty.update_detector(DetectorId=detector, Enable=False)

    exercise(run, Case("guardduty_enable_detector", finding, state, tamper))
    clear_detectors(guardduty)


def test_guardduty_enable_detector_modes_enables(aws_sandbox: AwsSandbox, run: Run) -> None:
    """A disabled detector is enabled, keeping its publishing frequency (not the parameter's)."""
    region = "ap-northeast-2"
    guardduty = aws_sandbox.admin_client("guardduty", region)
    detector = guardduty.create_detector(
        Enable=False, FindingPublishingFrequency="FIFTEEN_MINUTES"
    )["DetectorId"]
    finding = in_region(payload(ACCOUNT_OBJECT, "GuardDuty.1"), region)

    def tamper() -> None:
        guardduty.update_detector(DetectorId=detector, Enable=False)

    exercise(run, Case("guardduty_enable_detector", finding, lambda: detectors(guardduty), tamper))
    fixed = run("guardduty_enable_detector", finding)
    assert fixed.changes == [
        f"CHANGE: account {ACCOUNT} {region}: enabled GuardDuty detector {detector}"
    ]
    assert detectors(guardduty) == {detector: ("ENABLED", "FIFTEEN_MINUTES")}  # frequency kept
    clear_detectors(guardduty)


def test_guardduty_enable_detector_uses_the_frequency(aws_sandbox: AwsSandbox, run: Run) -> None:
    region = "ap-southeast-1"
    guardduty = aws_sandbox.admin_client("guardduty", region)
    finding = in_region(
        payload(ACCOUNT_OBJECT, "GuardDuty.1", finding_publishing_frequency="ONE_HOUR"), region
    )
    fixed = run("guardduty_enable_detector", finding)
    assert fixed.returncode == 0, str(fixed)
    assert list(detectors(guardduty).values()) == [("ENABLED", "ONE_HOUR")]
    clear_detectors(guardduty)


def test_guardduty_rollback_of_a_missing_detector_fails(aws_sandbox: AwsSandbox, run: Run) -> None:
    region = "ca-central-1"
    finding = in_region(payload(ACCOUNT_OBJECT, "GuardDuty.1"), region)
    resource = f"account {ACCOUNT} {region} guardduty"
    gone = "0" * 32
    records = [
        {
            "resource": resource,
            "kind": "guardduty-detector",
            "before": {"detector": gone, "status": "DISABLED"},
            "after": {"detector": gone, "status": "ENABLED"},
        }
    ]
    refused = run("guardduty_enable_detector", finding, "rollback", records)
    assert refused.returncode == 1, str(refused)
    assert len(refused.errors) == 1 and "no detector" in refused.errors[0], str(refused)
    assert refused.mutating == []


# ----------------------------------------------------------------------------------------------
# cloudwatch_cis_metric_alarm
# ----------------------------------------------------------------------------------------------

ROOT_USAGE = aliases("cloudwatch_cis_metric_alarm")["cloudwatch_cis_metric_alarm_root_usage"]


def topic(aws_sandbox: AwsSandbox, region: str = "us-east-1") -> str:
    arn: str = aws_sandbox.admin_client("sns", region).create_topic(Name=unique("cis"))["TopicArn"]
    return arn


def log_group(aws_sandbox: AwsSandbox, region: str = "us-east-1") -> str:
    name = unique("CloudTrail/remedy")
    aws_sandbox.admin_client("logs", region).create_log_group(logGroupName=name)
    return name


def cw_state(logs: Any, cloudwatch: Any, group: str) -> Any:
    filters = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    names = sorted({t["metricName"] for f in filters for t in f["metricTransformations"]})
    alarms = []
    for name in names:
        for alarm in cloudwatch.describe_alarms_for_metric(MetricName=name, Namespace="LogMetrics")[
            "MetricAlarms"
        ]:
            alarms.append((alarm["AlarmName"], alarm["MetricName"], tuple(alarm["AlarmActions"])))
    return (
        sorted((f["filterName"], f["filterPattern"]) for f in filters),
        sorted(alarms),
    )


def test_cloudwatch_cis_metric_alarm_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    logs, cloudwatch = aws_sandbox.admin_client("logs"), aws_sandbox.admin_client("cloudwatch")
    group, arn, other = log_group(aws_sandbox), topic(aws_sandbox), topic(aws_sandbox)
    name = unique("RootAccountUsage")
    parameters = {**ROOT_USAGE["parameters"], "name": name}
    finding = payload(ACCOUNT_OBJECT, "CloudWatch.1", topic_arn=arn, log_group=group, **parameters)

    def tamper() -> None:  # someone points the alarm at another topic
        alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            AlarmActions=[other],
            MetricName=alarm["MetricName"],
            Namespace=alarm["Namespace"],
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )

    job = "cloudwatch_cis_metric_alarm"
    exercise(run, Case(job, finding, lambda: cw_state(logs, cloudwatch, group), tamper))
    filters, alarms = cw_state(logs, cloudwatch, group)
    assert filters == [(name, ROOT_USAGE["parameters"]["pattern"])]
    assert alarms == [(name, name, (other,))]


def test_cloudwatch_every_alias_on_the_trails_log_group(
    aws_sandbox: AwsSandbox, run: Run, request: pytest.FixtureRequest
) -> None:
    """No log_group: the region's trail's; each of the 14 aliases makes its filter and alarm."""
    region = "us-west-1"
    logs = aws_sandbox.admin_client("logs", region)
    cloudwatch = aws_sandbox.admin_client("cloudwatch", region)
    group, arn = log_group(aws_sandbox, region), topic(aws_sandbox, region)
    trails = aws_sandbox.admin_client("cloudtrail", region)
    trail = unique("trail")
    trails.create_trail(  # its bucket and role as CloudTrail demands them (sandbox/trail_strict.py)
        Name=trail,
        S3BucketName=cloudtrail_bucket(aws_sandbox),
        IsMultiRegionTrail=True,
        CloudWatchLogsLogGroupArn=f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{group}:*",
        CloudWatchLogsRoleArn=f"arn:aws:iam::{ACCOUNT}:role/{delivery_role(aws_sandbox)}",
    )
    request.addfinalizer(lambda: trails.delete_trail(Name=trail))  # trails are account-wide
    found = aliases("cloudwatch_cis_metric_alarm")
    assert len(found) == 14
    assert sorted(s["controls"]["securityhub"][0] for s in found.values()) == sorted(
        f"CloudWatch.{n}" for n in range(1, 15)
    )
    for alias, spec in found.items():
        finding = in_region(
            payload(
                ACCOUNT_OBJECT,
                spec["controls"]["securityhub"][0],
                topic_arn=arn,
                **spec["parameters"],
            ),
            region,
        )
        assert run("cloudwatch_cis_metric_alarm", finding, "verify").returncode == 3, alias
        fixed = run("cloudwatch_cis_metric_alarm", finding)
        assert fixed.returncode == 0 and len(fixed.changes) == 2, (alias, str(fixed))
        assert run("cloudwatch_cis_metric_alarm", finding, "verify").returncode == 0, alias
    filters, alarms = cw_state(logs, cloudwatch, group)
    assert sorted(filters) == sorted(
        (s["parameters"]["name"], s["parameters"]["pattern"]) for s in found.values()
    )
    assert len(alarms) == 14 and all(actions == (arn,) for _, _, actions in alarms)


def test_cloudwatch_keeps_other_filters_and_reuses_a_matching_one(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    logs, cloudwatch = aws_sandbox.admin_client("logs"), aws_sandbox.admin_client("cloudwatch")
    group, arn = log_group(aws_sandbox), topic(aws_sandbox)
    pattern = ROOT_USAGE["parameters"]["pattern"]
    mine = unique("MyRootFilter")
    other = unique("Other")
    for filter_name, filter_pattern in ((mine, pattern.replace(" && ", "&&")), (other, "ERROR")):
        logs.put_metric_filter(
            logGroupName=group,
            filterName=filter_name,
            filterPattern=filter_pattern,
            metricTransformations=[
                {"metricName": filter_name, "metricNamespace": "LogMetrics", "metricValue": "1"}
            ],
        )
    before_filters, _ = cw_state(logs, cloudwatch, group)
    name = unique("RootAccountUsage")
    finding = payload(
        ACCOUNT_OBJECT, "CloudWatch.1", topic_arn=arn, log_group=group, pattern=pattern, name=name
    )
    fixed = run("cloudwatch_cis_metric_alarm", finding)
    assert fixed.returncode == 0, str(fixed)
    assert [r["kind"] for r in fixed.records] == ["cloudwatch-alarm"], str(fixed)  # no new filter
    filters, alarms = cw_state(logs, cloudwatch, group)
    assert filters == before_filters  # both filters kept as they were
    assert alarms == [(name, mine, (arn,))]  # the alarm is on the existing filter's metric
    undone = run("cloudwatch_cis_metric_alarm", finding, "rollback", fixed.records)
    assert undone.returncode == 0, str(undone)
    assert cw_state(logs, cloudwatch, group) == (before_filters, [])  # the owner's filter stays


def test_cloudwatch_never_replaces_a_filter_of_the_same_name(
    aws_sandbox: AwsSandbox, run: Run
) -> None:
    logs, cloudwatch = aws_sandbox.admin_client("logs"), aws_sandbox.admin_client("cloudwatch")
    group, arn = log_group(aws_sandbox), topic(aws_sandbox)
    name = unique("RootAccountUsage")
    logs.put_metric_filter(
        logGroupName=group,
        filterName=name,
        filterPattern="ERROR",
        metricTransformations=[{"metricName": name, "metricNamespace": "X", "metricValue": "1"}],
    )
    before = cw_state(logs, cloudwatch, group)
    parameters = {**ROOT_USAGE["parameters"], "name": name}
    finding = payload(ACCOUNT_OBJECT, "CloudWatch.1", topic_arn=arn, log_group=group, **parameters)
    failed = run("cloudwatch_cis_metric_alarm", finding)
    assert failed.returncode == 1, str(failed)
    assert len(failed.errors) == 1 and "not replacing it" in failed.errors[0], str(failed)
    assert failed.mutating == [] and cw_state(logs, cloudwatch, group) == before


def test_cloudwatch_fails_on_a_missing_log_group(aws_sandbox: AwsSandbox, run: Run) -> None:
    missing = unique("no-such-group")
    finding = payload(
        ACCOUNT_OBJECT,
        "CloudWatch.1",
        topic_arn=topic(aws_sandbox),
        log_group=missing,
        **ROOT_USAGE["parameters"],
    )
    failed = run("cloudwatch_cis_metric_alarm", finding)
    assert failed.returncode == 1, str(failed)
    assert len(failed.errors) == 1 and "ResourceNotFoundException" in failed.errors[0], str(failed)
    assert "Traceback" not in failed.stderr
    logs = aws_sandbox.admin_client("logs")
    assert logs.describe_metric_filters(logGroupName=missing)["metricFilters"] == []


def test_cloudwatch_needs_a_topic_and_a_trail(aws_sandbox: AwsSandbox, run: Run) -> None:
    group = log_group(aws_sandbox)
    no_topic = payload(ACCOUNT_OBJECT, "CloudWatch.1", log_group=group, **ROOT_USAGE["parameters"])
    refused = run("cloudwatch_cis_metric_alarm", no_topic)
    assert refused.returncode == 2, str(refused)
    assert len(refused.errors) == 1 and "topic_arn" in refused.errors[0], str(refused)
    assert refused.mutating == []
    no_trail = in_region(
        payload(
            ACCOUNT_OBJECT, "CloudWatch.1", topic_arn=topic(aws_sandbox), **ROOT_USAGE["parameters"]
        ),
        "af-south-1",
    )
    failed = run("cloudwatch_cis_metric_alarm", no_trail)
    assert failed.returncode == 1, str(failed)
    assert len(failed.errors) == 1 and "no CloudTrail trail" in failed.errors[0], str(failed)
    assert failed.mutating == []
