"""The workflow's edges, driven as other teams drive it: the stock `temporal` CLI and a plain
temporalio client (no Remedy converter), against the dev server and a real worker.

Malformed input ends the run naming the field; a workflow task that keeps failing shows as
`stuck` instead of hanging; a cancel stops the job within seconds and keeps its changes; a
terminated run reads as terminated and its job is stopped and logged.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from remedy.starter import get_status, start_remediation, wait_for_result, workflow_id_for
from remedy.types import (
    AccountAccess,
    JobStep,
    RemediationInput,
    RemediationSpec,
    RetrySettings,
    RunState,
    StepState,
)
from sandbox.aws import AwsSandbox
from tests.conftest import DevServer
from tests.findings import aws_finding
from worker.main import start_launcher

JOBCODE = Path(__file__).parent / "jobcode"
TEMPORAL = str(Path(sys.executable).parent / "temporal")
REMEDY = [sys.executable, "-m", "console"]


def _spec(sandbox: AwsSandbox, job: str) -> RemediationSpec:
    return RemediationSpec(
        steps=[JobStep(job=job, retry=RetrySettings(max_attempts=1))],
        access=AccountAccess(role_arn=sandbox.role_arn, external_id=sandbox.external_id),
    )


def _temporal_start(dev_server: DevServer, queue: str, run_id: str, *inputs: str) -> None:
    """`temporal workflow start`, the stock CLI, as the issue started the bad inputs."""
    argv = [TEMPORAL, "workflow", "start", "--address", dev_server.address]
    argv += ["--type", "RemediationWorkflow", "--task-queue", queue, "--workflow-id", run_id]
    for given in inputs:
        argv += ["--input", given]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


async def _closed(plain: Client, run_id: str, within_s: float) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        described = await plain.get_workflow_handle(run_id).describe()
        if described.status != WorkflowExecutionStatus.RUNNING or time.monotonic() > deadline:
            return described
        await asyncio.sleep(0.2)


def _cli_env(dev_server: DevServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TEMPORAL_"))}
    return {**env, "TEMPORAL_ADDRESS": dev_server.address, "COLUMNS": "250"}


# ------------------------------------------------------------------------------------------------
# 1. Input that does not decode ends the run, naming the field.
# ------------------------------------------------------------------------------------------------

BAD_INPUTS = {
    "job with a path": (
        lambda payload: {"payload": payload, "spec": {"steps": [{"job": "../../etc"}]}},
        "spec.steps.0.job: String should match pattern",
    ),
    "no spec": (lambda payload: {"payload": payload}, "spec: Field required"),
    "step for steps": (
        lambda payload: {"payload": payload, "spec": {"step": [{"job": "probe_env"}]}},
        "spec.steps: Field required; spec.step: Extra inputs are not permitted",
    ),
    "unknown key": (
        lambda payload: {
            "payload": payload,
            "spec": {"steps": [{"job": "probe_env"}]},
            "colour": "red",
        },
        "colour: Extra inputs are not permitted",
    ),
    "not an object": (lambda payload: "just a string", "input: Input should be a valid"),
    "no input at all": (None, "the run was started without an input"),
}


async def test_any_input_started_with_the_stock_cli_ends_the_run_naming_the_field(
    client: Client, start_worker, dev_server: DevServer
) -> None:
    worker = await start_worker(JOBCODE)
    queue = f"remedy-{worker.group_id}"
    plain = await Client.connect(dev_server.address)  # no Remedy converter: what teams use
    started = {}
    for name, (make, _) in BAD_INPUTS.items():
        run_id = f"bad-input-{uuid.uuid4().hex[:8]}"
        given = [] if make is None else [json.dumps(make(aws_finding("sg-1")))]
        _temporal_start(dev_server, queue, run_id, *given)
        started[name] = run_id

    for name, (_, named) in BAD_INPUTS.items():
        run_id = started[name]
        described = await _closed(plain, run_id, within_s=30)
        assert described.status == WorkflowExecutionStatus.FAILED, (name, described.status)
        with pytest.raises(WorkflowFailureError) as failed:
            await plain.get_workflow_handle(run_id).result()
        cause = failed.value.cause
        assert named in str(cause), (name, str(cause))
        assert getattr(cause, "non_retryable", False) and getattr(cause, "type", "") == (
            "InvalidInput"
        )
        answered = await plain.get_workflow_handle(run_id).query("status")
        assert answered["state"] == "failed" and named in answered["message"], (name, answered)
        attributes = described.search_attributes
        assert attributes.get("RemediationStatus") == ["failed"], (name, attributes)
        # and Remedy's own reading says the same, at once
        status = await get_status(client, run_id)
        assert status.state == RunState.FAILED and named in status.message


async def test_a_failing_workflow_task_shows_as_stuck_and_a_joining_remediate_does_not_hang(
    client: Client, start_worker, dev_server: DevServer, aws_sandbox: AwsSandbox, tmp_path: Path
) -> None:
    """Two arguments are decoded by the SDK itself and the call fails: the workflow task fails
    and Temporal retries it forever. The run has the id Remedy derives for its finding."""
    worker = await start_worker(JOBCODE)
    finding = aws_finding("sg-stuck", finding_id=f"stuck-{uuid.uuid4().hex[:8]}")
    run_id = workflow_id_for(finding["notificationInfo"]["FindingInfo"]["FindingId"], "probe_env")
    queue = f"remedy-{worker.group_id}"
    _temporal_start(dev_server, queue, run_id, "{}", "{}")
    try:
        deadline = time.monotonic() + 30
        status = await get_status(client, run_id)
        while status.state != RunState.STUCK and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
            status = await get_status(client, run_id)
        assert status.state == RunState.STUCK, status
        assert "its workflow task fails" in status.message and "positional argument" in (
            status.message
        )

        env = _cli_env(dev_server)
        shown = subprocess.run(
            [*REMEDY, "status", run_id], env=env, capture_output=True, text=True, timeout=60
        )
        assert shown.returncode == 0 and "stuck" in shown.stdout, shown.stdout + shown.stderr

        payload = tmp_path / "finding.json"
        payload.write_text(json.dumps(finding))
        argv = ["remediate", "probe_env", "--group", worker.group_id, "--payload", str(payload)]
        joined = subprocess.run(
            [*REMEDY, *argv, "--external-id", aws_sandbox.external_id, "--wait"],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert joined.returncode == 1, joined.stdout + joined.stderr
        assert run_id in joined.stdout and "stuck" in joined.stdout
    finally:
        await client.get_workflow_handle(run_id).terminate(reason="test over")


# ------------------------------------------------------------------------------------------------
# 2-4. Cancel and terminate mid-job.
# ------------------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is not alive
        return stat.read().split()[2] != "Z"


def _closed_22(sandbox: AwsSandbox, group: str) -> bool:
    found = sandbox.admin_client("ec2").describe_security_groups(GroupIds=[group])
    return not any(p.get("FromPort") == 22 for p in found["SecurityGroups"][0]["IpPermissions"])


async def _until(check: Any, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.1)


async def test_a_cancel_mid_job_with_the_cloud_paused_stops_the_job_within_seconds(
    client: Client, start_worker, dev_server: DevServer, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    group = aws_sandbox.open_security_group(22, "cancel")
    run_id = await start_remediation(
        client, aws_finding(group), _spec(aws_sandbox, "change_then_wait"), worker.group_id
    )
    moto = aws_sandbox.process
    assert moto is not None
    await _until(lambda: _closed_22(aws_sandbox, group), 60)  # the job made its change
    moto.send_signal(signal.SIGSTOP)  # the cloud paused: the job's next call hangs
    try:
        plain = await Client.connect(dev_server.address)
        await asyncio.sleep(1)
        cancelled_at = time.monotonic()
        await plain.get_workflow_handle(run_id).cancel()
        described = await _closed(plain, run_id, within_s=30)
        took = time.monotonic() - cancelled_at
    finally:
        moto.send_signal(signal.SIGCONT)
    assert described.status == WorkflowExecutionStatus.CANCELED
    assert took < 8, f"the run took {took:.1f} s to stop its job"
    assert described.search_attributes.get("RemediationStatus") == ["cancelled"]

    status = await wait_for_result(client, run_id)
    job = status.steps[2]
    assert status.state == RunState.CANCELLED, status
    assert job.state == StepState.CANCELLED
    assert job.changes and all(group in change for change in job.changes), job
    assert "change(s) made before it stopped" in status.message and "revoked" in status.message
    assert status.steps[3].state == StepState.SKIPPED  # nothing tagged
    pid = int(re.search(r"job pid (\d+)", job.log_tail)[1])  # type: ignore[index]
    assert not _alive(pid), "the job outlived the cancel"
    answered = await plain.get_workflow_handle(run_id).query("status")
    assert answered["state"] == "cancelled"


async def test_a_terminated_run_reads_terminated_and_its_job_is_stopped_and_logged(
    client: Client, start_worker, dev_server: DevServer, aws_sandbox: AwsSandbox, captured_logs
) -> None:
    worker = await start_worker(JOBCODE)
    group = aws_sandbox.open_security_group(22, "terminate")
    run_id = await start_remediation(
        client, aws_finding(group), _spec(aws_sandbox, "change_then_wait"), worker.group_id
    )
    await _until(lambda: _closed_22(aws_sandbox, group), 60)
    plain = await Client.connect(dev_server.address)
    terminated_at = time.monotonic()
    await plain.get_workflow_handle(run_id).terminate(reason="an operator stopped it")

    await _until(lambda: "its run had ended" in captured_logs.text(), 10)
    assert time.monotonic() - terminated_at < 8
    logged = [json.loads(line) for line in captured_logs.lines if "its run had ended" in line]
    assert logged[0]["runId"] == run_id and "revoked ingress" in logged[0]["msg"]
    pid = int(re.search(r"job pid (\d+)", captured_logs.text())[1])  # type: ignore[index]
    await asyncio.sleep(0.5)
    assert not _alive(pid), "the job outlived its run"

    status = await get_status(client, run_id)
    assert status.state == RunState.TERMINATED, status
    assert "an operator stopped it" in status.message
    assert status.steps[2].state == StepState.CANCELLED  # the job step, as it was then
    shown = subprocess.run(
        [*REMEDY, "status", run_id],
        env=_cli_env(dev_server),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert re.search(rf"{run_id}.*: terminated terminated in Temporal", shown.stdout), shown.stdout


async def test_a_run_past_its_execution_timeout_reads_timed_out(
    client: Client, start_worker, aws_sandbox: AwsSandbox, captured_logs
) -> None:
    worker = await start_worker(JOBCODE)
    # the fork server up first, as `remedy worker` has it: the window times the job alone
    await start_launcher(worker.parts.runner.launcher)
    run_id = f"timed-out-{uuid.uuid4().hex[:8]}"
    spec = _spec(aws_sandbox, "hang_job")
    await client.start_workflow(
        "RemediationWorkflow",
        RemediationInput(payload=aws_finding("sg-1"), spec=spec),
        id=run_id,
        task_queue=f"remedy-{worker.group_id}",
        execution_timeout=timedelta(seconds=4),
    )
    await _until(lambda: "its run had ended" in captured_logs.text(), 20)  # the job was stopped
    status = await get_status(client, run_id)
    assert status.state == RunState.TIMED_OUT, status
    assert status.message.startswith("timed out in Temporal")
