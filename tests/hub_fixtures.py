"""Hub fixtures: the store on SQLite and on PostgreSQL, the app with API clients per role, a
worker linked to the hub, and the app served by uvicorn on a loopback port."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hub.app import create_app
from hub.auth import Role, create_user
from hub.config import HubSettings
from hub.context import Hub
from remedy.config import TemporalSettings
from sandbox.aws import free_port

JOBCODE = Path(__file__).parent / "jobcode"
NO_TEMPORAL = TemporalSettings(address="127.0.0.1:1", ui_url="http://temporal-ui.test")
PG_HOST = os.environ.get("REMEDY_TEST_PG_HOST", "127.0.0.1:5432")


@cache
def postgres_url() -> str | None:
    """PostgreSQL for the store tests (database `test`, trust auth), when it answers."""
    for user in ("postgres", "root"):
        url = f"postgresql+psycopg://{user}@{PG_HOST}/test"
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect():
                return url
        except OperationalError:
            continue
        finally:
            engine.dispose()
    return None


@contextmanager
def hub_store(kind: str, directory: Path, **settings: Any) -> Iterator[HubSettings]:
    """A fresh store: a SQLite file, or a PostgreSQL schema of its own (dropped afterwards)."""
    defaults: dict[str, Any] = {"hub_poll_interval_s": 0, **settings}
    if kind == "sqlite":
        yield HubSettings(database_url=f"sqlite:///{directory / 'hub.db'}", **defaults)
        return
    url = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL does not answer on {PG_HOST}")
    schema = f"hub_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        yield HubSettings(database_url=url, database_schema=schema, **defaults)
    finally:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@dataclass
class HubHarness:
    """The app in-process (httpx ASGI transport), one API client per role, and raw store access."""

    app: FastAPI
    settings: HubSettings
    tokens: dict[str, str]
    clients: dict[str | None, httpx.AsyncClient] = field(default_factory=dict)

    @property
    def hub(self) -> Hub:
        found: Hub = self.app.state.hub
        return found

    @property
    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app)

    def as_(self, role: str | None) -> httpx.AsyncClient:
        """The API as `role` (admin, analyst, viewer; None: no token)."""
        if role not in self.clients:
            headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
            self.clients[role] = httpx.AsyncClient(
                transport=self.transport, base_url="http://hub.test", headers=headers
            )
        return self.clients[role]

    @property
    def admin(self) -> httpx.AsyncClient:
        return self.as_("admin")

    def worker_api(self, client_id: str, secret: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self.transport, base_url="http://hub.test", auth=(client_id, secret)
        )

    async def ok(self, method: str, path: str, role: str = "admin", **kwargs: Any) -> Any:
        response = await self.as_(role).request(method, path, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        await self.hub.runs.close()
        self.hub.db.dispose()


def make_harness(
    settings: HubSettings,
    temporal_settings: TemporalSettings = NO_TEMPORAL,
    temporal_client: Any = None,
    tokens: dict[str, str] | None = None,
) -> HubHarness:
    """The app on this store; with a user per role (whose `tokens` are given if they exist)."""
    app = create_app(settings, temporal_settings, temporal_client=temporal_client)
    hub: Hub = app.state.hub
    tokens = tokens or {
        role.value: hub.db.run(lambda s, role=role: create_user(s, f"{role.value}-user", role))[1]
        for role in Role
    }
    return HubHarness(app, settings, tokens)


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubSettings]:
    """A fresh store per test, on each backend."""
    with hub_store(request.param, tmp_path) as settings:
        yield settings


@pytest_asyncio.fixture
async def hub_api(hub_settings: HubSettings) -> AsyncIterator[HubHarness]:
    """The hub on a fresh store (each backend), without Temporal."""
    harness = make_harness(hub_settings)
    yield harness
    await harness.aclose()


# -- a worker linked to the hub -------------------------------------------------------------------


@dataclass
class GroupCredentials:
    group_id: str
    client_id: str
    client_secret: str


async def new_group(harness: HubHarness, name: str | None = None) -> GroupCredentials:
    found = await harness.ok(
        "POST", "/worker-groups", json={"name": name or f"group-{uuid.uuid4().hex[:8]}"}
    )
    return GroupCredentials(
        found["group"]["id"], found["group"]["client_id"], found["client_secret"]
    )


async def associate_account(
    harness: HubHarness, group: GroupCredentials, role_arn: str, external_id: str
) -> None:
    """Register the sandbox's AWS account with its role and associate it with the group."""
    from sandbox.aws import ACCOUNT_ID

    account = {"provider": "aws", "account_id": ACCOUNT_ID}
    await harness.ok(
        "POST", "/accounts", json={**account, "role_arn": role_arn, "external_id": external_id}
    )
    await harness.ok("PUT", f"/worker-groups/{group.group_id}/accounts/{ACCOUNT_ID}")


