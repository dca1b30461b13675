"""Verify cloudwatch_cis_metric_alarm: the trail's log group has a metric filter with the
control's pattern, and an alarm on its metric notifies an SNS topic."""

from __future__ import annotations

import sys

from cloudwatch_cis_metric_alarm import CannotFix, compliance, log_group

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    pattern = str(finding.parameters["pattern"])
    try:
        group = log_group(finding)
    except CannotFix as exc:
        jobkit.verdict([str(exc)], "")
        sys.exit(jobkit.EXIT_NONCOMPLIANT)
    logs = jobkit.client("logs", finding)
    cloudwatch = jobkit.client("cloudwatch", finding)
    matching, alarms = compliance(logs, cloudwatch, group, pattern)
    problems = []
    if not matching:
        problems.append(f"{group} has no metric filter with the pattern {pattern}")
    elif not alarms:
        names = ", ".join(str(f["filterName"]) for f in matching)
        problems.append(f"{group}: no alarm on the metric of filter {names} notifies an SNS topic")
    jobkit.verdict(problems, f"{group}: metric filter {pattern} and alarm {', '.join(alarms)}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
