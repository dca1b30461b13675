"""The worker's link to the hub: register, heartbeat, ship job logs.

Optional: a worker links to the hub only when REMEDY_HUB_URL is set, authenticating with its
group's VSS_CLIENT_ID / VSS_CLIENT_SECRET; without it the worker runs standalone. The link never
stops the worker: an unreachable hub is retried in the background, and job logs wait in a bounded
buffer meanwhile (the oldest lines are dropped past REMEDY_HUB_LOG_BUFFER_LINES).

In `run_worker`:

    async with make_worker(...), hub_link(parts.registry.infos(), worker_id, group_id):
        await stop.wait()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections import deque
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import httpx

from remedy.destinations import allowed_from_environ
from remedy.types import JobInfo

log = logging.getLogger("remedy.hub_client")

JOB_LOGGER = "remedy.job"  # activities/job_runner.py writes each job output line there
MAX_BATCH_LINES = 1000
# under the hub's default limits (hub_max_log_line_chars, hub_max_log_batch_bytes)
MAX_LINE_CHARS = 16_000
MAX_BATCH_BYTES = 400_000
CUT_MARK = " [cut by the worker: the line was longer]"


class HubError(RuntimeError):
    """The hub refused a request; the message is the hub's `error` and `fix`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def worker_version() -> str:
    try:
        return version("remedy")
    except PackageNotFoundError:
        return "0"


def batches_of(lines: list[str]) -> list[list[str]]:
    """Lines cut to the hub's default line limit, in batches under its default body limit."""
    batches: list[list[str]] = [[]]
    size = 0
    for line in lines:
        if len(line) > MAX_LINE_CHARS:
            line = line[: MAX_LINE_CHARS - len(CUT_MARK)] + CUT_MARK
        cost = len(json.dumps(line)) + 2  # as sent: quoted, escaped, a separator
        if batches[-1] and (len(batches[-1]) >= MAX_BATCH_LINES or size + cost > MAX_BATCH_BYTES):
            batches.append([])
            size = 0
        batches[-1].append(line)
        size += cost
    return [batch for batch in batches if batch]


class HubClient:
    """A small async client of the hub's worker endpoints."""

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            auth=httpx.BasicAuth(client_id, client_secret),
            transport=transport,
            timeout=timeout_s,
        )

    async def _post(self, path: str, body: object) -> httpx.Response:
        response = await self._http.post(path, json=body)
        if response.status_code >= 400:
            try:
                found = response.json()
                message = f"{found.get('error')} ({found.get('fix')})"
            except ValueError:
                message = response.text[:300]
            raise HubError(response.status_code, f"hub answered {response.status_code}: {message}")
        return response

    async def register(
        self,
        worker_id: str,
        jobs: list[JobInfo],
        *,
        group_id: str | None = None,
        host: str | None = None,
        code_version: str = "",
        code_commit: str = "",
    ) -> float:
        """Register the worker and its jobs; returns the heartbeat interval the hub wants."""
        response = await self._post(
            "/worker/register",
            {
                "worker_id": worker_id,
                "host": (host or socket.gethostname())[:200],
                "version": worker_version(),
                "group_id": group_id,
                "jobs": [job.model_dump(mode="json") for job in jobs],
                "code_version": code_version,
                "code_commit": code_commit,
                # the hub refuses actions that notify elsewhere (remedy/destinations.py)
                "notify_destinations": allowed_from_environ(os.environ),
            },
        )
        return float(response.json()["heartbeat_interval_s"])

    async def heartbeat(self, worker_id: str) -> bool:
        """False when the hub no longer knows the worker (it should register again)."""
        try:
            await self._post("/worker/heartbeat", {"worker_id": worker_id})
        except HubError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def ship_logs(
        self, run_id: str, lines: list[str], *, job: str = "", worker_id: str = ""
    ) -> None:
        for batch in batches_of(lines):
            await self._post(
                f"/worker/runs/{run_id}/logs",
                {"worker_id": worker_id, "job": job, "lines": batch},
            )

    async def post_findings(self, findings: list[Any]) -> dict[str, Any]:
        """Deliver pulled findings to the hub (POST /worker/findings); its answer."""
        response = await self._post("/worker/findings", findings)
        answer: dict[str, Any] = response.json()
        return answer

    async def aclose(self) -> None:
        await self._http.aclose()


class JobLogBuffer(logging.Handler):
    """Collects the job output lines the job runner logs (already redacted), per run and job."""

    def __init__(self, max_lines: int = 50_000) -> None:
        super().__init__(logging.INFO)
        self.lines: deque[tuple[str, str, str]] = deque(maxlen=max_lines)

    def emit(self, record: logging.LogRecord) -> None:
        run_id = getattr(record, "runId", None)
        if run_id and getattr(record, "stream", None) == "job":
            self.lines.append((str(run_id), str(getattr(record, "job", "")), record.getMessage()))

    def drain(self) -> dict[tuple[str, str], list[str]]:
        batches: dict[tuple[str, str], list[str]] = {}
        while self.lines:
            run_id, job, line = self.lines.popleft()
            batches.setdefault((run_id, job), []).append(line)
        return batches


