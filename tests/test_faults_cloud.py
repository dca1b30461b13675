"""The cloud going away mid-batch: runs wait for it with backoff and complete when it is back."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from remedy.starter import get_status, start_remediation, wait_for_result
from remedy.types import (
    AccountAccess,
    JobStep,
    RemediationSpec,
    RetrySettings,
    RunState,
    StepState,
)
from sandbox.aws import AwsSandbox
from sandbox.proxy import OutageProxy
from tests.findings import aws_finding
from worker.main import start_launcher

JOBCODE = Path(__file__).parent / "jobcode"
OUTAGE_S = 20


def spec(sandbox: AwsSandbox, job: str, **step: object) -> RemediationSpec:
    return RemediationSpec(
        steps=[JobStep(job=job, **step)],  # type: ignore[arg-type]
        access=AccountAccess(role_arn=sandbox.role_arn, external_id=sandbox.external_id),
    )


def tagged(sandbox: AwsSandbox, group: str) -> bool:
    found = sandbox.admin_client("ec2").describe_tags(
        Filters=[{"Name": "resource-id", "Values": [group]}]
    )
    return any(t["Key"] == "remediated-by" for t in found["Tags"])


def open_to_world(sandbox: AwsSandbox, groups: list[str], port: int) -> list[str]:
    found = sandbox.admin_client("ec2").describe_security_groups(GroupIds=groups)["SecurityGroups"]
    return [
        g["GroupId"]
        for g in found
        for p in g["IpPermissions"]
        if p.get("FromPort") == port
        and any(r["CidrIp"] == "0.0.0.0/0" for r in p.get("IpRanges", []))
    ]


async def test_a_transient_failure_is_retried_beyond_the_attempts_until_it_clears(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    # the fork server up first, as `remedy worker` has it: the window times the job alone
    await start_launcher(worker.parts.runner.launcher)
    retry = RetrySettings(max_attempts=1, initial_interval_s=0.5, backoff=1.5, max_interval_s=2)
    run_id = await start_remediation(
        client,
        aws_finding(aws_sandbox.open_security_group(22, "transient")),
        # 8 s of outage: at least 3 attempts at these intervals even on a loaded machine
        spec(aws_sandbox, "unreachable_cloud", parameters={"until": time.time() + 8}, retry=retry),
        worker.group_id,
    )
    # while it waits, the status says why
    deadline = time.monotonic() + 30
    waiting = ""
    while time.monotonic() < deadline and not waiting:
        job = (await get_status(client, run_id)).steps[2]
        waiting = job.message if job.message.startswith("waiting") else ""
        await asyncio.sleep(0.2)
    assert "the cloud endpoint refused the connection" in waiting, waiting

    status = await wait_for_result(client, run_id)
    job = status.steps[2]
    assert status.state == RunState.SUCCEEDED, status.message
    assert job.state == StepState.SUCCEEDED and job.attempts >= 3  # max_attempts was 1
    assert "the cloud answered: done" in job.log_tail


async def test_a_transient_failure_that_outlasts_its_window_fails_the_run_and_says_so(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    # the fork server up first, as `remedy worker` has it: the window times the job alone
    await start_launcher(worker.parts.runner.launcher)
    # a 6 s window at 0.5 s intervals leaves room for 3 attempts even on a loaded machine
    retry = RetrySettings(max_attempts=2, initial_interval_s=0.5, backoff=1.0, transient_window_s=6)
    run_id = await start_remediation(
        client,
        aws_finding(aws_sandbox.open_security_group(22, "transient")),
        spec(
            aws_sandbox, "unreachable_cloud", parameters={"until": time.time() + 3600}, retry=retry
        ),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)
    job = status.steps[2]
    assert status.state == RunState.FAILED
    assert job.attempts >= 3, job  # more than its 2 attempts: retried through the window
    assert "still failing after 6 s of retries" in status.message, status.message
    assert "Could not connect to the endpoint URL" in job.log_tail


async def test_an_ordinary_failure_does_not_wait_for_the_transient_window(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    retry = RetrySettings(max_attempts=2, initial_interval_s=0.2, transient_window_s=3600)
    started = time.monotonic()
    run_id = await start_remediation(
        client,
        aws_finding(aws_sandbox.open_security_group(22, "plain")),
        spec(aws_sandbox, "fail_job", retry=retry),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.FAILED and status.steps[2].attempts == 2
    assert "still failing" not in status.message
    assert time.monotonic() - started < 60


@pytest.mark.slow
@pytest.mark.parametrize("outage", ["refused", "frozen"])
async def test_the_cloud_down_for_20_s_mid_batch_delays_runs_but_fails_none(
    client: Client,
    start_worker,
    aws_sandbox: AwsSandbox,
    monkeypatch: pytest.MonkeyPatch,
    outage: str,
) -> None:
    """The cloud goes away for 20 s while 30 runs are going, in the two ways a cloud does.

    - refused: moto's endpoint is gone (connections refused, open ones reset; a proxy in front of
      moto, which keeps its state in memory and so cannot be restarted);
    - frozen: the moto process is stopped (SIGSTOP): connections are accepted and never answered.

    Every step that meets the outage (assume role, the job, its verify, tagging) waits or retries
    with backoff; every run succeeds once the cloud is back, every group is closed and tagged.
    """
    proxy = OutageProxy(aws_sandbox.endpoint)
    moto = aws_sandbox.process
    assert moto is not None
    cut, restore = {
        "refused": (proxy.down, proxy.up),
        "frozen": (
            lambda: moto.send_signal(signal.SIGSTOP),
            lambda: moto.send_signal(signal.SIGCONT),
        ),
    }[outage]
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        worker = await start_worker()  # the built-in jobs, reaching the cloud through the proxy
        groups = [aws_sandbox.open_security_group(22, "outage") for _ in range(30)]
        the_spec = spec(
            aws_sandbox,
            "security_group_close_port",
            parameters={"port": 22},
            retry=RetrySettings(initial_interval_s=1, max_interval_s=8),
        )
        run_ids = await asyncio.gather(
            *(
                start_remediation(
                    client,
                    aws_finding(g, finding_id=f"outage-{uuid.uuid4().hex[:8]}"),
                    the_spec,
                    worker.group_id,
                )
                for g in groups
            )
        )
        # let the first few finish, then take the cloud away
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            still_open = len(open_to_world(aws_sandbox, groups, 22))
            if still_open <= 25:
                break
            await asyncio.sleep(0.05)
        cut()
        cut_at = time.monotonic()
        try:
            await asyncio.sleep(OUTAGE_S)
        finally:
            restore()
        statuses = await asyncio.wait_for(
            asyncio.gather(*(wait_for_result(client, r) for r in run_ids)), 180
        )
        healed = time.monotonic() - cut_at
    finally:
        moto.send_signal(signal.SIGCONT)
        proxy.stop()

    assert still_open > 0, "the outage came after every run was done: nothing was tested"
    assert [s.state for s in statuses] == [RunState.SUCCEEDED] * 30, [
        s.message for s in statuses if s.state != RunState.SUCCEEDED
    ]
    assert open_to_world(aws_sandbox, groups, 22) == []
    assert all(tagged(aws_sandbox, g) for g in groups)
    assert healed >= OUTAGE_S
    if outage == "refused":
        hit = [s for s in statuses if any(step.attempts > 1 for step in s.steps)]
        assert hit, "no step met the outage"
    else:  # held, not refused: some step was in flight across the whole freeze
        slowest = max(
            (step.ended_at - step.started_at).total_seconds()
            for s in statuses
            for step in s.steps
            if step.started_at and step.ended_at
        )
        assert slowest >= OUTAGE_S - 1
