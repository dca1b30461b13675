"""The durable queue of runs to start: ingest never waits for Temporal.

A run claimed in the store (`hub/claims.py`) is queued in the same transaction, keyed by its id,
which is its workflow id: a finding delivered twice is queued once, and a start that is retried
joins the same workflow. The claimant tries the first start at once, in the background; a start
that fails (Temporal down, or hanging past `hub_start_timeout_s`) is tried again after a backoff
(5 s, doubling, at most 5 min) by whichever hub's drainer takes it first. An entry leaves the
queue when its run is started, or can never be (finding or account gone, bad finding), so a
Temporal that is away delays runs and loses none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import bulk
from hub.claims import RunToStart
from hub.db import count
from hub.models import Finding, QueuedStart, Run, utcnow
from hub.run_states import HubRunState

#: how long the hub that took an entry has it before another hub may try it
LEASE = timedelta(seconds=15)
BACKOFF_FIRST_S = 5.0
BACKOFF_MAX_S = 300.0
QUEUED_MESSAGE = "queued to start on Temporal; a failed start will retry with backoff"


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed start."""
    return timedelta(seconds=min(BACKOFF_FIRST_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


def enqueue(session: Session, run_id: str) -> None:
    """Queue a claimed run, leased to the caller for its first attempt (no-op if queued)."""
    if session.get(QueuedStart, run_id) is not None:
        return
    run = session.get(Run, run_id)
    if run is not None:
        run.message = QUEUED_MESSAGE
    now = utcnow()
    try:
        with session.begin_nested():
            session.add(
                QueuedStart(
                    run_id=run_id, attempts=1, next_try_at=now + LEASE, queued_at=now, last_error=""
                )
            )
    except IntegrityError:
        pass  # another hub queued it at the same moment


def enqueue_all(session: Session, run_ids: Sequence[str]) -> None:
    """`enqueue` for the runs a batch claimed (their message is set at the claim), in one
    statement."""
    now = utcnow()
    bulk.enqueue_all(session, run_ids, now=now, lease_until=now + LEASE)


#: how soon a run held by its action's limits (hub/blast_radius.py) is looked at again
HOLD_RETRY = timedelta(seconds=5)


def hold(session: Session, run_id: str, why: str) -> None:
    """Keep a run queued, untried, because its action's limits hold it (not a failed start):
    its turn comes again after HOLD_RETRY, in the order it was queued."""
    session.execute(
        update(QueuedStart)
        .where(QueuedStart.run_id == run_id)
        .values(next_try_at=utcnow() + HOLD_RETRY)
        .execution_options(synchronize_session=False)
    )
    run = session.get(Run, run_id)
    if run is not None:
        run.message = why[:2000]


def gather(session: Session, run_ids: Sequence[str], wait_s: float) -> None:
    """Keep runs queued, untried, while this hub gathers them into one batch (hub/batching.py):
    no hub takes them before the wait and a lease have passed, so they start with the batch,
    or, if this hub stops meanwhile, from the queue as any queued run."""
    until = utcnow() + timedelta(seconds=wait_s) + LEASE
    session.execute(
        update(QueuedStart)
        .where(QueuedStart.run_id.in_(run_ids))
        .values(next_try_at=until)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Run)
        .where(Run.id.in_(run_ids), Run.status == HubRunState.PENDING)
        .values(message=f"gathered into a batch: starts within {wait_s:g} s with the others")
        .execution_options(synchronize_session=False)
    )


def take_due(session: Session, limit: int = 100) -> list[RunToStart]:
    """Lease the entries whose time has come; only one hub wins each (its attempt count moves).
    A batch tried before is taken whole: its other due entries come along past `limit`, so a
    retry starts it with all its members, not a part of it and the rest in another batch."""
    now = utcnow()
    due = list(
        session.scalars(
            select(QueuedStart)
            .where(QueuedStart.next_try_at <= now)
            .order_by(QueuedStart.queued_at)  # in the order they came: a held run keeps its place
            .limit(limit)
        ).all()
    )
    due += _rest_of_tried_batches(session, due, now)
    taken = []
    for entry in due:
        won = session.execute(
            update(QueuedStart)
            .where(QueuedStart.run_id == entry.run_id, QueuedStart.attempts == entry.attempts)
            .values(attempts=entry.attempts + 1, next_try_at=now + LEASE)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if won:
            item = to_start(session, entry.run_id)
            if item is not None:
                taken.append(item)
    return taken


def _rest_of_tried_batches(
    session: Session, due: Sequence[QueuedStart], now: datetime
) -> list[QueuedStart]:
    """The due entries, not in `due`, of the batches that runs in `due` were tried in."""
    tried = set(
        session.scalars(
            select(Run.batch_id).where(
                Run.id.in_([e.run_id for e in due]), Run.batch_id.is_not(None)
            )
        ).all()
    )
    if not tried:
        return []
    have = {e.run_id for e in due}
    rest = session.scalars(
        select(QueuedStart)
        .join(Run, Run.id == QueuedStart.run_id)
        .where(Run.batch_id.in_(tried), QueuedStart.next_try_at <= now)
        .order_by(QueuedStart.queued_at)
    ).all()
    return [e for e in rest if e.run_id not in have]


def to_start(session: Session, run_id: str) -> RunToStart | None:
    """What starting a queued run takes; None (and the entry dropped) when it is not pending."""
    run = session.get(Run, run_id)
    finding = session.get(Finding, run.finding_id) if run is not None else None
    if run is None or finding is None or run.status != HubRunState.PENDING:
        done(session, run_id)
        return None
    payload = {**finding.payload, "autoRemediate": run.trigger == "auto"}
    return RunToStart(run.id, run.remediation_id, run.finding_id, run.group_id, payload)


def done(session: Session, run_id: str) -> None:
    """The run is started, or can never be: it leaves the queue."""
    session.execute(delete(QueuedStart).where(QueuedStart.run_id == run_id))


def failed(session: Session, run_ids: Sequence[str], error: str) -> None:
    """Starts that did not happen: try again after the backoff. The runs of one start (a batch)
    get one time, the latest of their backoffs, so they come due together and retry as one."""
    entries = [e for e in (session.get(QueuedStart, r) for r in run_ids) if e is not None]
    if not entries:
        return
    next_try_at = utcnow() + backoff(max(e.attempts for e in entries))
    for entry in entries:
        entry.next_try_at = next_try_at
        entry.last_error = error[:2000]


def queued(session: Session) -> int:
    """How many runs wait to start."""
    return count(session, select(QueuedStart))
