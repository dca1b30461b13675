"""Remediation actions, and running one on chosen findings."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from hub import actions, blast_radius
from hub.context import HubDep, Manager, Trigger, Viewer
from hub.errors import ERROR_RESPONSES
from hub.routes.common import ActionId
from hub.schemas import RemediationIn, RemediationOut, RemediationPatch, TriggerIn, TriggerOut

router = APIRouter(responses=ERROR_RESPONSES, tags=["remediations"])


@router.post("/remediations", status_code=201)
def post_remediation(body: RemediationIn, hub: HubDep, caller: Manager) -> RemediationOut:
    """Make a remediation action. 422 names the field when its jobs are not registered by the
    group's online workers, its accounts are not the group's, or the providers disagree."""
    return hub.db.run(
        lambda s: actions.action_out(actions.create_action(s, body, hub.settings, caller.name))
    )


@router.get("/remediations")
def get_remediations(hub: HubDep, caller: Viewer) -> list[RemediationOut]:
    return hub.db.run(lambda s: [actions.action_out(a) for a in actions.list_actions(s)])


@router.get("/remediations/{action_id}")
def get_remediation(action_id: ActionId, hub: HubDep, caller: Viewer) -> RemediationOut:
    return hub.db.run(lambda s: actions.action_out(actions.get_action(s, action_id)))


@router.patch("/remediations/{action_id}")
def patch_remediation(
    action_id: ActionId, body: RemediationPatch, hub: HubDep, caller: Manager
) -> RemediationOut:
    """Change some fields; the whole action is validated again."""
    return hub.db.run(
        lambda s: actions.action_out(actions.update_action(s, action_id, body, hub.settings))
    )


def _set_status(hub: HubDep, action_id: int, status: str) -> RemediationOut:
    def work(session: Session) -> RemediationOut:
        patch = RemediationPatch(status="published" if status == "published" else "draft")
        return actions.action_out(actions.update_action(session, action_id, patch, hub.settings))

    return hub.db.run(work)


@router.post("/remediations/{action_id}/publish")
def publish_remediation(action_id: ActionId, hub: HubDep, caller: Manager) -> RemediationOut:
    """Published actions are matched against every finding posted from now on."""
    return _set_status(hub, action_id, "published")


@router.post("/remediations/{action_id}/unpublish")
def unpublish_remediation(action_id: ActionId, hub: HubDep, caller: Manager) -> RemediationOut:
    return _set_status(hub, action_id, "draft")


@router.post("/remediations/{action_id}/run", status_code=202)
async def run_remediation(
    action_id: ActionId, body: TriggerIn, hub: HubDep, caller: Trigger
) -> TriggerOut:
    """Run the action on these findings now (a draft too). One run per (finding, action): a run
    that exists is returned, one that failed starts again. 409 when the group is disabled.
    `plan: true` makes a plan run instead (changes nothing; made again each time it is asked)."""
    runs = await hub.runs.trigger(action_id, body.finding_ids, caller.name, plan=body.plan)
    return TriggerOut(runs=runs)


@router.post("/remediations/{action_id}/pause")
def pause_remediation(action_id: ActionId, hub: HubDep, caller: Manager) -> RemediationOut:
    """Pause the action by hand: its runs wait, in order, until it is resumed (runs already
    started go on). An action paused already keeps its first reason."""

    def work(session: Session) -> RemediationOut:
        action = actions.get_action(session, action_id)
        blast_radius.pause(session, action, caller.name)
        return actions.action_out(action)

    return hub.db.run(work)


@router.post("/remediations/{action_id}/resume")
def resume_remediation(action_id: ActionId, hub: HubDep, caller: Manager) -> RemediationOut:
    """Lift the pause the circuit breaker (or an Admin) put on the action: its waiting runs
    start as its limits allow (hub/blast_radius.py)."""

    def work(session: Session) -> RemediationOut:
        action = actions.get_action(session, action_id)
        blast_radius.resume(session, action, caller.name)
        return actions.action_out(action)

    return hub.db.run(work)
