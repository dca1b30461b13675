"""Faults production brings to batches (workflows/batch.py), on real worker processes, the
session dev server (or a dedicated one to restart) and the sandbox: a worker killed mid-batch, the
Temporal server restarted mid-batch, one finding failing inside a batch. Every finding keeps its
own run id and status; nothing is lost, nothing runs twice, no job process is left behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from activities.batch_jobs import FinishedBatches
from console.local_processes import wait_for_line
from remedy.batch_protocol import BATCH_FILE
from remedy.batch_starter import start_batches
from remedy.batch_types import BatchJobResult, BatchStatus, MemberResult
from remedy.config import TemporalSettings
from remedy.starter import get_status, run_id_for
from remedy.temporal import connect, start_dev_server, stop_process
from remedy.types import (
    AccountAccess,
    JobStep,
    RemediationSpec,
    RetrySettings,
    RunState,
    RunStatus,
    StepState,
)
from sandbox.aws import AwsSandbox, free_port
from tests.conftest import DevServer
from tests.findings import aws_finding
from tests.test_faults import alive, children, open_on_22, running_jobs, start_worker_process

pytestmark = pytest.mark.slow

JOB = "slow_batch_close_22"
#: a job step whose worker died is retried after its heartbeat timeout (30 s), then runs again
WAIT_S = 300
#: how long the restarted server stays down: longer than the SDK retries a completion
DOWN_S = 25


def slow_spec(sandbox: AwsSandbox, seconds: float, **step: Any) -> RemediationSpec:
    return RemediationSpec(
        steps=[JobStep(job=JOB, parameters={"seconds": seconds}, **step)],
        access=AccountAccess(external_id=sandbox.external_id),
    )


def batch_processes(worker_pid: int) -> list[int]:
    """The worker's job processes running a batch (their working copy holds the batch file);
    the fork server's idle spare child is not one."""
    found = []
    for pid in running_jobs(worker_pid):
        with contextlib.suppress(OSError):
            if (Path(os.readlink(f"/proc/{pid}/cwd")).parent / BATCH_FILE).is_file():
                found.append(pid)
    return found


def log_records(log: Path) -> list[dict[str, Any]]:
    """The worker's JSON log lines (anything else it printed is skipped)."""
    records = []
    for line in log.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                records.append(record)
    return records


def batch_runs(log: Path) -> Counter[str]:
    """How many job processes each batch ran, by batch id (each prints `batch pid` once)."""
    return Counter(
        str(r.get("runId"))
        for r in log_records(log)
        if str(r.get("msg", "")).startswith("batch pid ")
    )


async def batch_results(client: Client, batch_ids: list[str]) -> list[BatchStatus]:
    return await asyncio.wait_for(
        asyncio.gather(
            *(client.get_workflow_handle(b, result_type=BatchStatus).result() for b in batch_ids)
        ),
        WAIT_S,
    )


def job_step(member: RunStatus) -> Any:
    return next(s for s in member.steps if s.kind == "job")


async def assert_every_member_fixed(
    client: Client, done: list[BatchStatus], spec: RemediationSpec, groups: list[str]
) -> None:
    """Every batch and member succeeded, each member under its own run id with its own status,
    each resource changed by the batch (not found already fixed by a second run)."""
    assert [b.state for b in done] == [RunState.SUCCEEDED] * len(done), [
        (b.batch_id, b.state, b.message) for b in done
    ]
    members = [m for b in done for m in b.members]
    assert sorted(m.resource or "" for m in members) == sorted(groups)
    bad = [(m.resource, m.state, m.message) for m in members if m.state != RunState.SUCCEEDED]
    assert not bad, bad
    assert len({m.run_id for m in members}) == len(groups)
    for member in members:
        assert member.run_id == run_id_for(member.finding_id or "", spec.display_name())
        changes = job_step(member).changes
        assert any("revoked ingress" in c for c in changes), (member.resource, changes)
    own = await asyncio.gather(*(get_status(client, m.run_id) for m in members))
    assert [(s.run_id, s.state) for s in own] == [(m.run_id, RunState.SUCCEEDED) for m in members]


async def running_on(client: Client, group: str) -> list[Any]:
    return [
        w
        async for w in client.list_workflows(
            f"TaskQueue = 'remedy-{group}' AND ExecutionStatus = 'Running'"
        )
    ]


