"""Approvals: the runs waiting for a decision, with their plans; approve or reject with a comment
(the forms post to the run's approve/reject handlers in hub/web/runs.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hub import approvals
from hub.context import HubDep
from hub.web.render import render
from hub.web.session import PageUser

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/approvals")
async def approvals_page(request: Request, hub: HubDep, user: PageUser) -> HTMLResponse:
    waiting = await approvals.pending(hub.runs)
    return render(request, "approvals.html", user, waiting=waiting)
