"""Liveness and readiness of the worker (a real process, and its parts) and of the hub."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client

from activities.launchers import ForkServerLauncher
from console.local_processes import wait_for_line
from hub.config import HubSettings
from hub.routes.health import readiness_reason
from remedy.starter import get_status, start_remediation, wait_for_result
from remedy.types import AccountAccess, JobStep, RemediationSpec, RunState, StepState
from sandbox.aws import AwsSandbox
from sandbox.proxy import OutageProxy
from tests.conftest import DevServer
from tests.findings import aws_finding
from tests.hub_fixtures import hub_store, make_harness, postgres_url, served
from tests.observed import observed_worker
from tests.test_faults import open_on_22, start_worker_process
from worker.health import HealthServer, Readiness
from worker.main import fork_server_check, start_launcher


def answer(url: str) -> tuple[int, dict[str, str]]:
    found = httpx.get(url, timeout=10)
    return found.status_code, found.json()


async def test_readiness_waits_for_polling_and_the_fork_server_and_ends_with_the_drain() -> None:
    launcher = ForkServerLauncher()
    readiness = Readiness(fork_server=fork_server_check(launcher))
    server = HealthServer("127.0.0.1", 0, asyncio.get_running_loop(), readiness)
    server.start()
    url = f"http://127.0.0.1:{server.port}"
    try:

        def ready() -> tuple[int, dict[str, str]]:
            return answer(f"{url}/readyz")

        assert await asyncio.to_thread(ready) == (
            503,
            {"status": "not ready", "reason": "not polling its task queue yet"},
        )
        readiness.polling = True
        assert await asyncio.to_thread(ready) == (
            503,
            {"status": "not ready", "reason": "the fork server is not up"},
        )
        await start_launcher(launcher)
        assert launcher.server_pid is not None
        assert await asyncio.to_thread(ready) == (200, {"status": "ready"})
        # liveness: the event loop answers the server's thread
        assert await asyncio.to_thread(answer, f"{url}/healthz") == (200, {"status": "ok"})
        readiness.draining = True
        code, body = await asyncio.to_thread(ready)
        assert code == 503 and body["reason"].startswith("draining")
    finally:
        server.stop()
        await launcher.close()


def test_liveness_fails_when_the_event_loop_is_gone() -> None:
    loop = asyncio.new_event_loop()
    server = HealthServer("127.0.0.1", 0, loop, Readiness())
    server.start()
    try:
        loop.close()  # nothing will run the probe's call
        assert answer(f"http://127.0.0.1:{server.port}/healthz") == (
            503,
            {"status": "the event loop does not answer"},
        )
    finally:
        server.stop()


async def job_running(client: Client, run_id: str) -> bool:
    """The job step's activity was taken by a worker (not only scheduled on its job code's
    task queue)."""
    status = await get_status(client, run_id)
    if not any(s.kind == "job" and s.state == StepState.RUNNING for s in status.steps):
        return False
    described = await client.get_workflow_handle(run_id).describe()
    return any(
        p.activity_type.name == "run_job"
        and p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        for p in described.raw_description.pending_activities
    )


async def test_a_worker_process_is_ready_once_polling_and_not_ready_while_it_drains(
    client: Client, aws_sandbox: AwsSandbox, dev_server: DevServer, tmp_path: Path
) -> None:
    group = f"health-{uuid.uuid4().hex[:8]}"
    with observed_worker(group, aws_sandbox, dev_server, tmp_path / "worker.log") as worker:
        # started: it polls its task queue and its fork server is up
        assert answer(f"{worker.url}/readyz") == (200, {"status": "ready"})
        assert answer(f"{worker.url}/healthz") == (200, {"status": "ok"})
        sg = aws_sandbox.open_security_group(22, "drain")
        spec = RemediationSpec(
            # long enough that the job is still in flight through every probe below on a loaded
            # machine: once it ends the worker exits and its endpoints close (a reset, not a 503)
            steps=[JobStep(job="slow_close_22", parameters={"seconds": 20})],
            access=AccountAccess(external_id=aws_sandbox.external_id),
        )
        run_id = await start_remediation(client, aws_finding(sg), spec, group)
        while not await job_running(client, run_id):
            await asyncio.sleep(0.1)

        worker.process.send_signal(signal.SIGTERM)
        while True:  # the signal is handled by the worker's event loop, a moment later
            code, body = await asyncio.to_thread(answer, f"{worker.url}/readyz")
            if code != 200:
                break
            await asyncio.sleep(0.05)
        assert code == 503 and body["reason"].startswith("draining"), body
        assert await asyncio.to_thread(answer, f"{worker.url}/healthz") == (200, {"status": "ok"})

        assert await asyncio.to_thread(worker.process.wait, 60) == 0
    # the job in flight finished its work before the worker left
    assert open_on_22(aws_sandbox, [sg]) == []
    assert '"exitCode": 0' in wait_for_line(worker.log, '"msg": "job finished"', 5)
    await client.get_workflow_handle(run_id).terminate("test over: its worker has left")


async def test_the_hub_answers_health_and_metrics_without_a_token(tmp_path: Path) -> None:
    with hub_store("sqlite", tmp_path) as settings:
        harness = make_harness(settings)
        anonymous = harness.as_(None)
        try:
            assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
            ready = await anonymous.get("/readyz")
            assert (ready.status_code, ready.json()) == (
                200,
                {"status": "ready", "store": "sqlite"},
            )
            scrape = await anonymous.get("/metrics")
            assert scrape.status_code == 200 and "remedy_hub_start_queue_depth 0.0" in scrape.text
            # everything else still wants a token
            assert (await anonymous.get("/runs")).status_code == 401
        finally:
            await harness.aclose()


def test_the_hub_is_not_ready_while_its_database_does_not_answer(tmp_path: Path) -> None:
    url = postgres_url()
    if url is None:
        pytest.skip("PostgreSQL does not answer")
    database = make_url(url)
    proxy = OutageProxy(f"tcp://{database.host}:{database.port}")
    try:
        through = database.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        )
        with hub_store("postgresql", tmp_path) as settings:
            settings = settings.model_copy(update={"database_url": through})
            harness = make_harness(settings)
            with served(harness.app) as base:
                assert answer(f"{base}/healthz") == (200, {"status": "ok"})
                assert answer(f"{base}/readyz") == (200, {"status": "ready", "store": "postgresql"})
                proxy.down()
                code, body = answer(f"{base}/readyz")
                assert code == 503 and body["status"] == "not ready", body
                assert body["reason"].startswith("the database (postgresql) does not answer: ")
                assert answer(f"{base}/healthz") == (200, {"status": "ok"})  # alive meanwhile
                proxy.up()
                deadline = time.monotonic() + 30
                while answer(f"{base}/readyz")[0] != 200 and time.monotonic() < deadline:
                    time.sleep(0.2)
                assert answer(f"{base}/readyz")[0] == 200
            harness.hub.db.dispose()
    finally:
        proxy.down()


async def test_a_worker_whose_port_is_taken_runs_without_its_endpoints(
    client: Client, aws_sandbox: AwsSandbox, dev_server: DevServer, tmp_path: Path
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    group = f"taken-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    process = start_worker_process(
        group, aws_sandbox, dev_server, log, REMEDY_WORKER_HTTP_PORT=str(port)
    )
    try:
        assert f"could not listen on 127.0.0.1:{port}" in wait_for_line(log, "could not listen", 5)
        sg = aws_sandbox.open_security_group(22, "taken")
        spec = RemediationSpec(
            steps=[JobStep(job="slow_close_22", parameters={"seconds": 0})],
            access=AccountAccess(external_id=aws_sandbox.external_id),
        )
        run_id = await start_remediation(client, aws_finding(sg), spec, group)
        assert (await wait_for_result(client, run_id)).state == RunState.SUCCEEDED
    finally:
        process.kill()
        process.wait()
        taken.close()


def test_the_readiness_reason_never_shows_the_database_password() -> None:
    settings = HubSettings(database_url="postgresql+psycopg://remedy:s3cret-pw@db:5432/remedy")
    failure = OperationalError("SELECT 1", {}, RuntimeError("auth failed: remedy:s3cret-pw@db"))
    reason = readiness_reason(failure, settings)
    assert reason == "OperationalError: auth failed: remedy:***@db"