async def run_started(h: HubHarness, run_id: str, timeout_s: float = 30) -> None:
    """Wait until the hub has started a queued run on Temporal (POST /findings answers first)."""

    async def left_the_queue() -> bool:
        run = await h.ok("GET", f"/runs/{run_id}", role="viewer")
        return bool(run["status"] != "pending")

    await wait_until(left_the_queue, timeout_s, what=f"run {run_id} starting")


async def wait_until(
    check: Callable[[], Awaitable[bool]], timeout_s: float = 20, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout_s:g} s")


@dataclass
class HubWorker:
    worker_id: str
    parts: Any
    stop: asyncio.Event
    task: asyncio.Task[None]


@pytest_asyncio.fixture
async def hub_worker(client: Any, worker_env: Any) -> AsyncIterator[Any]:
    """Start an in-process worker of a hub group: it polls the group's task queue, registers its
    jobs with the hub, heartbeats and ships job logs (worker/hub_client.py), as deployed."""
    from remedy.config import WorkerSettings
    from worker.hub_client import JOB_LOGGER, HubClient, hub_link
    from worker.main import build_parts, make_worker, offer_new_versions

    started: list[HubWorker] = []
    job_logger = logging.getLogger(JOB_LOGGER)
    level = job_logger.level
    job_logger.setLevel(logging.INFO)  # job output is logged at INFO: the worker's default level

    async def start(
        harness: HubHarness, group: GroupCredentials, job_code: Path = JOBCODE
    ) -> HubWorker:
        settings = WorkerSettings()
        parts = build_parts(settings, job_code)
        worker = make_worker(client, group.group_id, parts, settings)
        worker_id = f"worker-{uuid.uuid4().hex[:6]}"
        hub_client = HubClient(
            "http://hub.test", group.client_id, group.client_secret, transport=harness.transport
        )
        parts.deliver_findings = hub_client.post_findings  # as worker.main.run wires it
        stop = asyncio.Event()

        async def run() -> None:
            async with (
                worker,
                hub_link(
                    parts.registry.infos(),
                    worker_id,
                    group.group_id,
                    client=hub_client,
                    flush_interval_s=0.1,
                    code_version=parts.registry.version,
                ) as link,
            ):
                offer_new_versions(parts.job_code, link)  # as worker.main.run_worker does
                await stop.wait()
            await parts.runner.launcher.close()

        running = HubWorker(worker_id, parts, stop, asyncio.create_task(run()))
        started.append(running)

        async def online() -> bool:
            if running.task.done():
                running.task.result()  # raises what stopped it
            workers = await harness.ok("GET", f"/worker-groups/{group.group_id}/workers")
            return any(w["worker_id"] == worker_id and w["state"] == "Online" for w in workers)

        await wait_until(online, what=f"worker {worker_id} registering with the hub")
        return running

    yield start
    for running in started:
        running.stop.set()
    for running in started:
        await asyncio.wait_for(running.task, 60)
    job_logger.setLevel(level)


# -- the app served over real HTTP ----------------------------------------------------------------


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """uvicorn in a thread on a free loopback port (its own event loop); yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the hub did not start under uvicorn")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def terminate_runs(temporal_address: str, run_ids: list[str]) -> None:
    """From a synchronous test: end runs that no worker will pick up (the dev server is shared)."""

    async def terminate() -> None:
        from remedy.temporal import connect

        client = await connect(TemporalSettings(address=temporal_address))
        for run_id in run_ids:
            await client.get_workflow_handle(run_id).terminate("test over: no worker serves it")

    asyncio.run(terminate())


def plant_run(harness: HubHarness, group_id: str, run_id: str | None = None) -> str:
    """A run of `group_id` in the store (with the finding and action it belongs to), as if the hub
    had claimed it: what workers may ship logs for."""
    from hub.models import Finding, Remediation, Run

    run_id = run_id or f"remedy-planted-{uuid.uuid4().hex[:12]}"

    def plant(session: Session) -> None:
        finding = Finding(
            id=f"f-{run_id}",
            provider="aws",
            account_id="123456789012",
            object_id="sg-1",
            payload={},
        )
        action = Remediation(name=f"a-{run_id}", provider="aws", group_id=group_id)
        session.add_all([finding, action])
        session.flush()
        session.add(
            Run(
                id=run_id,
                finding_id=finding.id,
                remediation_id=action.id,
                group_id=group_id,
                trigger="manual",
                status="running",
            )
        )

    harness.hub.db.run(plant)
    return run_id
