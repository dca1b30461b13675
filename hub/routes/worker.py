"""What workers call, with their group's client id and secret (HTTP Basic)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from hub import groups
from hub.context import HubDep, WorkerAuth
from hub.errors import ERROR_RESPONSES
from hub.ingest import ingest
from hub.logs import store_logs
from hub.routes.common import RunId
from hub.schemas import Heartbeat, IngestResult, LogBatch, Registered, WorkerRegistration

router = APIRouter(prefix="/worker", responses=ERROR_RESPONSES, tags=["workers"])


@router.post("/register")
def register(body: WorkerRegistration, hub: HubDep, group: WorkerAuth) -> Registered:
    """Register (or re-register) a worker and the jobs it offers, with their checksums."""
    return hub.db.run(lambda s: groups.register_worker(s, group, body, hub.settings))


@router.post("/heartbeat", status_code=204)
def heartbeat(body: Heartbeat, hub: HubDep, group: WorkerAuth) -> Response:
    """404 when the worker is not registered: it registers again."""
    hub.db.run(lambda s: groups.heartbeat(s, group, body.worker_id))
    return Response(status_code=204)


@router.post("/runs/{run_id}/logs", status_code=202)
def ship_logs(run_id: RunId, body: LogBatch, hub: HubDep, group: WorkerAuth) -> dict[str, int]:
    """Job log lines of a run of the caller's group, from a worker registered in it; redacted on
    receipt. 404 for a run that is not the group's, 413 for a line over the limit."""
    limit = hub.settings.hub_max_log_line_chars
    return {"accepted": hub.db.run(lambda s: store_logs(s, group, run_id, body, limit))}


@router.post("/findings")
async def pull_findings(
    body: Annotated[list[Any], Body(description="Findings (at most 1000), any format.")],
    hub: HubDep,
    group: WorkerAuth,
) -> IngestResult:
    """Findings a worker of the group pulled from its accounts (a Security Hub pull schedule):
    taken as POST /findings takes them, but only for accounts associated with the group (the
    others are rejected). Runs are queued, never awaited."""
    group_id = group.id
    ingested = await hub.db.call(lambda s: ingest(s, body, only_group=group_id))
    hub.runs.start_soon(ingested.to_start)
    return ingested.answer()
