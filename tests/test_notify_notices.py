"""Notices before a run ends (issue "Safe to turn on"): the Jira issue of a run that waits for an
approval shows the plan and is updated with the decision; a run in its grace period files its issue
first, saying when it will act and how to stop it. One issue per run throughout: the report at the
end is a comment on it. Real workflow on the dev server, the real `jira` client, the emulator."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client

from remedy.starter import decide, get_status, start_remediation, wait_for_result
from remedy.types import (
    AccountAccess,
    ApprovalSettings,
    Decision,
    JobStep,
    NotificationSettings,
    RemediationSpec,
    RunState,
)
from sandbox.aws import AwsSandbox
from sandbox.jira import JiraSandbox
from tests.findings import aws_finding
from tests.test_jobs import rules
from tests.test_notify import jira_env, jira_settings  # noqa: F401 (a fixture)


def spec(aws: AwsSandbox, jira: JiraSandbox, **fields: Any) -> RemediationSpec:
    return RemediationSpec(
        steps=[JobStep(job="security_group_close_port", parameters={"port": 22})],
        access=AccountAccess(role_arn=aws.role_arn, external_id=aws.external_id),
        notify=NotificationSettings(jira=jira_settings(jira)),
        **fields,
    )


def issues_of(jira: JiraSandbox, run_id: str) -> list[dict[str, Any]]:
    return [i for i in jira.issues() if f"remedy-run-{run_id}" in i["labels"]]


async def test_the_ticket_shows_the_plan_and_then_the_decision(
    client: Client,
    start_worker: Any,
    aws_sandbox: AwsSandbox,
    jira_env: JiraSandbox,  # noqa: F811
) -> None:
    worker = await start_worker()
    ec2 = aws_sandbox.admin_client("ec2")
    group = aws_sandbox.open_security_group(22, "notice-approval")
    the_spec = spec(aws_sandbox, jira_env, approval=ApprovalSettings(requester="alice"))
    run_id = await start_remediation(client, aws_finding(group), the_spec, worker.group_id)

    for _ in range(300):
        status = await get_status(client, run_id)
        if status.state == RunState.AWAITING_APPROVAL and status.notification:
            break
        await asyncio.sleep(0.2)
    [issue] = issues_of(jira_env, run_id)
    assert issue["description"].startswith("Remedy remediation *awaiting approval*: waiting for")
    assert f"* {group}: revoked ingress tcp 22-22 from 0.0.0.0/0" in issue["description"]
    assert f"remedy approve {run_id}" in issue["description"]
    assert issue["comments"] == []
    assert status.notification == f"Jira issue {issue['key']} created"
    assert rules(ec2, group) != set()  # nothing changed while it waits

    await decide(client, run_id, Decision(approve=True, by="bob", role="analyst", comment="CHG-7"))
    done = await wait_for_result(client, run_id)
    assert done.state == RunState.SUCCEEDED, done.message
    assert rules(ec2, group) == set()
    [issue] = issues_of(jira_env, run_id)  # still one issue: the rest are comments on it
    decided, report = issue["comments"]
    assert decided.startswith("Remedy: the plan was *approved* by bob (analyst) at ")
    assert decided.split("\n")[0].endswith(": CHG-7")
    assert report.startswith("Remedy remediation *succeeded*: 1 change(s) made")
    assert report.count(f"* {group}: revoked ingress tcp 22-22 from 0.0.0.0/0") == 1  # made once
    assert done.notification == f"commented on Jira issue {issue['key']}"


async def test_a_grace_period_is_announced_before_anything_changes(
    client: Client,
    start_worker: Any,
    aws_sandbox: AwsSandbox,
    jira_env: JiraSandbox,  # noqa: F811
) -> None:
    worker = await start_worker()
    group = aws_sandbox.open_security_group(22, "notice-grace")
    run_id = await start_remediation(
        client, aws_finding(group), spec(aws_sandbox, jira_env, grace_s=2), worker.group_id
    )
    done = await wait_for_result(client, run_id)
    assert done.state == RunState.SUCCEEDED, done.message
    [issue] = issues_of(jira_env, run_id)
    assert issue["description"].startswith(
        "Remedy will remediate this finding once its grace period is over: nothing changes before"
    )
    assert "suppressed in the hub" in issue["description"]
    [report] = issue["comments"]
    assert report.startswith("Remedy remediation *succeeded*")
