"""A CIS log metric filter and its alarm (Security Hub CloudWatch.1-14, CIS 1.2 3.1-3.14).

The target is the finding's account and region. The filter goes on the CloudTrail trail's
CloudWatch Logs log group (parameter `log_group`, or the log group of the region's trail that has
one, a multi-region trail first), with the pattern the control prescribes (`pattern`, each alias
carries its own), counting 1 per match in metric `name` of `namespace`; the alarm, also named
`name`, goes off at 1 or more in five minutes and notifies the SNS topic `topic_arn`.

Compliant already, nothing changes: a filter on the log group with the same pattern (whitespace
aside) whose metric has an alarm that notifies an SNS topic. A filter with the pattern but no
alarm gets the alarm only. A filter or an alarm named `name` that is something else is never
replaced: the job stops with an error instead.

Plan prints the same CHANGE lines after reading only. Before each change a record says what was
created (kinds `logs-metric-filter`, `cloudwatch-alarm`); rollback deletes exactly those, the
alarm first, once both are still as the job left them.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_cloudtrail.client import CloudTrailClient
    from mypy_boto3_cloudwatch.client import CloudWatchClient
    from mypy_boto3_logs.client import CloudWatchLogsClient

FILTER_KIND = "logs-metric-filter"
ALARM_KIND = "cloudwatch-alarm"


class CannotFix(Exception):
    """The account is not in a state the job can fix (exit 1, one ERROR line)."""


def same_pattern(one: str, other: str) -> bool:
    return "".join(one.split()) == "".join(other.split())


def trail_log_group(cloudtrail: CloudTrailClient, finding: jobkit.Finding) -> str:
    """The CloudWatch Logs log group of the region's trail that sends to one (multi-region
    trails first); CannotFix when no trail does."""
    trails = cloudtrail.describe_trails(includeShadowTrails=False).get("trailList", [])
    sending = [t for t in trails if t.get("CloudWatchLogsLogGroupArn")]
    sending.sort(key=lambda t: (not t.get("IsMultiRegionTrail"), str(t.get("Name"))))
    if not sending:
        raise CannotFix(
            f"no CloudTrail trail in account {finding.account_id} {finding.region} sends its "
            "events to CloudWatch Logs: integrate one first (Security Hub CloudTrail.5), or name "
            "the log group in remediationParameters.log_group"
        )
    arn = str(sending[0]["CloudWatchLogsLogGroupArn"])
    name = arn.split(":log-group:", 1)[-1]
    return name[: -len(":*")] if name.endswith(":*") else name


def log_group(finding: jobkit.Finding) -> str:
    given = str(finding.parameters["log_group"])
    if given:
        return given
    cloudtrail: CloudTrailClient = jobkit.client("cloudtrail", finding)
    return trail_log_group(cloudtrail, finding)


def topic(finding: jobkit.Finding) -> str:
    arn = str(finding.parameters["topic_arn"])
    if not arn:
        raise jobkit.BadInput(
            "remediationParameters.topic_arn is empty: name the SNS topic the alarm notifies"
        )
    return arn


def filters(logs: CloudWatchLogsClient, group: str) -> list[dict[str, Any]]:
    found = logs.describe_metric_filters(logGroupName=group).get("metricFilters", [])
    return [dict(f) for f in found if f.get("logGroupName", group) == group]


def filter_state(found: dict[str, Any]) -> dict[str, Any]:
    transformation = (found.get("metricTransformations") or [{}])[0]
    return {
        "logGroupName": found.get("logGroupName"),
        "filterName": found.get("filterName"),
        "filterPattern": found.get("filterPattern"),
        "metricName": transformation.get("metricName"),
        "metricNamespace": transformation.get("metricNamespace"),
    }


def alarm_state(alarm: dict[str, Any]) -> dict[str, Any]:
    return {
        "AlarmName": alarm.get("AlarmName"),
        "MetricName": alarm.get("MetricName"),
        "Namespace": alarm.get("Namespace"),
        "AlarmActions": sorted(alarm.get("AlarmActions") or []),
    }


def notifying_alarms(cloudwatch: CloudWatchClient, metric: str, namespace: str) -> list[str]:
    """The alarms on the metric that notify an SNS topic."""
    found = cloudwatch.describe_alarms_for_metric(MetricName=metric, Namespace=namespace)
    return [
        str(a["AlarmName"])
        for a in found.get("MetricAlarms", [])
        if any(":sns:" in action for action in a.get("AlarmActions") or [])
    ]


def compliance(
    logs: CloudWatchLogsClient, cloudwatch: CloudWatchClient, group: str, pattern: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """The filters on the group with the pattern, and the alarms of their metrics that notify."""
    matching = [filter_state(f) for f in filters(logs, group)]
    matching = [f for f in matching if same_pattern(str(f["filterPattern"]), pattern)]
    alarms = [
        alarm
        for f in matching
        if f["metricName"] and f["metricNamespace"]
        for alarm in notifying_alarms(cloudwatch, str(f["metricName"]), str(f["metricNamespace"]))
    ]
    return matching, alarms


def create_filter(logs: CloudWatchLogsClient, group: str, finding: jobkit.Finding) -> None:
    params = finding.parameters
    name, namespace, pattern = str(params["name"]), str(params["namespace"]), str(params["pattern"])
    taken = [f for f in filters(logs, group) if f.get("filterName") == name]
    if taken:
        raise CannotFix(
            f"log group {group} has a metric filter named {name} with another pattern "
            f"({taken[0].get('filterPattern')}): not replacing it; give another name"
        )
    after = {
        "logGroupName": group,
        "filterName": name,
        "filterPattern": pattern,
        "metricName": name,
        "metricNamespace": namespace,
    }
    jobkit.record(f"{group} metric filter {name}", FILTER_KIND, None, after)
    if not jobkit.planning():
        logs.put_metric_filter(
            logGroupName=group,
            filterName=name,
            filterPattern=pattern,
            metricTransformations=[
                {"metricName": name, "metricNamespace": namespace, "metricValue": "1"}
            ],
        )
    jobkit.change(f"{group}: created metric filter {name} ({pattern}) counting {namespace}/{name}")


def create_alarm(
    cloudwatch: CloudWatchClient, finding: jobkit.Finding, metric: str, namespace: str
) -> None:
    name, arn = str(finding.parameters["name"]), topic(finding)
    taken = cloudwatch.describe_alarms(AlarmNames=[name]).get("MetricAlarms", [])
    if taken:
        raise CannotFix(
            f"an alarm named {name} exists on {taken[0].get('Namespace')}/"
            f"{taken[0].get('MetricName')}: not replacing it; give another name"
        )
    after = {"AlarmName": name, "MetricName": metric, "Namespace": namespace, "AlarmActions": [arn]}
    jobkit.record(f"alarm {name}", ALARM_KIND, None, after)
    if not jobkit.planning():
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            AlarmDescription=f"CIS: {finding.parameters['pattern']}",
            ActionsEnabled=True,
            AlarmActions=[arn],
            MetricName=metric,
            Namespace=namespace,
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="notBreaching",
        )
    jobkit.change(f"created alarm {name} on {namespace}/{metric} (>= 1 in 5 minutes) to {arn}")


def fix(finding: jobkit.Finding) -> None:
    logs: CloudWatchLogsClient = jobkit.client("logs", finding)
    cloudwatch: CloudWatchClient = jobkit.client("cloudwatch", finding)
    group, pattern = log_group(finding), str(finding.parameters["pattern"])
    matching, alarms = compliance(logs, cloudwatch, group, pattern)
    if alarms:
        jobkit.info(f"ok: {group} has a metric filter with the pattern; alarm {alarms[0]} notifies")
        return
    topic(finding)  # a bad topic stops the job before it changes anything
    if matching:
        metric, namespace = str(matching[0]["metricName"]), str(matching[0]["metricNamespace"])
        jobkit.info(f"{group}: filter {matching[0]['filterName']} has the pattern, but no alarm")
    else:
        create_filter(logs, group, finding)
        metric, namespace = str(finding.parameters["name"]), str(finding.parameters["namespace"])
    create_alarm(cloudwatch, finding, metric, namespace)


def remediate(finding: jobkit.Finding) -> None:
    try:
        fix(finding)
    except CannotFix as exc:
        jobkit.error(str(exc))
        sys.exit(jobkit.EXIT_FAILED)


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    logs: CloudWatchLogsClient = jobkit.client("logs", finding)
    cloudwatch: CloudWatchClient = jobkit.client("cloudwatch", finding)
    found = jobkit.modes.of_kind(records, FILTER_KIND, ALARM_KIND)
    made_filter = next((r["after"] for r in found if r["kind"] == FILTER_KIND), None)
    made_alarm = next((r["after"] for r in found if r["kind"] == ALARM_KIND), None)
    changed = []  # check both before touching either
    if made_alarm is not None:
        now = cloudwatch.describe_alarms(AlarmNames=[made_alarm["AlarmName"]])
        states = [alarm_state(dict(a)) for a in now.get("MetricAlarms", [])]
        if states != [{**made_alarm, "AlarmActions": sorted(made_alarm["AlarmActions"])}]:
            changed.append(f"alarm {made_alarm['AlarmName']} is not as the job created it")
    if made_filter is not None:
        group = str(made_filter["logGroupName"])
        named = [filter_state(f) for f in filters(logs, group)]
        named = [f for f in named if f["filterName"] == made_filter["filterName"]]
        if named != [made_filter]:
            changed.append(f"{group}: metric filter {made_filter['filterName']} is not as created")
    if changed:
        raise jobkit.ChangedSince(f"changed since the job created them: {'; '.join(changed)}")
    if made_alarm is not None:
        cloudwatch.delete_alarms(AlarmNames=[made_alarm["AlarmName"]])
        jobkit.change(f"deleted alarm {made_alarm['AlarmName']} (rollback)")
    if made_filter is not None:
        group, name = str(made_filter["logGroupName"]), str(made_filter["filterName"])
        logs.delete_metric_filter(logGroupName=group, filterName=name)
        jobkit.change(f"{group}: deleted metric filter {name} (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
