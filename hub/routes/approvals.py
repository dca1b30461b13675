"""/approvals and /runs/{id}/approve|reject: the decisions runs of approval actions wait on."""

from __future__ import annotations

from fastapi import APIRouter

from hub import approvals
from hub.context import HubDep, Trigger, Viewer
from hub.errors import ERROR_RESPONSES
from hub.routes.common import RunId
from hub.schemas import ApprovalOut, DecisionIn, RunDetail

router = APIRouter(responses=ERROR_RESPONSES, tags=["approvals"])


@router.get("/approvals")
async def list_approvals(hub: HubDep, caller: Viewer) -> list[ApprovalOut]:
    """The runs waiting for a decision, oldest first, each with the plan it would apply, when
    the plan expires and the decisions taken so far."""
    return await approvals.pending(hub.runs)


@router.post("/runs/{run_id}/approve")
async def approve_run(run_id: RunId, body: DecisionIn, hub: HubDep, caller: Trigger) -> RunDetail:
    """Approve the plan a run waits on (Analyst or Admin; not the user who triggered it when the
    action forbids it). The run re-plans and applies the plan if the resource is unchanged."""
    await approvals.decide_run(hub.runs, run_id, True, body.comment, caller)
    return await hub.runs.read(run_id)


@router.post("/runs/{run_id}/reject")
async def reject_run(run_id: RunId, body: DecisionIn, hub: HubDep, caller: Trigger) -> RunDetail:
    """Reject the plan a run waits on: the run fails with the comment; nothing is changed."""
    await approvals.decide_run(hub.runs, run_id, False, body.comment, caller)
    return await hub.runs.read(run_id)