class HubLink:
    """Registration, heartbeats and log shipping of one worker; failures are logged, retried."""

    def __init__(
        self,
        client: HubClient,
        worker_id: str,
        jobs: list[JobInfo],
        group_id: str | None = None,
        *,
        flush_interval_s: float = 1.0,
        buffer: JobLogBuffer | None = None,
    ) -> None:
        self.client = client
        self.worker_id = worker_id
        self.jobs = jobs
        self.group_id = group_id
        self.flush_interval_s = flush_interval_s
        self.buffer = buffer or JobLogBuffer()
        self.heartbeat_interval_s = 30.0
        self.registered = asyncio.Event()
        #: the job code's version and, when it comes from Git, its commit (set by the worker)
        self.code_version = ""
        self.code_commit = ""

    def offer(self, jobs: list[JobInfo], code_version: str, code_commit: str = "") -> None:
        """The worker now serves these jobs (its start, or a reload): register them again."""
        self.jobs, self.code_version, self.code_commit = jobs, code_version, code_commit
        self.registered.clear()

    async def _register(self) -> None:
        self.heartbeat_interval_s = await self.client.register(
            self.worker_id,
            self.jobs,
            group_id=self.group_id,
            code_version=self.code_version,
            code_commit=self.code_commit,
        )
        self.registered.set()
        log.info(
            "Registered with the hub",
            extra={"workerID": self.worker_id, "jobs": len(self.jobs)},
        )

    async def flush(self) -> None:
        batches = self.buffer.drain()
        for (run_id, job), lines in batches.items():
            try:
                await self.client.ship_logs(run_id, lines, job=job, worker_id=self.worker_id)
            except (httpx.HTTPError, HubError) as exc:
                log.warning("could not ship %d log lines of run %s: %s", len(lines), run_id, exc)
                if not isinstance(exc, HubError):  # the hub is away: keep them for the next try
                    self.buffer.lines.extendleft((run_id, job, ln) for ln in reversed(lines))
                    return

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: register (retrying), heartbeat, ship logs; a last flush at the end."""
        backoff = 1.0
        loop = asyncio.get_running_loop()
        next_beat = loop.time()
        while not stop.is_set():
            try:
                if not self.registered.is_set():
                    await self._register()
                    next_beat = loop.time() + self.heartbeat_interval_s
                    backoff = 1.0
                if loop.time() >= next_beat:
                    if not await self.client.heartbeat(self.worker_id):
                        self.registered.clear()
                        continue
                    next_beat = loop.time() + self.heartbeat_interval_s
                await self.flush()
                wait = min(self.flush_interval_s, max(0.0, next_beat - loop.time()))
            except (httpx.HTTPError, HubError) as exc:
                log.warning("the hub is not reachable (%s); retrying in %.0f s", exc, backoff)
                wait, backoff = backoff, min(backoff * 2, 60.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
        with contextlib.suppress(httpx.HTTPError, HubError):
            await self.flush()


def client_from_env(transport: httpx.AsyncBaseTransport | None = None) -> HubClient | None:
    """The hub client configured by REMEDY_HUB_URL, VSS_CLIENT_ID, VSS_CLIENT_SECRET (or None)."""
    url = os.environ.get("REMEDY_HUB_URL")
    if not url:
        return None
    client_id, secret = os.environ.get("VSS_CLIENT_ID"), os.environ.get("VSS_CLIENT_SECRET")
    if not client_id or not secret:
        raise ValueError(
            "REMEDY_HUB_URL is set but VSS_CLIENT_ID or VSS_CLIENT_SECRET is not: set both to the "
            "worker group's client id and secret (or unset REMEDY_HUB_URL to run standalone)"
        )
    return HubClient(url, client_id, secret, transport=transport)


@contextlib.asynccontextmanager
async def hub_link(
    jobs: list[JobInfo],
    worker_id: str,
    group_id: str | None = None,
    *,
    client: HubClient | None = None,
    flush_interval_s: float = 1.0,
    code_version: str = "",
    code_commit: str = "",
) -> AsyncIterator[HubLink | None]:
    """Link the worker to the hub for the block's duration; does nothing without REMEDY_HUB_URL."""
    client = client or client_from_env()
    if client is None:
        yield None
        return
    buffer = JobLogBuffer(int(os.environ.get("REMEDY_HUB_LOG_BUFFER_LINES", "50000")))
    job_logger = logging.getLogger(JOB_LOGGER)
    job_logger.addHandler(buffer)
    link = HubLink(
        client, worker_id, jobs, group_id, flush_interval_s=flush_interval_s, buffer=buffer
    )
    link.code_version, link.code_commit = code_version, code_commit
    stop = asyncio.Event()
    task = asyncio.create_task(link.run(stop))
    try:
        yield link
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=15)
        except TimeoutError:
            log.warning("the hub link did not stop in time; job logs may be lost")
        job_logger.removeHandler(buffer)
        await client.aclose()
