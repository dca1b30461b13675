"""The demo's safety show: one finding through an action that asks for approval, then rolled back.

A security group open on 22 is posted as a VSS finding to an action with `approval` set: its run
plans and waits; the demo prints the plan the hub lists (GET /approvals) and the Jira issue that
shows it, approves it as the hub's admin (the run's requester is the auto-remediation, so the
admin may), and watches the run apply the approved plan. Then it rolls the run back
(POST /runs/{id}/rollback) and looks at the sandbox: the port is open again, as before the run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from console.demo_cases import JIRA_PROJECT, OPEN
from console.demo_hub import DemoHub
from console.sandbox_cloud import Clouds
from sandbox.aws import ACCOUNT_ID

RULE = "5c8c25ec7a550e1fb6560bbe"  # VSS: security group open to the internet on 22
JOB = "security_group_close_port_22"
ENDED = {"succeeded", "succeeded_with_errors", "failed", "cancelled", "skipped", "terminated"}


@dataclass
class SafetyShow:
    group: str = ""
    run_id: str = ""
    plan: list[str] = field(default_factory=list)
    ticket: str = ""
    ticket_comments: int = 0
    approved: str = ""  # the run's state once approved
    fixed: bool = False
    rollback_id: str = ""
    rolled_back: str = ""  # the rollback run's state
    reopened: bool = False  # the port open again, as before the run
    problem: str = ""

    @property
    def ok(self) -> bool:
        return (
            bool(self.plan)
            and self.approved == "succeeded"
            and self.fixed
            and self.rolled_back == "succeeded"
            and self.reopened
            and not self.problem
        )


def _ssh_open(clouds: Clouds, group: str) -> bool:
    ec2 = clouds.aws.admin_client("ec2")
    (found,) = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]
    return any(
        p.get("FromPort") == 22 and any(r.get("CidrIp") == OPEN for r in p.get("IpRanges", []))
        for p in found["IpPermissions"]
    )


def _wait(
    hub: DemoHub, run_id: str, done: Callable[[dict[str, Any]], bool], timeout_s: float
) -> dict[str, Any]:
    deadline, run = time.monotonic() + timeout_s, {}
    while time.monotonic() < deadline:
        run = hub.call("GET", f"/runs/{run_id}")
        if done(run):
            return dict(run)
        time.sleep(0.3)
    return dict(run)


def _finding(clouds: Clouds, group: str) -> dict[str, Any]:
    return {
        "cloudAccount": {"provider": "aws", "roleArn": clouds.aws.role_arn},
        "notificationInfo": {
            "CloudAccountID": ACCOUNT_ID,
            "RuleID": RULE,
            "RuleDisplayName": "Security group allows SSH from the internet",
            "Level": "High",
            "Service": "EC2",
            "FindingInfo": {
                "FindingId": f"demo-approval-{uuid.uuid4().hex[:12]}",
                "ObjectId": group,
                "Region": clouds.aws.region,
                "RiskScore": 80,
            },
        },
        "autoRemediate": True,
    }


def approve_then_roll_back(
    hub: DemoHub, group_id: str, clouds: Clouds, say: Callable[[str], None], timeout_s: float
) -> SafetyShow:
    """Run the show; every outcome is read from the hub and the sandbox, never assumed."""
    show = SafetyShow(group=clouds.aws.open_security_group(22, "approval-ssh"))
    action = hub.call(
        "POST",
        "/remediations",
        {
            "name": f"demo approval {JOB}",
            "provider": "aws",
            "worker_group_id": group_id,
            "rule_ids": [RULE],
            "steps": [{"job": JOB}],
            "notify": {"jira": {"server": clouds.jira.url, "project": JIRA_PROJECT}},
            "auto_remediate": True,
            "approval": {"expires_hours": 1},
        },
    )
    hub.call("POST", f"/remediations/{action['id']}/publish")
    (item,) = hub.call("POST", "/findings", [_finding(clouds, show.group)])["items"]
    show.run_id = item["runs"][0]
    waiting = _wait(
        hub, show.run_id, lambda r: r["status"] in {"awaiting_approval", *ENDED}, timeout_s
    )
    if waiting.get("status") != "awaiting_approval":
        show.problem = (
            f"the run did not wait for approval: {waiting.get('status')} {waiting.get('message')}"
        )
        return show
    pending = [a for a in hub.call("GET", "/approvals") if a["run"]["id"] == show.run_id]
    show.plan = pending[0]["plan"] if pending else []
    issues = [i for i in clouds.jira.issues() if f"remedy-run-{show.run_id}" in i["labels"]]
    show.ticket = issues[0]["key"] if issues else ""
    say(f"    {show.group}: the run waits for approval; its plan (GET /approvals):")
    for change in show.plan:
        say(f"      - {change}")
    say(
        f"    Jira {show.ticket or '(no issue)'} shows the plan; the port is still open: "
        f"{_ssh_open(clouds, show.group)}"
    )
    hub.call("POST", f"/runs/{show.run_id}/approve", {"comment": "approved in the demo"})
    approved = _wait(hub, show.run_id, lambda r: r["status"] in ENDED, timeout_s)
    show.approved = approved.get("status", "")
    show.fixed = not _ssh_open(clouds, show.group)
    say(f"    approved by demo-admin: the run {show.approved}, port 22 closed: {show.fixed}")

    rollback = hub.call("POST", f"/runs/{show.run_id}/rollback")
    show.rollback_id = rollback["id"]
    undone = _wait(hub, show.rollback_id, lambda r: r["status"] in ENDED, timeout_s)
    show.rolled_back = undone.get("status", "")
    show.reopened = _ssh_open(clouds, show.group)
    issues = [i for i in clouds.jira.issues() if f"remedy-run-{show.run_id}" in i["labels"]]
    show.ticket_comments = len(issues[0]["comments"]) if issues else 0
    say(
        f"    rolled back (POST /runs/<run>/rollback): the rollback run {show.rolled_back}, "
        f"port 22 open again as before the run: {show.reopened}"
    )
    return show
