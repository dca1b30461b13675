"""Job logs shipped by workers: redacted on receipt, read per run or per group, newest first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db import count
from hub.models import LogEntry, WorkerGroup
from hub.schemas import LogBatch, LogEntryOut
from remedy.logs import redact


def store_logs(session: Session, group: WorkerGroup, run_id: str, batch: LogBatch) -> int:
    text = "\n".join(line.replace("\x00", "\ufffd") for line in batch.lines)
    session.add(
        LogEntry(
            group_id=group.id,
            run_id=run_id,
            worker_id=batch.worker_id,
            job=batch.job.replace("\x00", ""),
            text=redact(text),
        )
    )
    return len(batch.lines)


def read_logs(
    session: Session,
    *,
    run_id: str | None = None,
    group_id: str | None = None,
    offset: int = 0,
    limit: int = 100,
    newest_first: bool = True,
) -> tuple[list[LogEntryOut], int]:
    query = select(LogEntry)
    if run_id is not None:
        query = query.where(LogEntry.run_id == run_id)
    if group_id is not None:
        query = query.where(LogEntry.group_id == group_id)
    order = LogEntry.id.desc() if newest_first else LogEntry.id.asc()
    entries = session.scalars(query.order_by(order).offset(offset).limit(limit)).all()
    return [
        LogEntryOut(
            id=e.id,
            run_id=e.run_id,
            group_id=e.group_id,
            worker_id=e.worker_id,
            job=e.job,
            received_at=e.received_at,
            text=redact(e.text),
        )
        for e in entries
    ], count(session, query)
