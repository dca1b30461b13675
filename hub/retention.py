"""Log retention: entries older than `hub_log_retention_days` go, then the oldest entries until
the rest fit in `hub_log_retention_mb` (characters of text, a close measure of bytes).

The hub prunes every `hub_retention_interval_s`; `prune_logs` is the one pass. Entry ids grow with
time, so "the oldest" is the lowest ids, and each pass deletes by id range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.config import HubSettings
from hub.models import LogEntry, utcnow

BATCH = 5_000  # rows read at once while summing sizes from the newest down


@dataclass
class Pruned:
    by_age: int
    by_size: int


def prune_logs(session: Session, settings: HubSettings, now: datetime | None = None) -> Pruned:
    now = now or utcnow()
    cutoff = now - timedelta(days=settings.hub_log_retention_days)
    by_age = session.execute(
        delete(LogEntry)
        .where(LogEntry.received_at < cutoff)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    budget = int(settings.hub_log_retention_mb * 1_000_000)
    total = session.scalar(select(func.coalesce(func.sum(func.length(LogEntry.text)), 0)))
    by_size = 0
    if int(total or 0) > budget:
        keep_from = _oldest_kept(session, budget)
        by_size = session.execute(
            delete(LogEntry)
            .where(LogEntry.id < keep_from)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    return Pruned(int(by_age or 0), int(by_size or 0))


def _oldest_kept(session: Session, budget: int) -> int:
    """The lowest id of the newest entries whose text fits in `budget` characters."""
    kept: int | None = None
    below: int | None = None
    size = 0
    while True:
        query = select(LogEntry.id, func.length(LogEntry.text)).order_by(LogEntry.id.desc())
        if below is not None:
            query = query.where(LogEntry.id < below)
        rows = session.execute(query.limit(BATCH)).all()
        if not rows:
            return kept if kept is not None else 0
        for entry_id, length in rows:
            size += int(length or 0)
            if size > budget:
                return kept if kept is not None else int(entry_id) + 1
            kept = int(entry_id)
        below = int(rows[-1][0])
