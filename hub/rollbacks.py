"""Rollback runs through the hub: undo what an ended remediation run changed.

The rollback itself is the workflow's (remedy/starter.py `start_rollback`: each job's rollback
from the run's change records, last first, then a check that the before state is back); the hub
checks the run may be rolled back, starts it, and records it as the finding's rollback run
(`hub_runs.mode` rollback, `rollback_of` the run it undoes), which the poller then follows.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.orm import Session
from temporalio.service import RPCError

from hub.claims import follow_runs
from hub.errors import ApiError
from hub.models import Finding, Run, utcnow
from hub.run_states import ENDED, HubRunState
from hub.runs import Runs, get_run
from hub.schemas import RunOut
from remedy.starter import CannotRollBack, start_rollback


async def start(runs: Runs, run_id: str, by: str) -> RunOut:
    """Start the rollback of an ended remediation run (remedy/starter.py start_rollback: each
    job's rollback, in reverse order, from the run's change records), recorded as the
    finding's rollback run. 409 with the reason when it cannot be rolled back."""

    def check(session: Session) -> Run:
        run = get_run(session, run_id)
        if run.mode != "remediate":
            raise ApiError(
                409,
                f"run {run_id} is a {run.mode} run: only a remediation rolls back",
                f"roll back the remediation run of finding {run.finding_id}",
            )
        if run.status not in ENDED:
            raise ApiError(
                409,
                f"run {run_id} is still {run.status}: it cannot be rolled back yet",
                f"wait for it to end (GET /runs/{run_id}), or cancel it",
            )
        return run

    run = await runs.db.call(check)
    try:
        client = await runs.client()
        rollback_id = await asyncio.wait_for(
            start_rollback(client, run_id, search_attributes=runs.settings.search_attributes),
            runs.settings.hub_start_timeout_s,
        )
    except CannotRollBack as refused:
        raise ApiError(409, str(refused), "nothing was started") from None
    except (TimeoutError, RPCError, OSError, RuntimeError) as exc:
        reason = getattr(exc, "message", None) or str(exc) or "no answer in time"
        raise ApiError(
            503, f"the rollback was not started (Temporal: {reason})", "try again shortly"
        ) from None

    def record(session: Session) -> RunOut:
        now = utcnow()
        row = session.get(Run, rollback_id)
        if row is None:
            row = Run(
                id=rollback_id,
                finding_id=run.finding_id,
                remediation_id=run.remediation_id,
                group_id=run.group_id,
                mode="rollback",
                rollback_of=run_id,
                created_at=now,
                start_attempts=0,
            )
            session.add(row)
        row.trigger, row.triggered_by = "manual", by
        row.status, row.message = (
            HubRunState.SUBMITTED,
            "rollback submitted to the worker group",
        )
        row.result, row.ended_at = None, None
        row.start_attempts = (row.start_attempts or 0) + 1
        row.updated_at = row.started_at = now
        session.flush()
        finding = session.get(Finding, run.finding_id)
        if finding is not None:
            follow_runs(session, finding)
        return runs.out(session, row)

    return await runs.db.call(record)
