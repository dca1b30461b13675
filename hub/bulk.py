"""Multi-row writes for batch ingest: one statement per table per batch, not one per finding.

Each is an `INSERT ... ON CONFLICT` (PostgreSQL and SQLite both have it), so a row another hub
wrote a moment ago is skipped or updated in the database, never raised as an error: the
per-row path with savepoints (`hub/ingest.py` `_store`, `hub/claims.py` `claim_run`) is only
the fallback for what a batch could not settle.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.models import Finding, QueuedStart, Run
from hub.run_states import HubRunState

#: the dialects whose INSERT takes ON CONFLICT and RETURNING; others take the per-row path
DIALECTS = ("postgresql", "sqlite")


def supported(session: Session) -> bool:
    return session.get_bind().dialect.name in DIALECTS


def _insert(session: Session, table: Table) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert_findings(session: Session, rows: Sequence[dict[str, Any]]) -> dict[str, bool]:
    """Insert the findings, or update the ones stored (one statement); {id: created}.

    `rows` hold every column but the counters and dates, with distinct ids. A stored finding
    keeps its status and first sighting and counts one more sighting, in SQL: concurrent
    deliveries never overwrite each other's count. A row comes back with a count of 1 exactly
    when this statement created it, so a finding a racing hub created is reported updated.
    """
    if not rows:
        return {}
    table = Finding.__table__
    assert isinstance(table, Table)
    now = rows[0]["last_seen"]
    values = [{**row, "status": "open", "first_seen": now, "times_seen": 1} for row in rows]
    statement = _insert(session, table)
    kept = ("id", "status", "first_seen", "times_seen")
    changes: dict[str, Any] = {
        c.name: statement.excluded[c.name] for c in table.columns if c.name not in kept
    }
    changes["times_seen"] = table.c.times_seen + 1
    statement = statement.on_conflict_do_update(index_elements=["id"], set_=changes).returning(
        table.c.id, table.c.times_seen
    )
    # executemany ("insertmanyvalues"): one compiled statement, cached, sent in multi-row pages
    return {row.id: row.times_seen == 1 for row in session.execute(statement, values)}


def insert_runs(
    session: Session,
    runs: Sequence[tuple[str, str, int, str, str]],
    *,
    trigger: str,
    by: str,
    message: str,
    now: datetime,
) -> set[str]:
    """Claim `(run id, finding id, action id, group id, mode)` runs as pending (one statement); the
    ids claimed. A run that exists (same id, or same finding and action: a racing hub's) is
    left as it is and not returned."""
    if not runs:
        return set()
    table = Run.__table__
    assert isinstance(table, Table)
    values = [
        {
            "id": run_id,
            "finding_id": finding_id,
            "remediation_id": action_id,
            "group_id": group_id,
            "trigger": trigger,
            "triggered_by": by,
            "status": HubRunState.PENDING,
            "message": message,
            "start_attempts": 1,
            "result": None,
            "created_at": now,
            "updated_at": now,
            "ended_at": None,
            "mode": mode,
        }
        for run_id, finding_id, action_id, group_id, mode in runs
    ]
    statement = _insert(session, table).on_conflict_do_nothing().returning(table.c.id)
    return set(session.scalars(statement, values))


def enqueue_all(
    session: Session, run_ids: Sequence[str], *, now: datetime, lease_until: datetime
) -> None:
    """Queue claimed runs, leased to the caller for their first attempt (one statement; a run
    queued already stays as it is)."""
    if not run_ids:
        return
    table = QueuedStart.__table__
    assert isinstance(table, Table)
    values = [
        {
            "run_id": run_id,
            "attempts": 1,
            "next_try_at": lease_until,
            "queued_at": now,
            "last_error": "",
        }
        for run_id in run_ids
    ]
    session.execute(_insert(session, table).on_conflict_do_nothing(), values)
