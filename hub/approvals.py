"""Runs waiting for a decision: list them with their plans, approve or reject them.

The hub names who decides: the signed-in user and their role go into the workflow's `decide`
update, whose validator admits an Analyst or Admin other than the user who triggered the run
(when the action forbids self-approval). The run then re-plans and applies the approved plan,
or asks again when the resource changed meanwhile (workflows/approval.py).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.service import RPCError

from hub.auth import Caller
from hub.errors import ApiError
from hub.models import Remediation, Run
from hub.pause_notice import announce
from hub.run_states import HubRunState
from hub.runs import PauseNotice, Runs, apply_status, get_run
from hub.schemas import ApprovalOut
from remedy.starter import DecisionRefused, decide, get_status
from remedy.types import Decision, RunState, RunStatus

#: the states a run of an approval action may be waiting in, as the store last saw it
OPEN = (HubRunState.SUBMITTED, HubRunState.RUNNING, HubRunState.AWAITING_APPROVAL)


async def pending(runs: Runs) -> list[ApprovalOut]:
    """The runs of approval actions that wait for a decision, each with the plan its workflow
    shows. Their status is read from the workflow (and kept in the store) here, not left to the
    poller: a run that just began waiting is listed, one decided meanwhile is not."""
    ids = await runs.db.call(
        lambda s: [
            run_id
            for run_id, approval in s.execute(
                select(Run.id, Remediation.approval)
                .join(Remediation, Remediation.id == Run.remediation_id)
                .where(Run.status.in_(OPEN))
                .order_by(Run.created_at)
            )
            if approval
        ]
    )
    if not ids:
        return []
    timeout = runs.settings.hub_status_timeout_s

    async def read(run_id: str) -> RunStatus | None:
        try:
            return await asyncio.wait_for(get_status(await runs.client(), run_id), timeout)
        except (TimeoutError, RPCError, ApiError, OSError, RuntimeError):
            return None  # no answer in time: the store's last word stands for it

    answers = await asyncio.gather(*(read(run_id) for run_id in ids))

    paused: list[PauseNotice] = []

    def keep(session: Session) -> list[RunStatus]:
        found = []
        for run_id, status in zip(ids, answers, strict=True):
            if status is not None:
                if notice := apply_status(session, run_id, status):
                    paused.append(notice)
            else:
                stored = get_run(session, run_id)
                if stored.status != HubRunState.AWAITING_APPROVAL or not stored.result:
                    continue
                status = RunStatus.model_validate(stored.result)
            found.append(status)
        return found

    statuses = await runs.db.call(keep)
    for notice in paused:  # a run that ended here paused its action: say so, as the poller does
        await announce(await runs.client(), notice.group_id, notice.notice)
    waiting = [s for s in statuses if s.state == RunState.AWAITING_APPROVAL]
    rows = await runs.db.call(
        lambda session: [runs.out(session, get_run(session, s.run_id)) for s in waiting]
    )
    found = []
    for status, run in zip(waiting, rows, strict=True):
        found.append(
            ApprovalOut(
                run=run,
                plan=status.plan,
                expires_at=status.approval_expires_at,
                decisions=[d.model_dump(mode="json") for d in status.decisions],
            )
        )
    return found


async def decide_run(runs: Runs, run_id: str, approve: bool, comment: str, caller: Caller) -> str:
    """Approve or reject a waiting run as `caller`; 409 with the run's reason when refused."""
    await runs.db.call(lambda s: get_run(s, run_id))  # 404 for a run the hub does not know
    await runs.refresh(run_id)  # its state now, when its workflow answers in time
    run = await runs.db.call(lambda s: get_run(s, run_id))
    if run.status != HubRunState.AWAITING_APPROVAL:
        raise ApiError(
            409,
            f"run {run_id} is not waiting for approval (it is {run.status})",
            "GET /approvals lists the runs waiting for a decision",
        )
    decision = Decision(approve=approve, by=caller.name, role=caller.role.value, comment=comment)
    client = await runs.client()
    try:
        answer = await asyncio.wait_for(
            decide(client, run_id, decision), runs.settings.hub_status_timeout_s * 2
        )
    except DecisionRefused as exc:
        raise ApiError(
            409, str(exc), "GET /approvals lists the runs waiting for a decision"
        ) from None
    except (TimeoutError, RPCError):
        raise ApiError(
            503,
            f"Temporal did not take the decision on run {run_id} in time",
            "nothing was decided: try again once Temporal answers",
        ) from None
    await runs.refresh(run_id)
    return answer
