"""How much one action may change, and when it stops itself: the blast radius (issue #14).

- **Limits**, per action and per account: at most `at_once` runs of the action open at a time in
  one account, and at most `per_hour` started there in the last hour. A run over a limit waits in
  the durable start queue (hub/start_queue.py), oldest first, with a message saying which limit
  holds it; nothing is lost while it waits, and it starts when a place frees.
- **Circuit breaker**: when more than `failure_percent` % of the action's last `window` ended runs
  failed (at least `min_runs` of them), the action pauses itself: its runs wait, the reason is on
  the action (`paused`), in the audit log and in the hub's log at WARNING. An Admin resumes it
  (`POST /remediations/{id}/resume`). In the spirit of AWS Config's ErrorPercentage and Azure
  Policy remediation tasks' failureThreshold.

The defaults are conservative: 5 at once and 60 an hour per account; pause when more than half
of the last 10 runs (at least 5) failed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub import audit
from hub.models import Finding, Remediation, Run, utcnow
from hub.run_states import ENDED, HubRunState

log = logging.getLogger("remedy.hub")

#: the states of a run that count against `at_once` (started, not ended)
OPEN = (
    HubRunState.SUBMITTED,
    HubRunState.RUNNING,
    HubRunState.AWAITING_APPROVAL,
    HubRunState.STUCK,
)
#: ended without a fix through no choice of a person (a cancel or a terminate is one)
FAILED = (HubRunState.FAILED, HubRunState.TIMED_OUT)


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at_once: int = Field(default=5, ge=1, le=1000, description="Runs open at a time, per account.")
    per_hour: int = Field(
        default=60, ge=1, le=100_000, description="Runs started in the last hour, per account."
    )


class Breaker(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window: int = Field(default=10, ge=1, le=1000, description="The last N ended runs looked at.")
    failure_percent: float = Field(
        default=50, ge=0, le=100, description="Pause when more than this % of them failed."
    )
    min_runs: int = Field(
        default=5, ge=1, le=1000, description="Never pause on fewer ended runs than this."
    )


def hold(session: Session, action: Remediation, account_id: str, run_id: str) -> str | None:
    """Why a run of `action` in `account_id` must wait before it starts; None: it may start, and
    its place is taken (`started_at` set) in the same transaction.

    The action's row is locked first (an UPDATE of nothing: PostgreSQL's row lock, SQLite's write
    lock), so hubs and start tasks deciding for one action at once decide one after the other.
    """
    session.execute(
        update(Remediation)
        .where(Remediation.id == action.id)
        .values(paused_reason=Remediation.paused_reason)
        .execution_options(synchronize_session=False)
    )
    if action.paused_reason:
        return (
            f"waiting: action {action.name} is paused ({action.paused_reason}); an Admin "
            f"resumes it with POST /remediations/{action.id}/resume"
        )
    limits = Limits.model_validate(action.limits or {})
    mine = (
        select(func.count())
        .select_from(Run)
        .join(Finding, Finding.id == Run.finding_id)
        .where(Run.remediation_id == action.id, Finding.account_id == account_id)
    )
    starting = (Run.status == HubRunState.PENDING) & Run.started_at.is_not(None)
    open_now = session.scalar(mine.where(Run.status.in_(OPEN) | starting)) or 0
    if open_now >= limits.at_once:
        return (
            f"waiting: {open_now} run(s) of action {action.name} are open in account "
            f"{account_id} (at most {limits.at_once} at once); it starts when one ends"
        )
    hour_ago = utcnow() - timedelta(hours=1)
    started = session.scalar(mine.where(Run.started_at >= hour_ago)) or 0
    if started >= limits.per_hour:
        return (
            f"waiting: {started} run(s) of action {action.name} started in account {account_id} "
            f"in the last hour (at most {limits.per_hour} an hour)"
        )
    run = session.get(Run, run_id)
    if run is not None:
        run.started_at = utcnow()  # its place, before Temporal answers
    return None


def trip(session: Session, action_id: int) -> str | None:
    """After a run of the action ended: pause the action when too many of its last runs failed.
    Returns the reason when it paused it now."""
    action = session.get(Remediation, action_id)
    if action is None or action.paused_reason:
        return None
    breaker = Breaker.model_validate(action.breaker or {})
    last = session.scalars(
        select(Run.status)
        .where(Run.remediation_id == action_id, Run.status.in_(ENDED))
        .order_by(Run.ended_at.desc())
        .limit(breaker.window)
    ).all()
    failed = sum(status in FAILED for status in last)
    if len(last) < breaker.min_runs or failed * 100 <= breaker.failure_percent * len(last):
        return None
    reason = (
        f"circuit breaker: {failed} of its last {len(last)} ended runs failed (more than "
        f"{breaker.failure_percent:g} %) at {utcnow():%Y-%m-%d %H:%M:%SZ}"
    )
    action.paused_reason = reason
    audit.record(session, "hub", "system", f"pause remediation {action_id}", 200, reason)
    log.warning("action %s (%s) paused itself: %s", action_id, action.name, reason)
    return reason


def pause(session: Session, action: Remediation, by: str) -> None:
    """An Admin pauses the action by hand (a change freeze, an incident): its runs wait, in
    order, as they do after the circuit breaker trips, until it is resumed."""
    if action.paused_reason:
        return  # already paused: its first reason stands
    action.paused_reason = f"paused by {by} at {utcnow():%Y-%m-%d %H:%M:%SZ}"
    audit.record(session, by, "admin", f"pause remediation {action.id}", 200, action.paused_reason)


def resume(session: Session, action: Remediation, by: str) -> None:
    """An Admin lifts the pause: the action's waiting runs start as the limits allow."""
    if action.paused_reason:
        audit.record(
            session, by, "admin", f"resume remediation {action.id}", 200, action.paused_reason
        )
    action.paused_reason = ""
