"""Findings through the hub to a fixed resource: auto and manual runs on the real dev server, a
hub-linked in-process worker, and the IAM-enforced sandbox cloud."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client

from remedy.config import TemporalSettings
from remedy.starter import get_status, wait_for_result
from remedy.types import RemediationInput
from sandbox.aws import ACCOUNT_ID, AwsSandbox
from tests.conftest import DevServer
from tests.findings import aws_finding
from tests.hub_fixtures import (
    GroupCredentials,
    HubHarness,
    associate_account,
    hub_store,
    make_harness,
    new_group,
    run_started,
    wait_until,
)
from tests.test_workflow_runs import new_group as new_security_group
from tests.test_workflow_runs import tags_of

UI = "http://temporal-ui.test"


@dataclass
class Setup:
    hub: HubHarness
    group: GroupCredentials
    rule: str


@pytest_asyncio.fixture
async def linked(
    request: pytest.FixtureRequest,
    client: Client,
    dev_server: DevServer,
    aws_sandbox: AwsSandbox,
    tmp_path: Path,
    hub_worker: Any,
) -> AsyncIterator[Setup]:
    """A hub (SQLite unless parametrized) with a group whose worker is online, and the sandbox
    account associated."""
    temporal = TemporalSettings(address=dev_server.address, ui_url=UI)
    kind = getattr(request, "param", "sqlite")
    with hub_store(kind, tmp_path, hub_status_timeout_s=5) as store:
        h = make_harness(store, temporal, temporal_client=client)
        group = await new_group(h)
        await associate_account(h, group, aws_sandbox.role_arn, aws_sandbox.external_id)
        await hub_worker(h, group)
        yield Setup(h, group, f"rule-{uuid.uuid4().hex[:8]}")
        await h.aclose()


async def make_action(s: Setup, **changes: Any) -> dict[str, Any]:
    body = {
        "name": f"probe-{uuid.uuid4().hex[:6]}",
        "provider": "aws",
        "worker_group_id": s.group.group_id,
        "rule_ids": [s.rule],
        "steps": [{"job": "probe_env", "parameters": {"port": 443}}],
        "status": "published",
        **changes,
    }
    return dict(await s.hub.ok("POST", "/remediations", json=body))


async def ended(s: Setup, client: Client, run_id: str) -> dict[str, Any]:
    await run_started(s.hub, run_id)  # POST /findings answers before the run starts
    await wait_for_result(client, run_id)
    return dict(await s.hub.ok("GET", f"/runs/{run_id}", role="viewer"))


async def test_a_posted_finding_is_auto_remediated_once(
    linked: Setup, client: Client, aws_sandbox: AwsSandbox
) -> None:
    s = linked
    await make_action(s, auto_remediate=True, criteria={"min_level": "High"})
    low = aws_finding("sg-low", rule_id=s.rule)
    low["notificationInfo"]["Level"] = "Low"
    sg = new_security_group(aws_sandbox)
    finding = aws_finding(sg, rule_id=s.rule, old_style=True)  # the role comes from the account
    posted = await s.hub.ok("POST", "/findings", json=[finding, low], role="analyst")
    item, skipped = posted["items"]
    assert skipped["matched"] == [] and skipped["runs"] == []
    assert len(item["matched"]) == 1 and len(item["runs"]) == 1
    assert item["status"] == "queued"  # its run is claimed, not started yet
    run_id = item["runs"][0]

    run = await ended(s, client, run_id)
    assert run["status"] == "succeeded", run
    assert run["trigger"] == "auto" and run["live"] is True
    assert run["temporal_url"] == f"{UI}/namespaces/default/workflows/{run_id}"
    job = next(step for step in run["steps"] if step["kind"] == "job")
    assert set(job["changes"]) == {f"probed {sg}"}, job["log_tail"]
    assert '"port": 443' in job["log_tail"]
    assert tags_of(aws_sandbox, sg)["remediation-run-id"] == run_id
    finding_id = finding["notificationInfo"]["FindingInfo"]["FindingId"]
    assert (await s.hub.ok("GET", f"/findings/{finding_id}"))["status"] == "remediated"
    history = await client.get_workflow_handle(run_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    (request,) = await client.data_converter.decode(started.input.payloads, [RemediationInput])
    assert request.payload["autoRemediate"] is True
    assert request.spec.access.role_arn == aws_sandbox.role_arn

    async def shipped() -> bool:
        logs = await s.hub.ok("GET", f"/runs/{run_id}/logs", params={"order": "oldest"})
        return any(f"CHANGE: probed {sg}" in e["text"] for e in logs["items"])

    await wait_until(shipped, what="the worker shipping the job's log")
    group_logs = await s.hub.ok("GET", f"/worker-groups/{s.group.group_id}/logs")
    assert any(e["run_id"] == run_id and e["job"] == "probe_env" for e in group_logs["items"])
    everything = json.dumps(group_logs) + json.dumps(run)
    for secret in aws_sandbox.secrets():
        assert secret not in everything

    again = await s.hub.ok("POST", "/findings", json=finding)
    assert again["items"][0]["runs"] == [run_id] and again["items"][0]["result"] == "updated"
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{run_id}'")]
    assert len(runs) == 1


@pytest.mark.parametrize("linked", ["sqlite", "postgresql"], indirect=True)
async def test_two_hubs_racing_on_one_finding_start_one_run(
    linked: Setup, client: Client, aws_sandbox: AwsSandbox, dev_server: DevServer
) -> None:
    s = linked
    await make_action(s, auto_remediate=True)
    other = make_harness(
        s.hub.settings, s.hub.hub.temporal_settings, temporal_client=client, tokens=s.hub.tokens
    )
    finding = aws_finding(new_security_group(aws_sandbox), rule_id=s.rule)
    try:
        answers = await asyncio.gather(
            *(h.ok("POST", "/findings", json=finding, role="analyst") for h in (s.hub, other) * 2)
        )
    finally:
        await other.aclose()
    run_ids = {run for answer in answers for run in answer["items"][0]["runs"]}
    assert len(run_ids) == 1
    (run_id,) = run_ids
    await run_started(s.hub, run_id)
    await wait_for_result(client, run_id)
    assert await s.hub.hub.runs.poll_once() == 1  # the background poller's pass
    polled = await s.hub.ok("GET", "/runs", params={"status": "succeeded"})
    assert [r["id"] for r in polled["items"]] == [run_id]
    assert len([w async for w in client.list_workflows(f"WorkflowId = '{run_id}'")]) == 1
    listed = await s.hub.ok(
        "GET",
        "/runs",
        params={"finding_id": finding["notificationInfo"]["FindingInfo"]["FindingId"]},
    )
    assert listed["total"] == 1


async def test_an_analyst_runs_an_action_by_hand(
    linked: Setup, client: Client, aws_sandbox: AwsSandbox
) -> None:
    s = linked
    action = await make_action(s, status="draft")  # not matched on ingest; runnable by hand
    sg = new_security_group(aws_sandbox)
    finding = aws_finding(sg, rule_id=s.rule)
    finding_id = finding["notificationInfo"]["FindingInfo"]["FindingId"]
    posted = await s.hub.ok("POST", "/findings", json=finding)
    assert posted["items"][0]["runs"] == [] and posted["items"][0]["status"] == "open"
    path = f"/remediations/{action['id']}/run"

    viewer = await s.hub.as_("viewer").post(path, json={"finding_ids": [finding_id]})
    assert viewer.status_code == 403
    other_rule = aws_finding("sg-x", rule_id="another-rule")
    await s.hub.ok("POST", "/findings", json=other_rule)
    mismatched = await s.hub.admin.post(
        path, json={"finding_ids": [other_rule["notificationInfo"]["FindingInfo"]["FindingId"]]}
    )
    assert mismatched.status_code == 422 and mismatched.json()["field"] == "finding_ids.0"
    missing = await s.hub.admin.post(path, json={"finding_ids": ["no-such-finding"]})
    assert missing.status_code == 422 and "POST the finding" in missing.json()["fix"]

    started = await s.hub.ok("POST", path, json={"finding_ids": [finding_id]}, role="analyst")
    (run,) = started["runs"]
    assert run["status"] == "submitted" and run["trigger"] == "manual"
    assert run["triggered_by"] == "analyst-user"
    assert (await s.hub.ok("GET", f"/findings/{finding_id}"))["status"] == "remediating"
    done = await ended(s, client, run["id"])
    assert done["status"] == "succeeded" and done["ended_at"]
    assert tags_of(aws_sandbox, sg)["remediation-run-id"] == run["id"]
    assert (await s.hub.ok("GET", f"/findings/{finding_id}"))["status"] == "remediated"
    same = await s.hub.ok("POST", path, json={"finding_ids": [finding_id]}, role="analyst")
    assert same["runs"][0]["id"] == run["id"] and same["runs"][0]["status"] == "succeeded"

    await s.hub.ok("POST", f"/worker-groups/{s.group.group_id}/disable")
    refused = await s.hub.as_("analyst").post(path, json={"finding_ids": [finding_id]})
    assert refused.status_code == 409
    assert "disabled" in refused.json()["error"] and "enable" in refused.json()["fix"]


async def test_a_failed_run_marks_the_finding_failed_and_can_be_run_again(
    linked: Setup, client: Client, aws_sandbox: AwsSandbox
) -> None:
    s = linked
    action = await make_action(
        s, steps=[{"job": "fail_job", "retry": {"max_attempts": 1}}], auto_remediate=True
    )
    finding = aws_finding(new_security_group(aws_sandbox), rule_id=s.rule)
    finding_id = finding["notificationInfo"]["FindingInfo"]["FindingId"]
    (run_id,) = (await s.hub.ok("POST", "/findings", json=finding))["items"][0]["runs"]
    failed = await ended(s, client, run_id)
    assert failed["status"] == "failed" and "exited with code 1" in failed["message"]
    assert (await s.hub.ok("GET", f"/findings/{finding_id}"))["status"] == "failed"
    # the poller's pass finds nothing left to follow
    assert await s.hub.hub.runs.poll_once() == 0
    again = await s.hub.ok(
        "POST", f"/remediations/{action['id']}/run", json={"finding_ids": [finding_id]}
    )
    assert again["runs"][0]["id"] == run_id and again["runs"][0]["status"] == "submitted"
    assert (await ended(s, client, run_id))["status"] == "failed"


async def test_runs_claimed_while_temporal_is_away_start_when_it_answers(
    client: Client, dev_server: DevServer, tmp_path: Path
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from hub.models import QueuedStart, Run, utcnow
    from remedy.types import JobInfo

    with hub_store("sqlite", tmp_path) as store:
        away = make_harness(store)  # Temporal at an address where nothing answers
        group = await new_group(away)
        job = JobInfo(name="probe_env", provider="aws", checksum="a" * 64)
        async with away.worker_api(group.client_id, group.client_secret) as api:
            registered = await api.post(
                "/worker/register", json={"worker_id": "w", "jobs": [job.model_dump()]}
            )
            assert registered.status_code == 200
        role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/remedy-remediation"
        await associate_account(away, group, role_arn, "e-1")
        s = Setup(away, group, "rule-away")
        await make_action(s, auto_remediate=True)
        posted = await away.ok("POST", "/findings", json=aws_finding("sg-1", rule_id="rule-away"))
        (run_id,) = posted["items"][0]["runs"]
        pending = await away.ok("GET", f"/runs/{run_id}")
        assert pending["status"] == "pending" and "will retry" in pending["message"]
        assert posted["items"][0]["status"] == "queued"
        finding_id = posted["items"][0]["finding_id"]
        # its only run still pending: the finding waits, it is not being remediated
        assert (await away.ok("GET", f"/findings/{finding_id}"))["status"] == "queued"

        back = make_harness(
            store,
            TemporalSettings(address=dev_server.address),
            temporal_client=client,
            tokens=away.tokens,
        )
        assert await back.hub.runs.poll_once() == 0  # too recent: the claimant may still start it
        away.hub.db.run(
            lambda session: session.execute(
                update(Run).values(updated_at=utcnow() - timedelta(minutes=1))
            )
        )
        away.hub.db.run(  # and past the queued start's backoff
            lambda session: session.execute(
                update(QueuedStart).values(next_try_at=utcnow() - timedelta(minutes=1))
            )
        )
        assert await back.hub.runs.poll_once() == 1
        started = await back.ok("GET", "/runs", params={"status": "submitted"})
        assert [r["id"] for r in started["items"]] == [run_id]
        assert (await back.ok("GET", f"/findings/{finding_id}"))["status"] == "remediating"
        description = await client.get_workflow_handle(run_id).describe()
        assert description.task_queue == f"remedy-{group.group_id}"
        await client.get_workflow_handle(run_id).terminate("no worker in this test")
        await away.aclose()
        await back.aclose()


async def test_a_job_that_logs_errors_but_exits_0_remediates_with_errors(
    linked: Setup, client: Client, aws_sandbox: AwsSandbox
) -> None:
    s = linked
    await make_action(s, steps=[{"job": "quiet_failure"}], auto_remediate=True)
    finding = aws_finding(new_security_group(aws_sandbox), rule_id=s.rule)
    (run_id,) = (await s.hub.ok("POST", "/findings", json=finding))["items"][0]["runs"]
    run = await ended(s, client, run_id)
    assert run["status"] == "succeeded_with_errors" and run["ended_at"]
    finding_id = finding["notificationInfo"]["FindingInfo"]["FindingId"]
    assert (await s.hub.ok("GET", f"/findings/{finding_id}"))["status"] == "remediated"
    listed = await s.hub.ok("GET", "/runs", params={"status": "succeeded_with_errors"})
    assert [r["id"] for r in listed["items"]] == [run_id]


async def test_a_run_terminated_in_temporal_reads_terminated_in_the_hub(
    linked: Setup, client: Client, dev_server: DevServer
) -> None:
    """The workflow's search attribute still says running; the hub reads Temporal's state."""
    s = linked
    await make_action(s, auto_remediate=True, steps=[{"job": "hang_job"}])
    posted = await s.hub.ok("POST", "/findings", json=[aws_finding("sg-t", rule_id=s.rule)])
    run_id = posted["items"][0]["runs"][0]
    await run_started(s.hub, run_id)

    async def job_running() -> bool:
        status = await get_status(client, run_id)
        return status.current_step == "job hang_job"

    await wait_until(job_running, what="the job running")
    assert (await s.hub.ok("GET", f"/runs/{run_id}"))["status"] == "running"
    plain = await Client.connect(dev_server.address)  # as an operator's own tooling does
    await plain.get_workflow_handle(run_id).terminate(reason="stopped by the on-call")
    run = await s.hub.ok("GET", f"/runs/{run_id}", role="viewer")
    assert run["status"] == "terminated", run
    assert "stopped by the on-call" in run["message"]
