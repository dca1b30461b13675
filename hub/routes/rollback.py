"""/runs/{id}/rollback: undo what a finished remediation run changed."""

from __future__ import annotations

from fastapi import APIRouter

from hub import rollbacks
from hub.context import HubDep, Trigger
from hub.errors import ERROR_RESPONSES
from hub.routes.common import RunId
from hub.schemas import RunOut

router = APIRouter(responses=ERROR_RESPONSES, tags=["runs"])


@router.post("/runs/{run_id}/rollback", status_code=202)
async def rollback_run(run_id: RunId, hub: HubDep, caller: Trigger) -> RunOut:
    """Start the rollback of an ended remediation run (Analyst or Admin): each job's rollback, in
    reverse order, from the change records the run kept; the answer is the rollback run, followed
    like any other (GET /runs/{id}). 409 with the reason when the run is still open, is itself a
    plan or a rollback, or changed nothing; the rollback run fails, naming what changed, when a
    resource is no longer as the run left it, and an irreversible change is refused with its
    reason."""
    return await rollbacks.start(hub.runs, run_id, caller.name)