async def test_a_worker_killed_mid_batch_loses_no_member_and_leaves_no_batch_job_behind(
    client: Client, aws_sandbox: AwsSandbox, dev_server: DevServer, tmp_path: Path
) -> None:
    group = f"bfaults-{uuid.uuid4().hex[:8]}"
    groups = [aws_sandbox.open_security_group(22, "bkill") for _ in range(60)]
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_worker_process(group, aws_sandbox, dev_server, first_log)
    spec = slow_spec(aws_sandbox, 6)
    plan = await start_batches(
        client, [aws_finding(sg) for sg in groups], spec, group, batch_size=25
    )
    batch_ids = [b.batch_id for b in plan.batches]
    assert [len(b.members) for b in plan.batches] == [25, 25, 10]

    # every batch's one job process is running (in its pause) on the first worker
    deadline = time.monotonic() + 60
    while len(doomed := batch_processes(first.pid)) < 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert len(doomed) == 3, first_log.read_text()[-3000:]
    orphans = running_jobs(first.pid)
    fork_servers = children(first.pid)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert batch_runs(first_log) == {}, "a batch finished before its worker was killed"

    second = start_worker_process(group, aws_sandbox, dev_server, second_log)
    try:
        await asyncio.sleep(3)
        left = [pid for pid in orphans if alive(pid)]
        assert not left, [Path(f"/proc/{p}/cmdline").read_text()[:200] for p in left]
        assert not [pid for pid in fork_servers if alive(pid)], "the dead worker's fork server"
        done = await batch_results(client, batch_ids)
        assert batch_processes(second.pid) == [], "a batch job outlived its batch"
    finally:
        second.terminate()
        second.wait(60)

    await assert_every_member_fixed(client, done, spec, groups)
    assert open_on_22(aws_sandbox, groups) == []
    # the killed attempt counts: each batch's process was retried (its attempt 2) by the second
    # worker, and each member's job step says it took two processes
    for batch in done:
        for member in batch.members:
            assert next(s for s in member.steps if s.kind == "job").attempts == 2, member.run_id
    retried = {
        str(r["runId"]): r["attempt"]
        for r in log_records(second_log)
        if r.get("msg") == "batch job finished"
    }
    assert retried == dict.fromkeys(batch_ids, 2), retried
    # one process per batch on the second worker: the retry ran the batch once
    assert batch_runs(second_log) == dict.fromkeys(batch_ids, 1), batch_runs(second_log)
    assert await running_on(client, group) == []
    assert json.loads(wait_for_line(second_log, "Worker stopped", 5))["workerGroupID"] == group


async def test_a_temporal_server_restarted_mid_batch_loses_no_member_and_runs_no_batch_twice(
    aws_sandbox: AwsSandbox, tmp_path: Path
) -> None:
    group = f"brestart-{uuid.uuid4().hex[:8]}"
    groups = [aws_sandbox.open_security_group(22, "brestart") for _ in range(40)]
    port = free_port()
    state_dir = tmp_path / "temporal"
    server = DevServer(f"127.0.0.1:{port}", start_dev_server(port, state_dir))
    worker: subprocess.Popen[bytes] | None = None
    log = tmp_path / "worker.log"
    try:
        client = await connect(TemporalSettings(address=server.address))
        worker = start_worker_process(group, aws_sandbox, server, log)
        spec = slow_spec(aws_sandbox, 1)
        plan = await start_batches(
            client, [aws_finding(sg) for sg in groups], spec, group, batch_size=20
        )
        batch_ids = [b.batch_id for b in plan.batches]
        assert len(batch_ids) == 2

        # the server goes down while both batch processes are in their pause: they finish
        # while it is down, and it stays down longer than the SDK retries their completions
        # (about 10 s): Temporal never hears of them, and retries both after their heartbeat
        # timeout
        deadline = time.monotonic() + 60
        while len(batch_processes(worker.pid)) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert len(batch_processes(worker.pid)) == 2, log.read_text()[-3000:]
        stop_process(server.process)
        await asyncio.sleep(DOWN_S)
        assert worker.poll() is None, log.read_text()[-3000:]
        server = DevServer(server.address, start_dev_server(port, state_dir))
        client = await connect(TemporalSettings(address=server.address))

        done = await batch_results(client, batch_ids)
        await assert_every_member_fixed(client, done, spec, groups)
        assert open_on_22(aws_sandbox, groups) == []
        # nothing ran twice: a batch whose completion was lost in the outage is answered from
        # the worker's memory when Temporal retries it, not run again
        assert batch_runs(log) == dict.fromkeys(batch_ids, 1), log.read_text()[-3000:]
        assert await running_on(client, group) == []

        assert worker.poll() is None, "the worker did not survive the server's restart"
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0, log.read_text()[-3000:]
        wait_for_line(log, "Worker stopped", 5)
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        stop_process(server.process)


