"""The hub's web application: `create_app()` migrates the store and wires the routes.

`remedy hub serve` runs it under uvicorn; the OpenAPI document is at /openapi.json, the
interactive one at /docs, the pages at /ui (hub/web).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from temporalio.client import Client

from hub import errors
from hub.audit import AuditTrail
from hub.bootstrap import bootstrap_admin
from hub.config import HubSettings
from hub.context import Hub, TemporalLink
from hub.db import Database
from hub.limits import BodyLimits
from hub.metrics import StoreGauges
from hub.retention import prune_logs
from hub.routes import admin, approvals, findings, remediations, rollback, tokens, worker
from hub.routes.health import router as health_router
from hub.web import mount as mount_pages
from remedy import tracing
from remedy.config import TemporalSettings

log = logging.getLogger("remedy.hub")


def hub_version() -> str:
    try:
        return version("remedy")
    except PackageNotFoundError:
        return "0"


async def poll_forever(hub: Hub) -> None:
    """Refresh unfinished runs (and the findings' status) every `hub_poll_interval_s`."""
    while True:
        await asyncio.sleep(hub.settings.hub_poll_interval_s)
        try:
            await hub.runs.poll_once()
        except Exception:  # the poller must outlive a bad moment of the store or of Temporal
            log.exception("polling the runs failed; trying again in the next interval")


async def start_forever(hub: Hub) -> None:
    """Start the queued runs whose time has come every `hub_start_interval_s` (hub/start_queue.py)."""
    while True:
        try:
            await hub.runs.drain()
        except Exception:  # like the poller: a bad moment of the store must not end it
            log.exception("starting the queued runs failed; trying again in the next interval")
        await asyncio.sleep(hub.settings.hub_start_interval_s)


async def prune_forever(hub: Hub) -> None:
    """Apply the log retention every `hub_retention_interval_s` (hub/retention.py)."""
    while True:
        try:
            pruned = await hub.db.call(lambda s: prune_logs(s, hub.settings))
            if pruned.by_age or pruned.by_size:
                log.info(
                    "log retention: %d entries past their age, %d over the size deleted",
                    pruned.by_age,
                    pruned.by_size,
                )
        except Exception:  # like the poller: a bad moment of the store must not end it
            log.exception("pruning the logs failed; trying again in the next interval")
        await asyncio.sleep(hub.settings.hub_retention_interval_s)


def create_app(
    settings: HubSettings | None = None,
    temporal_settings: TemporalSettings | None = None,
    *,
    temporal_client: Client | None = None,
    migrate: bool = True,
) -> FastAPI:
    settings = settings or HubSettings()
    temporal_settings = temporal_settings or TemporalSettings()
    tracing.configure("remedy-hub")
    db = Database(settings)
    if migrate:
        db.migrate()
        bootstrap_admin(db)  # REMEDY_BOOTSTRAP_ADMIN_TOKEN: the first admin of a deployed hub
    hub = Hub(settings, temporal_settings, db, TemporalLink(temporal_settings, temporal_client))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if settings.hub_poll_interval_s > 0:
            tasks.append(asyncio.create_task(poll_forever(hub)))
        if settings.hub_start_interval_s > 0:
            tasks.append(asyncio.create_task(start_forever(hub)))
        if settings.hub_retention_interval_s > 0:
            tasks.append(asyncio.create_task(prune_forever(hub)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await hub.runs.close()
            db.dispose()

    app = FastAPI(
        title="Remedy hub",
        version=hub_version(),
        description="The control plane of Remedy: findings, remediation actions, worker groups, "
        "runs and their logs. Users authenticate with a bearer token (roles: admin, analyst, "
        "viewer); workers with their group's client id and secret.",
        lifespan=lifespan,
        docs_url=None,  # served by hub/web/docs.py with the hub's own copy of the assets
        redoc_url=None,
    )
    app.state.hub = hub
    app.state.store_metrics = CollectorRegistry()
    app.state.store_metrics.register(StoreGauges(db))
    app.add_middleware(AuditTrail, db=db)
    app.add_middleware(BodyLimits, settings=settings)
    errors.install(app)
    for router in (
        admin.router,
        tokens.router,
        remediations.router,
        findings.router,
        approvals.router,
        rollback.router,
        worker.router,
        health_router,
    ):
        app.include_router(router)
    mount_pages(app)  # the pages under /ui, /docs and /redoc offline (hub/web)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness: answers without a token."""
        return {"status": "ok", "store": db.dialect}

    return app
