"""Batches on the dev server and the sandbox: findings of one job, account and region fixed by
one workflow, one job process and one verify process, each finding keeping its own run."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any, Literal

import pytest
from temporalio.client import Client

from remedy.batch_protocol import MAX_BATCH_SIZE
from remedy.batch_starter import NotBatchable, plan_batches, start_batch, start_batches
from remedy.batch_status import find_batch
from remedy.batch_types import BatchStatus
from remedy.starter import get_status, run_id_for, wait_for_result
from remedy.types import (
    AccountAccess,
    JobStep,
    NotificationSettings,
    RemediationSpec,
    RetrySettings,
    RunState,
    StepState,
)
from sandbox.aws import AwsSandbox
from sandbox.jira import JiraSandbox
from tests.conftest import DevServer, LogCapture
from tests.findings import aws_finding
from tests.test_cli import cli_env, remedy
from tests.test_faults import JOBCODE, open_on_22
from tests.test_notify import jira_env, jira_settings  # noqa: F401


def spec_for(
    sandbox: AwsSandbox, job: str = "security_group_close_port_22", **step: Any
) -> RemediationSpec:
    return RemediationSpec(
        steps=[
            JobStep(
                job=job,
                retry=RetrySettings(max_attempts=2, initial_interval_s=0.2),
                **step,
            )
        ],
        access=AccountAccess(external_id=sandbox.external_id),
    )


def batch_lines(logs: LogCapture, message: str) -> list[dict[str, Any]]:
    found = []
    for line in logs.lines:
        record = json.loads(line)
        if record.get("msg") == message:
            found.append(record)
    return found


async def test_a_batch_fixes_every_finding_in_one_process_and_one_failing_fails_alone(
    client: Client, start_worker: Any, worker_env: AwsSandbox, captured_logs: LogCapture
) -> None:
    sandbox = worker_env
    groups = [sandbox.open_security_group(22, "batch") for _ in range(30)]
    gone = "sg-0000000000badbad"  # no such group: its finding fails, the others do not
    payloads = [aws_finding(sg) for sg in [*groups[:15], gone, *groups[15:]]]
    worker = await start_worker()
    spec = spec_for(sandbox)

    plan = await start_batches(client, payloads, spec, worker.group_id)
    assert len(plan.batches) == 1 and len(plan.batches[0].members) == 31
    batch_id = plan.batches[0].batch_id
    done: BatchStatus = await client.get_workflow_handle(batch_id, result_type=BatchStatus).result()

    assert open_on_22(sandbox, groups) == []
    by_resource = {m.resource: m for m in done.members}
    failed = by_resource[gone]
    assert failed.state == RunState.FAILED
    assert "InvalidGroup.NotFound" in failed.message, failed.message
    job_step = next(s for s in failed.steps if s.kind == "job")
    assert job_step.attempts == 2 and job_step.exit_code == 1
    for sg in groups:
        member = by_resource[sg]
        assert member.state == RunState.SUCCEEDED, (sg, member.message)
        job = next(s for s in member.steps if s.kind == "job")
        assert any("revoked ingress" in c for c in job.changes), job.changes
        verify = next(s for s in member.steps if s.kind == "verify")
        assert verify.state == StepState.SUCCEEDED
        # each finding keeps the run id a run of it alone would have
        assert member.run_id == run_id_for(member.finding_id or "", spec.display_name())
    assert done.state == RunState.SUCCEEDED and "30 succeeded" in done.message
    # tagged in one CreateTags call, each resource naming the batch that fixed it
    tags = sandbox.admin_client("ec2").describe_tags(
        Filters=[
            {"Name": "resource-id", "Values": groups},
            {"Name": "key", "Values": ["remediation-run-id"]},
        ]
    )["Tags"]
    assert sorted(t["ResourceId"] for t in tags) == sorted(groups)
    assert {t["Value"] for t in tags} == {batch_id}
    assert all(
        next(s for s in by_resource[sg].steps if s.kind == "tag").state == StepState.SUCCEEDED
        for sg in groups
    )
    assert batch_lines(captured_logs, "tagged 30 of 30 resources in 1 calls")

    # one process for the 31, then one for the retry of the one that failed; one verify
    jobs = batch_lines(captured_logs, "batch job finished")
    assert [(r["members"], r.get("verify", False)) for r in jobs] == [
        (31, False),
        (1, False),
        (30, True),
    ]
    # a finding's own run id answers with its own status, during and after the batch
    some = by_resource[groups[3]]
    assert (await get_status(client, some.run_id)).state == RunState.SUCCEEDED
    assert (await wait_for_result(client, some.run_id)).resource == groups[3]
    # its log lines are its own: shipped under its run id
    own = [json.loads(x) for x in captured_logs.lines if some.run_id in x]
    assert any(groups[3] in r["msg"] and r.get("stream") == "job" for r in own)


async def test_a_job_that_takes_one_finding_runs_one_process_per_finding_in_a_batch(
    client: Client, start_worker: Any, worker_env: AwsSandbox, captured_logs: LogCapture
) -> None:
    sandbox = worker_env
    groups = [sandbox.open_security_group(22, "vss") for _ in range(4)]
    spec = spec_for(sandbox, job="vss_silent_close_22")
    worker = await start_worker(job_code=JOBCODE)
    plan = await start_batches(client, [aws_finding(sg) for sg in groups], spec, worker.group_id)
    done: BatchStatus = await client.get_workflow_handle(
        plan.batches[0].batch_id, result_type=BatchStatus
    ).result()
    assert [m.state for m in done.members] == [RunState.SUCCEEDED] * 4, [
        m.message for m in done.members
    ]
    assert open_on_22(sandbox, groups) == []
    assert batch_lines(captured_logs, "batch job finished") == []  # one run_job each instead
    assert len(batch_lines(captured_logs, "job finished")) == 4


def test_what_a_batch_cannot_carry_is_refused_before_anything_starts(
    aws_sandbox: AwsSandbox,
) -> None:
    spec = spec_for(aws_sandbox)
    for change, why in [
        ({"mode": "plan"}, "plan"),
        ({"grace_s": 60}, "grace"),
        ({"on_failure": "rollback"}, "rollback"),
        ({"steps": spec.steps * 2}, "chain"),
    ]:
        with pytest.raises(NotBatchable, match=why):
            plan_batches([aws_finding("sg-1")], spec.model_copy(update=change))


def test_batches_are_cut_by_account_region_and_size_and_a_finding_twice_is_one_member(
    aws_sandbox: AwsSandbox,
) -> None:
    spec = spec_for(aws_sandbox)
    east = [aws_finding(f"sg-{i:017x}") for i in range(250)]
    west = [aws_finding(f"sg-{i:017x}", region="us-west-2") for i in range(3)]
    plan = plan_batches([*east, east[0], *west, {"not": "a finding"}], spec, batch_size=100)
    sizes = sorted((b.region, len(b.members)) for b in plan.batches)
    assert sizes == [("us-east-1", 50), ("us-east-1", 100), ("us-east-1", 100), ("us-west-2", 3)]
    assert [index for index, _ in plan.rejected] == [254]
    # the same findings again: the same batches (a retried start joins its workflow)
    again = plan_batches([*east, *west], spec, batch_size=100)
    assert [b.batch_id for b in again.batches] == [b.batch_id for b in plan.batches]


async def test_a_finding_submitted_while_its_batch_runs_joins_it_and_never_runs_twice(
    client: Client, start_worker: Any, worker_env: AwsSandbox, captured_logs: LogCapture
) -> None:
    sandbox = worker_env
    groups = [sandbox.open_security_group(22, "join") for _ in range(8)]
    first, later = [aws_finding(sg) for sg in groups[:6]], [aws_finding(sg) for sg in groups[6:]]
    worker = await start_worker(job_code=JOBCODE)
    spec = spec_for(sandbox, job="slow_batch_close_22", parameters={"seconds": 3})

    running = await start_batches(client, first, spec, worker.group_id)
    # (Temporal's visibility shows a start a moment later: the hub's store has no such lag)
    while await find_batch(client, running.batches[0].members[0].run_id) is None:
        await asyncio.sleep(0.05)
    # the same six again (one of them twice) with two new ones, while the first batch runs
    again = await start_batches(client, [*first, first[0], *later], spec, worker.group_id)
    batch_id = running.batches[0].batch_id
    assert again.joined == {m.run_id: batch_id for m in running.batches[0].members}
    assert [len(b.members) for b in again.batches] == [2]

    results = [
        await client.get_workflow_handle(b.batch_id, result_type=BatchStatus).result()
        for b in [*running.batches, *again.batches]
    ]
    assert [len(r.members) for r in results] == [6, 2]
    assert all(m.state == RunState.SUCCEEDED for r in results for m in r.members)
    assert open_on_22(sandbox, groups) == []
    ran = [json.loads(x)["msg"] for x in captured_logs.lines if "job pid" in x]
    assert sorted(line.rsplit(" ", 1)[1] for line in ran) == sorted(groups)


async def test_the_command_line_remediates_a_backlog_in_batches_and_shows_each_finding(
    client: Client,
    start_worker: Any,
    worker_env: AwsSandbox,
    dev_server: DevServer,
    tmp_path: Path,
) -> None:
    sandbox = worker_env
    groups = [sandbox.open_security_group(22, "cli") for _ in range(5)]
    findings = tmp_path / "backlog.jsonl"
    lines = [json.dumps(aws_finding(sg)) for sg in groups] + ['{"not": "a finding"}']
    findings.write_text("\n".join(lines))
    worker = await start_worker()
    env = {**cli_env(sandbox, dev_server), "REMEDY_EXTERNAL_ID": sandbox.external_id}
    args = ["remediate-batch", "security_group_close_port_22", "--findings", str(findings)]
    done = await asyncio.to_thread(
        remedy, *args, "--group", worker.group_id, "--batch-size", "2", "--wait", env=env
    )
    # three batches of at most two; the malformed line is named and the command exits 1
    assert done.returncode == 1, done.stdout + done.stderr
    assert "finding #6 not started" in done.stderr
    batch_ids = re.findall(r"^batch (remedy-batch-[0-9a-f]+)", done.stdout, re.M)
    assert len(batch_ids) == 3, done.stdout
    assert open_on_22(sandbox, groups) == []
    shown = await asyncio.to_thread(remedy, "status", batch_ids[0], env=env)
    assert shown.returncode == 0 and "succeeded" in shown.stdout, shown.stdout + shown.stderr
    run_id = re.findall(r"(remedy-security_group_close_port_22-[0-9a-f]+)", shown.stdout)[0]
    own = await asyncio.to_thread(remedy, "status", run_id, "--json", env=env)
    status = json.loads(own.stdout)
    assert status["run_id"] == run_id and status["state"] == "succeeded"
    assert status["resource"] in groups
    assert any("revoked ingress" in c for s in status["steps"] for c in s["changes"])


async def test_the_largest_batch_stays_far_inside_temporal_s_history_limits(
    client: Client, start_worker: Any, worker_env: AwsSandbox
) -> None:
    sandbox = worker_env
    groups = [sandbox.open_security_group(22, "max") for _ in range(MAX_BATCH_SIZE)]
    worker = await start_worker()
    plan = await start_batches(
        client, [aws_finding(sg) for sg in groups], spec_for(sandbox), worker.group_id
    )
    assert [len(b.members) for b in plan.batches] == [MAX_BATCH_SIZE]
    handle = client.get_workflow_handle(plan.batches[0].batch_id, result_type=BatchStatus)
    done = await handle.result()
    assert [m.state for m in done.members] == [RunState.SUCCEEDED] * MAX_BATCH_SIZE
    events = [event async for event in handle.fetch_history_events()]
    # a few events per step, not per finding (Temporal's limit: 51 200 events, 2 MB a payload)
    assert len(events) < 60, len(events)
    largest = max(len(event.SerializeToString()) for event in events)
    assert largest < 1_000_000, largest


@pytest.mark.parametrize("per", ["finding", "batch"])
async def test_a_batch_notifies_each_finding_or_once_as_asked(
    client: Client,
    start_worker: Any,
    worker_env: AwsSandbox,
    jira_env: JiraSandbox,  # noqa: F811
    per: Literal["finding", "batch"],
) -> None:
    sandbox = worker_env
    groups = [sandbox.open_security_group(22, "notify") for _ in range(3)]
    before = {issue["key"] for issue in jira_env.issues()}
    worker = await start_worker()
    # the action's word (its notification settings), as the hub starts it
    notify = NotificationSettings(jira=jira_settings(jira_env), per_batch=per == "batch")
    spec = spec_for(sandbox).model_copy(update={"notify": notify})
    plan = plan_batches([aws_finding(sg) for sg in groups], spec)
    [batch] = plan.batches
    await start_batch(client, batch, spec, worker.group_id)
    done = await client.get_workflow_handle(batch.batch_id, result_type=BatchStatus).result()

    issues = [i for i in jira_env.issues() if i["key"] not in before]
    if per == "finding":  # each finding its own issue, linking to the batch in the UI
        assert sorted(i["summary"].rsplit(" ", 1)[1] for i in issues) == sorted(groups)
        for member in done.members:
            mine = [i for i in issues if member.resource in i["summary"]]
            assert len(mine) == 1 and f"remedy-run-{member.run_id}" in mine[0]["labels"]
            assert f"/workflows/{batch.batch_id}" in mine[0]["description"]
            assert member.notification == f"Jira issue {mine[0]['key']} created"
    else:  # one issue for the batch, naming every resource
        [issue] = issues
        assert all(sg in issue["description"] for sg in groups)
        assert {m.notification for m in done.members} == {
            f"with its batch: Jira issue {issue['key']} created"
        }
