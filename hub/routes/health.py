"""Health and metrics, without a token: `GET /healthz`, `/readyz`, `/metrics`.

/metrics holds no secret and no user name, but names worker groups and counts traffic: keep it
behind your network policy (docs/observability.md).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from hub import metrics
from hub.config import HubSettings
from hub.context import HubDep

router = APIRouter(tags=["health"])
#: how long /readyz waits for the database before it says it does not answer
READY_TIMEOUT_S = 5.0


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database does not answer."}})
async def readyz(hub: HubDep) -> JSONResponse:
    """Readiness: the database answers `SELECT 1` (503 with the reason otherwise)."""
    try:
        await asyncio.wait_for(
            hub.db.call(lambda s: s.execute(text("SELECT 1")).scalar()), READY_TIMEOUT_S
        )
    except Exception as exc:  # any failure of the store is "not ready", said without secrets
        reason = f"the database ({hub.db.dialect}) does not answer: {readiness_reason(exc, hub.db.settings)}"
        return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ready", "store": hub.db.dialect})


def readiness_reason(exc: Exception, settings: HubSettings) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {READY_TIMEOUT_S:g} s"
    first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0][:300]
    password = make_url(settings.database_url).password
    if password:
        first = first.replace(str(password), "***")
    return f"{type(exc).__name__}: {first}"


@router.get("/metrics", response_class=Response)
def prometheus_metrics(request: Request) -> Response:
    """Prometheus text: ingest, start queue, workers online per group, run starts."""
    store: CollectorRegistry = request.app.state.store_metrics
    body = generate_latest(metrics.REGISTRY) + generate_latest(store)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
