"""Send a CloudTrail trail's events to CloudWatch Logs (Security Hub CloudTrail.5).

ObjectId: the trail's name or ARN; the trail is changed in its home region (remedy/jobkit/
cloudtrail.py). Parameters: `log_group_name`, a log group in the trail's home region, and
`role`, the IAM role (name or ARN) CloudTrail assumes to write to it. The job creates neither:
it checks that the log group exists and that the role's trust policy lets cloudtrail.amazonaws.com
assume it, and otherwise fails (exit 1, nothing changed) saying what is missing. Only the trail's
CloudWatchLogsLogGroupArn and CloudWatchLogsRoleArn change; handing the role to CloudTrail needs
iam:PassRole.

Plan prints the same CHANGE line after reading only. The record keeps both settings as they were
(none) and as left (kind `cloudtrail-cloudwatch-logs`); rollback takes them off again (empty ARNs)
while the trail still sends to the job's log group with the job's role.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import urllib.parse
from typing import Any

from remedy import jobkit
from remedy.jobkit.cloudtrail import Trail, find_trail

KIND = "cloudtrail-cloudwatch-logs"
PRINCIPAL = "cloudtrail.amazonaws.com"


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def trusts_cloudtrail(document: Any) -> bool:
    """Whether a role's trust policy lets CloudTrail assume the role."""
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    for statement in _listed(statements):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) else None
        actions = [str(a).lower() for a in _listed(statement.get("Action", []))]
        if PRINCIPAL in _listed(services) and {"sts:assumerole", "sts:*", "*"} & set(actions):
            return True
    return False


def destination(finding: jobkit.Finding, trail: Trail) -> tuple[str, str]:
    """(log group ARN, role ARN), once both are usable; else exit 1 saying what is missing."""
    home = dataclasses.replace(finding, region=trail.home_region or finding.region)
    group_name: str = finding.parameters["log_group_name"]
    role: str = finding.parameters["role"]
    problems = []
    logs = jobkit.client("logs", home)
    groups = logs.describe_log_groups(logGroupNamePrefix=group_name).get("logGroups", [])
    group = next((g for g in groups if g.get("logGroupName") == group_name), None)
    group_arn = ""
    if group is None:
        problems.append(
            f"log group {group_name} does not exist in {home.region}: create it (with the "
            "retention you want) first"
        )
    else:
        arn = str(group["arn"])
        group_arn = arn if arn.endswith(":*") else f"{arn}:*"  # the form CloudTrail takes
    iam = jobkit.client("iam", finding)
    role_name = role.rsplit("/", 1)[-1] if role.startswith("arn:") else role
    found = iam.get_role(RoleName=role_name)["Role"]
    if not trusts_cloudtrail(found.get("AssumeRolePolicyDocument")):
        problems.append(
            f"role {found['Arn']}'s trust policy does not let {PRINCIPAL} assume it (sts:AssumeRole)"
        )
    if problems:
        jobkit.error(
            f"trail {trail.name} was not changed: it cannot send its events to CloudWatch Logs: "
            f"{'; '.join(problems)}"
        )
        sys.exit(jobkit.EXIT_FAILED)
    return group_arn, str(found["Arn"])


def remediate(finding: jobkit.Finding) -> None:
    trail = find_trail(finding)
    if trail.get("CloudWatchLogsLogGroupArn"):
        jobkit.info(
            f"ok: trail {trail.name} already sends its events to "
            f"{trail.get('CloudWatchLogsLogGroupArn')}"
        )
        return
    group_arn, role_arn = destination(finding, trail)
    before = {
        "CloudWatchLogsLogGroupArn": None,
        "CloudWatchLogsRoleArn": trail.get("CloudWatchLogsRoleArn"),
    }
    after = {"CloudWatchLogsLogGroupArn": group_arn, "CloudWatchLogsRoleArn": role_arn}
    jobkit.record(trail.arn, KIND, before, after)
    if not jobkit.planning():
        trail.client.update_trail(
            Name=trail.arn, CloudWatchLogsLogGroupArn=group_arn, CloudWatchLogsRoleArn=role_arn
        )
    jobkit.change(f"trail {trail.name}: events sent to CloudWatch Logs {group_arn} as {role_arn}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    found = jobkit.modes.of_kind(records, KIND)
    trail = find_trail(finding)
    if any(r["resource"] != trail.arn for r in found):
        raise jobkit.RecordError(f"the change records are not about trail {trail.arn}")
    after = found[-1]["after"]
    now = {key: trail.get(key) for key in after}
    if now != after:
        raise jobkit.ChangedSince(
            f"trail {trail.name} changed since the job set its CloudWatch Logs: it is now "
            f"{json.dumps(now, sort_keys=True)}"
        )
    trail.client.update_trail(
        Name=trail.arn, CloudWatchLogsLogGroupArn="", CloudWatchLogsRoleArn=""
    )
    jobkit.change(f"trail {trail.name}: no longer sends its events to CloudWatch Logs (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
