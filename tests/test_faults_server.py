"""The Temporal server restarted mid-batch (the dev server on its SQLite file): nothing lost.

A dedicated dev server (not the session one other tests share) is stopped while jobs run, kept
down 15 s (longer than the SDK's own retries of a completion last), then started again on the same port and the same database. The worker that
was polling it is left alone: it must reconnect by itself and every run must complete.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from console.local_processes import wait_for_line
from remedy.config import TemporalSettings
from remedy.starter import start_remediation, wait_for_result
from remedy.temporal import connect, start_dev_server, stop_process
from remedy.types import AccountAccess, JobStep, RemediationSpec, RunState
from sandbox.aws import AwsSandbox, free_port
from tests.conftest import DevServer
from tests.findings import aws_finding
from tests.test_faults import open_on_22, running_jobs, start_worker_process

pytestmark = pytest.mark.slow

RUNS = 20
DOWN_S = 15


def open_groups(sandbox: AwsSandbox, count: int) -> list[str]:
    """Security groups open to the world on tcp/22."""
    return [sandbox.open_security_group(22, "restart") for _ in range(count)]


async def test_a_temporal_server_restarted_mid_batch_loses_no_run_and_the_worker_reconnects(
    aws_sandbox: AwsSandbox, tmp_path: Path
) -> None:
    group = f"restart-{uuid.uuid4().hex[:8]}"
    groups = open_groups(aws_sandbox, RUNS)
    port = free_port()
    state_dir = tmp_path / "temporal"
    server = DevServer(f"127.0.0.1:{port}", start_dev_server(port, state_dir))
    worker: subprocess.Popen[bytes] | None = None
    log = tmp_path / "worker.log"
    try:
        client = await connect(TemporalSettings(address=server.address))
        worker = start_worker_process(group, aws_sandbox, server, log)
        spec = RemediationSpec(
            steps=[JobStep(job="slow_close_22", parameters={"seconds": 3})],
            access=AccountAccess(external_id=aws_sandbox.external_id),
        )
        run_ids = await asyncio.gather(
            *(start_remediation(client, aws_finding(sg), spec, group) for sg in groups)
        )

        # the server goes down with jobs in flight (the fork server's spare child counts as one)
        deadline = time.monotonic() + 30
        while len(in_flight := running_jobs(worker.pid)) < 6 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert len(in_flight) >= 6, log.read_text()[-3000:]

        stop_process(server.process)
        await asyncio.sleep(DOWN_S)
        assert worker.poll() is None, log.read_text()[-3000:]
        server = DevServer(server.address, start_dev_server(port, state_dir))
        client = await connect(TemporalSettings(address=server.address))

        statuses = await asyncio.wait_for(
            asyncio.gather(*(wait_for_result(client, r) for r in run_ids)), 240
        )
        assert [s.state for s in statuses] == [RunState.SUCCEEDED] * RUNS, [
            (s.run_id, s.state, s.message) for s in statuses if s.state != RunState.SUCCEEDED
        ]
        assert open_on_22(aws_sandbox, groups) == []
        # nothing ran twice: a job whose completion was lost in the outage is answered from the
        # worker's memory when Temporal retries it, not run again
        ran = Counter(m[1] for m in re.finditer(r"job pid \d+ on (sg-[0-9a-f]+)", log.read_text()))
        assert ran == dict.fromkeys(groups, 1), log.read_text()[-3000:]
        running = [
            w
            async for w in client.list_workflows(
                f"TaskQueue = 'remedy-{group}' AND ExecutionStatus = 'Running'"
            )
        ]
        assert running == []

        assert worker.poll() is None, "the worker did not survive the server's restart"
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0, log.read_text()[-3000:]
        wait_for_line(log, "Worker stopped", 5)
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        stop_process(server.process)