def remedy_status(address: str, run_id: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """`remedy status RUN` as a user runs it: the CLI, TEMPORAL_ADDRESS from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env.update(TEMPORAL_ADDRESS=address, COLUMNS="200", NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "console", "status", run_id, *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_one_finding_failing_in_a_batch_on_a_worker_process_fails_alone_and_says_why(
    client: Client, aws_sandbox: AwsSandbox, dev_server: DevServer, tmp_path: Path
) -> None:
    group = f"bfail-{uuid.uuid4().hex[:8]}"
    groups = [aws_sandbox.open_security_group(22, "bfail") for _ in range(6)]
    gone = "sg-0000000000badbad"  # no such group
    spec = slow_spec(aws_sandbox, 0.5, retry=RetrySettings(max_attempts=2, initial_interval_s=0.2))
    worker = start_worker_process(group, aws_sandbox, dev_server, tmp_path / "worker.log")
    try:
        plan = await start_batches(
            client, [aws_finding(sg) for sg in [*groups[:3], gone, *groups[3:]]], spec, group
        )
        assert len(plan.batches) == 1
        (done,) = await batch_results(client, [plan.batches[0].batch_id])
        by_resource = {m.resource: m for m in done.members}
        failed, fine = by_resource[gone], by_resource[groups[0]]
        # `remedy status <its run id>` answers with the failed finding's own state and reason
        # (the batch's `finding` query, answered by its group's worker)
        shown = remedy_status(dev_server.address, failed.run_id, "--json")
        printed = remedy_status(dev_server.address, failed.run_id)
        ok = remedy_status(dev_server.address, fine.run_id, "--json")
    finally:
        worker.terminate()
        worker.wait(60)

    assert open_on_22(aws_sandbox, groups) == []
    assert failed.state == RunState.FAILED
    assert "InvalidGroup.NotFound" in failed.message, failed.message
    assert job_step(failed).state == StepState.FAILED and job_step(failed).exit_code == 1
    for sg in groups:
        assert by_resource[sg].state == RunState.SUCCEEDED, by_resource[sg].message
    assert done.state == RunState.SUCCEEDED and "6 succeeded" in done.message, done.message

    assert shown.returncode == 0, shown.stderr
    said = RunStatus.model_validate_json(shown.stdout)
    assert (said.run_id, said.state, said.resource) == (failed.run_id, RunState.FAILED, gone)
    assert "InvalidGroup.NotFound" in said.message, said.message
    assert job_step(said).exit_code == 1 and job_step(said).attempts == 2
    assert printed.returncode == 0, printed.stderr
    assert failed.run_id in printed.stdout and "failed" in printed.stdout, printed.stdout
    assert "InvalidGroup.NotFound" in printed.stdout, printed.stdout
    # a member that succeeded answers with its own success, under its own run id
    assert ok.returncode == 0, ok.stderr
    its = RunStatus.model_validate_json(ok.stdout)
    assert (its.run_id, its.state, its.resource) == (fine.run_id, RunState.SUCCEEDED, groups[0])


def test_finished_batches_are_kept_by_attempt_key_up_to_a_number_of_members() -> None:
    def result(members: int) -> BatchJobResult:
        return BatchJobResult(
            job=JOB,
            attempt=1,
            duration_s=1.0,
            exit_code=0,
            members=[MemberResult(run_id=f"r{i}", exit_code=0) for i in range(members)],
        )

    kept = FinishedBatches(members_kept=10)
    first, second, third = ("wf", "run", "1"), ("wf", "run", "2"), ("wf2", "run", "1")
    kept.keep(first, result(6))
    kept.keep(second, result(4))
    assert kept.get(first) is not None and kept.get(("wf", "other run", "1")) is None
    kept.keep(third, result(3))  # 13 members: the oldest batch goes
    assert kept.get(first) is None
    assert kept.get(second) is not None and kept.get(third) is not None
    kept.keep(first, result(50))  # one batch larger than the bound is still kept, alone
    assert kept.get(first) is not None and kept.get(second) is None and kept.get(third) is None
