"""A job cannot reach the worker's secrets or another run's credentials (issue #22).

A real `remedy worker` process, on each launcher, with a canary planted in its environment as its
Jira token. While one run's job holds its credentials, another run's job (tests/jobcode/snoop)
tries every process of the worker's tree (the worker, the fork server and its children, the other
job) through /proc/<pid>/environ, /proc/<pid>/mem, PTRACE_ATTACH and PTRACE_SEIZE, and finds
nothing; it reads its own environment normally. Runs as the worker's user, or as root: the jobs of
a root worker give up their capabilities, so CAP_SYS_PTRACE does not override non-dumpability.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client

from activities.confine import SCOPED_FROM_ABI, landlock_abi
from remedy.starter import start_remediation, wait_for_result
from remedy.types import AccountAccess, JobStep, RemediationSpec, RunState, TagSettings
from sandbox.aws import AwsSandbox
from tests.conftest import DevServer
from tests.findings import aws_finding
from tests.test_faults import start_worker_process

JOBCODE = Path(__file__).parent / "jobcode"


@dataclass
class WorkerProcess:
    group: str
    process: subprocess.Popen[bytes]
    log: Path
    canary: str


def descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
                parents[int(name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    members = {root}
    while more := {pid for pid, ppid in parents.items() if ppid in members} - members:
        members |= more
    return sorted(members - {root})


def job_pid(worker: int, job: str) -> int | None:
    """The process of the worker's tree running `job` (its cwd is the job's working copy)."""
    for pid in descendants(worker):
        try:
            if os.readlink(f"/proc/{pid}/cwd").endswith(f"/{job}"):
                return pid
        except OSError:
            pass
    return None


@pytest.fixture(params=["subprocess", "forkserver"])
def worker_process(
    request: pytest.FixtureRequest, aws_sandbox: AwsSandbox, dev_server: DevServer, tmp_path: Path
) -> Iterator[WorkerProcess]:
    group = f"iso-{uuid.uuid4().hex[:8]}"
    canary = f"canary-{uuid.uuid4().hex}"
    log = tmp_path / "worker.log"
    process = start_worker_process(
        group,
        aws_sandbox,
        dev_server,
        log,
        REMEDY_LAUNCHER=request.param,
        JIRA_USER="remedy@example.com",
        JIRA_API_TOKEN=canary,
    )
    try:
        yield WorkerProcess(group, process, log, canary)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def spec(job: str, sandbox: AwsSandbox, **parameters: object) -> RemediationSpec:
    return RemediationSpec(
        steps=[JobStep(job=job, parameters=parameters)],
        tags=TagSettings(enabled=False),
        access=AccountAccess(role_arn=sandbox.role_arn, external_id=sandbox.external_id),
    )


async def test_a_job_reaches_no_secret_of_the_worker_the_fork_server_or_another_job(
    client: Client, worker_process: WorkerProcess, aws_sandbox: AwsSandbox, tmp_path: Path
) -> None:
    worker = worker_process.process.pid
    release = tmp_path / "release"
    holder_run = await start_remediation(
        client,
        aws_finding("sg-holder"),
        spec("hold_credentials", aws_sandbox, release=str(release), seconds=120),
        worker_process.group,
    )
    deadline = time.monotonic() + 60
    while (holder := job_pid(worker, "hold_credentials")) is None:
        assert time.monotonic() < deadline, worker_process.log.read_text()[-3000:]
        await asyncio.sleep(0.1)
    try:
        snoop_run = await start_remediation(
            client,
            aws_finding("sg-snoop"),
            spec("snoop", aws_sandbox, worker_pid=worker),
            worker_process.group,
        )
        status = await wait_for_result(client, snoop_run)
    finally:
        release.touch()
    assert status.state == RunState.SUCCEEDED, status
    log = status.steps[2].log_tail
    line = next(ln for ln in log.splitlines() if ln.startswith("SNOOP: "))
    reports = {report["pid"]: report for report in json.loads(line[len("SNOOP: ") :])}

    targets = {worker, holder}
    if worker_process.log.read_text().count("fork server ready"):
        server = next(
            pid
            for pid in descendants(worker)
            if b"activities.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
            and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(worker)
        )
        targets.add(server)
    assert targets <= set(reports), (targets, reports)
    for report in reports.values():
        assert report["found"] == [], report
        assert report["environ"].startswith("refused") or report["environ"] == "read 0 bytes"
        assert report["mem"].startswith("refused") or report["mem"] == "read 0 bytes", report
        assert report["ptrace_attach"] == "refused: EPERM", report
        assert report["ptrace_seize"] == "refused: EPERM", report
        if landlock_abi() >= SCOPED_FROM_ABI:  # Linux 6.12: no signal out of the job's domain
            assert report["signal"] == "refused: EPERM", report

    # the same job reads its own environment and acts as its own run's role
    assert "own secret key read: True" in log
    assert "assumed-role/remedy-remediation/remedy-" in log
    own = next(ln for ln in log.splitlines() if ln.startswith("own env:"))
    assert "AWS_SESSION_TOKEN" in own and "JIRA" not in own

    # the worker's initial environment block no longer holds its secrets, even for root
    withdrawn = next(
        json.loads(line)
        for line in worker_process.log.read_text().splitlines()
        if "own secrets left its environment" in line
    )
    assert {"JIRA_API_TOKEN", "AWS_SECRET_ACCESS_KEY"} <= set(withdrawn["variables"])
    block = Path(f"/proc/{worker}/environ").read_bytes()
    assert worker_process.canary.encode() not in block
    assert aws_sandbox.worker_env()["AWS_SECRET_ACCESS_KEY"].encode() not in block
    assert (await wait_for_result(client, holder_run)).state == RunState.SUCCEEDED


def test_the_worker_says_at_start_which_secrets_left_its_environment(tmp_path: Path) -> None:
    """`withdraw` empties os.environ of them, and their values in the initial environment block,
    which /proc/<pid>/environ shows whatever os.environ says; a child started later has none."""
    canary = f"canary-{uuid.uuid4().hex}"
    script = (
        "import os, subprocess, sys\n"
        "from worker import own_secrets\n"
        "print(sorted(own_secrets.withdraw()))\n"
        "print('JIRA_API_TOKEN' in os.environ)\n"
        "sys.stdout.write(open('/proc/self/environ', 'rb').read().decode(errors='replace'))\n"
        "print(subprocess.run(['env'], capture_output=True, text=True).stdout)\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "JIRA_API_TOKEN": canary,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": canary + "-aws",
        "KEPT": "kept-value",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    withdrawn, in_environ, rest = done.stdout.split("\n", 2)
    assert withdrawn == "['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'JIRA_API_TOKEN']"
    assert in_environ == "False"
    assert canary not in rest and "AKIDEXAMPLE" not in rest
    assert "KEPT=kept-value" in rest  # what is not secret stays


def test_an_orphaned_plain_job_is_found_by_its_command_line(tmp_path: Path) -> None:
    """A non-dumpable job's environ is unreadable to a non-root worker: its owner token is in its
    command line too (the job bootstrap's), which every process may read."""
    from activities.orphans import _job_owner

    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "REMEDY_JOB_OWNER=1:2"], env={}
    )
    try:
        deadline = time.monotonic() + 10
        while _job_owner(process.pid) is None and time.monotonic() < deadline:
            time.sleep(0.05)  # just exec'd: its command line may not be there yet
        assert _job_owner(process.pid) == "1:2"
    finally:
        process.kill()
        process.wait()
