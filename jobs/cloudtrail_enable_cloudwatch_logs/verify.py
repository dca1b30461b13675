"""Verify cloudtrail_enable_cloudwatch_logs: the trail sends its events to a CloudWatch Logs log
group, with a role."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit.cloudtrail import find_trail


def verify(finding: jobkit.Finding) -> None:
    trail = find_trail(finding)
    problems = [
        f"trail {trail.name}: no {setting}"
        for setting in ("CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn")
        if not trail.get(setting)
    ]
    jobkit.verdict(
        problems,
        f"trail {trail.name} sends its events to {trail.get('CloudWatchLogsLogGroupArn')}",
    )


if __name__ == "__main__":
    jobkit.run(verify, __file__)
