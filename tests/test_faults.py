"""Faults production brings, on the real dev server and sandbox: nothing lost, nothing left behind."""

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
from pathlib import Path

import pytest
from temporalio.client import Client

from console.local_processes import wait_for_line
from remedy.starter import start_remediation, wait_for_result
from remedy.types import AccountAccess, JobStep, RemediationSpec, RunState
from sandbox.aws import AwsSandbox
from tests.conftest import DevServer
from tests.findings import aws_finding

JOBCODE = Path(__file__).parent / "jobcode"
pytestmark = pytest.mark.slow


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def running_jobs(worker_pid: int) -> list[int]:
    """The job processes forked by a worker's fork server (its spare child included)."""
    return [job for server in children(worker_pid) for job in children(server)]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start_worker_process(
    group: str, sandbox: AwsSandbox, server: DevServer, log: Path, **extra_env: str
) -> subprocess.Popen[bytes]:
    """A real `remedy worker` process on the sandbox, with only the sandbox's identity (and
    `extra_env`) in its environment; returns once it waits for work."""
    ours = ("AWS_", "TEMPORAL_", "JIRA")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(sandbox.worker_env(), TEMPORAL_ADDRESS=server.address, **extra_env)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "console",
                "worker",
                "--group",
                group,
                "--job-code",
                str(JOBCODE),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_line(log, "Worker started and is waiting for work", 60, process)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process


def open_on_22(sandbox: AwsSandbox, groups: list[str]) -> list[str]:
    found = sandbox.admin_client("ec2").describe_security_groups(GroupIds=groups)["SecurityGroups"]
    return [
        g["GroupId"]
        for g in found
        for p in g["IpPermissions"]
        if p.get("FromPort") == 22
        and any(r["CidrIp"] == "0.0.0.0/0" for r in p.get("IpRanges", []))
    ]


async def test_a_worker_killed_mid_batch_loses_nothing_and_leaves_no_job_behind(
    client: Client, aws_sandbox: AwsSandbox, dev_server: DevServer, tmp_path: Path
) -> None:
    group = f"faults-{uuid.uuid4().hex[:8]}"
    groups = [aws_sandbox.open_security_group(22, "kill") for _ in range(50)]
    first = start_worker_process(group, aws_sandbox, dev_server, tmp_path / "first.log")
    spec = RemediationSpec(
        steps=[JobStep(job="slow_close_22", parameters={"seconds": 6})],
        access=AccountAccess(external_id=aws_sandbox.external_id),
    )
    run_ids = await asyncio.gather(
        *(start_remediation(client, aws_finding(sg), spec, group) for sg in groups)
    )

    deadline = time.monotonic() + 60
    while len(orphans := running_jobs(first.pid)) < 10 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert len(orphans) >= 10, (tmp_path / "first.log").read_text()[-3000:]
    fork_servers = children(first.pid)
    sockets = [
        Path(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[-2].decode())
        for pid in fork_servers
    ]
    assert sockets and all(path.is_socket() for path in sockets), sockets
    first.send_signal(signal.SIGKILL)
    first.wait()

    second = start_worker_process(group, aws_sandbox, dev_server, tmp_path / "second.log")
    try:
        await asyncio.sleep(3)
        left = [pid for pid in orphans if alive(pid)]
        assert not left, [
            Path(f"/proc/{p}/stat").read_text() + Path(f"/proc/{p}/cmdline").read_text()[:200]
            for p in left
        ]
        assert not [pid for pid in fork_servers if alive(pid)], (
            "the dead worker's fork server lives on"
        )
        assert not [path for path in sockets if path.parent.exists()], "its socket is left behind"
        statuses = await asyncio.wait_for(
            asyncio.gather(*(wait_for_result(client, r) for r in run_ids)), 240
        )
    finally:
        second.terminate()
        second.wait(60)
    assert [s.state for s in statuses] == [RunState.SUCCEEDED] * 50
    assert open_on_22(aws_sandbox, groups) == []
    running = [
        w
        async for w in client.list_workflows(
            f"TaskQueue = 'remedy-{group}' AND ExecutionStatus = 'Running'"
        )
    ]
    assert running == []
    retried = [s for s in statuses if s.steps[2].attempts > 1]
    assert retried, "the steps of the killed worker were handed to the new one"
    assert (
        json.loads(wait_for_line(tmp_path / "second.log", "Worker stopped", 5))["workerGroupID"]
        == group
    )
