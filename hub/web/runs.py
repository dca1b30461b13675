"""Runs: the live list, a run's page (steps, plan, log tail, its Temporal link) and the buttons a
role allows: approve, reject, roll back, retry. Pages of active runs refresh themselves (htmx
polls a fragment; the fragment stops asking once the run has ended)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from hub import approvals, rollbacks
from hub.auth import Permission
from hub.context import Hub, HubDep
from hub.errors import ApiError
from hub.logs import read_logs
from hub.models import Finding
from hub.routes.common import RunId
from hub.run_states import ACTIVE, HubRunState
from hub.runs import get_run, list_runs
from hub.schemas import LogEntryOut
from hub.web.config import web_settings
from hub.web.csrf import checked_form
from hub.web.render import redirect, render
from hub.web.session import PageUser, may
from hub.web.sessions import SignedIn
from remedy.types import RunStatus

router = APIRouter(prefix="/ui", include_in_schema=False)

LOG_TAIL = 40
LISTED = 100


def _where(session: Session, finding_id: str) -> tuple[str, str]:
    """The account and the resource of a run's finding."""
    finding = session.get(Finding, finding_id)
    return (finding.account_id, finding.object_id) if finding else ("", "")


def _list(session: Session, hub: Hub, status: HubRunState | None) -> dict[str, Any]:
    runs, total = list_runs(
        session,
        status=status,
        finding_id=None,
        remediation_id=None,
        group_id=None,
        offset=0,
        limit=LISTED,
    )
    rows = [hub.runs.out(session, r) for r in runs]
    return {
        "rows": rows,
        "total": total,
        "where": {r.id: _where(session, r.finding_id) for r in runs},
    }


def _list_context(hub: Hub, status: HubRunState | None) -> dict[str, Any]:
    found = hub.db.run(lambda s: _list(s, hub, status))
    active = any(r.status in ACTIVE for r in found["rows"])
    query = f"?status={status.value}" if status else ""
    return {
        **found,
        "status": status,
        "refresh_s": web_settings().hub_web_refresh_s if active else None,
        "fragment_url": f"/ui/runs-table{query}",
    }


StatusQuery = Annotated[HubRunState | None, Query()]


@router.get("/runs")
def runs_page(
    request: Request, hub: HubDep, user: PageUser, status: StatusQuery = None
) -> HTMLResponse:
    return render(request, "runs.html", user, **_list_context(hub, status))


@router.get("/runs-table")
def runs_table(
    request: Request, hub: HubDep, user: PageUser, status: StatusQuery = None
) -> HTMLResponse:
    return render(request, "runs_table.html", user, **_list_context(hub, status))


async def _run_context(hub: Hub, run_id: str) -> dict[str, Any]:
    run = await hub.runs.read(run_id)

    def stored(session: Session) -> tuple[RunStatus | None, list[LogEntryOut], str]:
        row = get_run(session, run_id)
        status = RunStatus.model_validate(row.result) if row.result else None
        logs, _ = read_logs(
            session,
            run_id=run_id,
            group_id=row.group_id,
            offset=0,
            limit=LOG_TAIL,
            newest_first=True,
            max_chars=hub.settings.hub_max_log_page_chars,
        )
        account = _where(session, row.finding_id)[0]
        return status, list(reversed(logs)), account

    status, logs, account = await hub.db.call(stored)
    active = run.status in ACTIVE
    return {
        "run": run,
        "status": status,
        "logs": logs,
        "account": account,
        "active": active,
        "refresh_s": web_settings().hub_web_refresh_s if active else None,
    }


@router.get("/runs/{run_id}")
async def run_page(run_id: RunId, request: Request, hub: HubDep, user: PageUser) -> HTMLResponse:
    return render(request, "run.html", user, **await _run_context(hub, run_id))


@router.get("/run-live/{run_id}")
async def run_live(run_id: RunId, request: Request, hub: HubDep, user: PageUser) -> HTMLResponse:
    return render(request, "run_live.html", user, **await _run_context(hub, run_id))


async def _decide(
    request: Request, hub: Hub, user: SignedIn, run_id: str, approve: bool
) -> Response:
    caller = may(user, Permission.TRIGGER, "approve or reject runs")
    form = await checked_form(request, user)
    comment = str(form.get("comment", ""))[:2000]
    await approvals.decide_run(hub.runs, run_id, approve, comment, caller)
    back = "/ui/approvals" if form.get("back") == "approvals" else f"/ui/runs/{run_id}"
    return redirect(back, "approved" if approve else "rejected")


@router.post("/runs/{run_id}/approve")
async def approve(run_id: RunId, request: Request, hub: HubDep, user: PageUser) -> Response:
    return await _decide(request, hub, user, run_id, True)


@router.post("/runs/{run_id}/reject")
async def reject(run_id: RunId, request: Request, hub: HubDep, user: PageUser) -> Response:
    return await _decide(request, hub, user, run_id, False)


@router.post("/runs/{run_id}/rollback")
async def rollback(run_id: RunId, request: Request, hub: HubDep, user: PageUser) -> Response:
    """Undo what an ended remediation run changed: a rollback run, shown next."""
    caller = may(user, Permission.TRIGGER, "roll back runs")
    await checked_form(request, user)
    started = await rollbacks.start(hub.runs, run_id, caller.name)
    return redirect(f"/ui/runs/{started.id}", "rolled_back")


@router.post("/runs/{run_id}/retry")
async def retry(run_id: RunId, request: Request, hub: HubDep, user: PageUser) -> Response:
    """Trigger the run's action on its finding again: an ended run that failed starts again."""
    caller = may(user, Permission.TRIGGER, "trigger remediations")
    await checked_form(request, user)
    run = await hub.db.call(lambda s: get_run(s, run_id))
    plan = run.mode == "plan"
    runs = await hub.runs.trigger(run.remediation_id, [run.finding_id], caller.name, plan=plan)
    if not runs:
        raise ApiError(409, f"run {run_id} did not start again", "look at its state")
    return redirect(f"/ui/runs/{runs[0].id}", "retried")
