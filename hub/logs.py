"""Job logs shipped by workers: redacted on receipt, read per run or per group, newest first.

A worker ships lines only for a run of its own group, under the id it registered with, while its
group is enabled; each entry keeps which worker of which group sent it, and a run's logs are only
the entries its own group sent.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db import count
from hub.errors import ApiError
from hub.models import LogEntry, Run, Worker, WorkerGroup
from hub.schemas import LogBatch, LogEntryOut
from remedy.logs import redact


def check_sender(session: Session, group: WorkerGroup, run_id: str, worker_id: str) -> None:
    """Refuse a batch unless the run is the group's and the worker is registered in it."""
    run = session.get(Run, run_id)
    if run is None or run.group_id != group.id:
        # the same answer for another group's run as for none: run ids are guessable
        raise ApiError(
            404,
            f"worker group {group.id} has no run {run_id[:200]!r}",
            "ship the logs of runs the hub started for this group only",
        )
    registered = session.scalar(
        select(Worker.id).where(Worker.group_id == group.id, Worker.worker_id == worker_id)
    )
    if not worker_id or registered is None:
        raise ApiError(
            403,
            f"worker {worker_id[:200]!r} is not registered in group {group.id}",
            "register first (POST /worker/register) and send its worker_id with each batch",
            field="worker_id",
        )


def store_logs(
    session: Session, group: WorkerGroup, run_id: str, batch: LogBatch, max_line_chars: int
) -> int:
    for index, line in enumerate(batch.lines):
        if len(line) > max_line_chars:
            raise ApiError(
                413,
                f"lines.{index}: {len(line)} characters; the limit is {max_line_chars}",
                f"split or cut lines to at most {max_line_chars} characters",
                field=f"lines.{index}",
            )
    check_sender(session, group, run_id, batch.worker_id)
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
    max_chars: int | None = None,
) -> tuple[list[LogEntryOut], int]:
    """A page of entries; it stops early once their text passes `max_chars` (at least one)."""
    query = select(LogEntry)
    if run_id is not None:
        query = query.where(LogEntry.run_id == run_id)
    if group_id is not None:
        query = query.where(LogEntry.group_id == group_id)
    order = LogEntry.id.desc() if newest_first else LogEntry.id.asc()
    items: list[LogEntryOut] = []
    size = 0
    for e in session.scalars(query.order_by(order).offset(offset).limit(limit)):
        if items and max_chars is not None and size + len(e.text) > max_chars:
            break
        size += len(e.text)
        items.append(
            LogEntryOut(
                id=e.id,
                run_id=e.run_id,
                group_id=e.group_id,
                worker_id=e.worker_id,
                job=e.job,
                received_at=e.received_at,
                text=redact(e.text),
            )
        )
    return items, count(session, query)
