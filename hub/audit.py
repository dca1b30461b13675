"""The audit log: every change an admin or analyst makes through the API (who, what, when, the
answer's status), kept in the store and readable by admins (`GET /audit`).

A change is any request but GET, HEAD and OPTIONS that a user's token authorised and the hub
answered below 400. What is recorded is the method and path (ids and names, never a body: it may
hold a token or a secret). `remedy hub` commands that change the store directly record theirs as
`local:<os user>`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth import Caller, Role
from hub.db import Database, count
from hub.limits import App, Message, Receive, Scope, Send
from hub.models import AuditEntry

RECORDED_ROLES = (Role.ADMIN, Role.ANALYST)
READS = ("GET", "HEAD", "OPTIONS")


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    status: int
    detail: str


def record(
    session: Session, actor: str, role: str, action: str, status: int, detail: str = ""
) -> None:
    session.add(
        AuditEntry(
            actor=actor[:100],
            role=role[:20],
            action=action[:300],
            status=status,
            detail=detail[:2000],
        )
    )


def read(
    session: Session, *, actor: str | None, offset: int, limit: int
) -> tuple[list[AuditOut], int]:
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).offset(offset).limit(limit)).all()
    return [
        AuditOut(
            id=r.id,
            at=r.at,
            actor=r.actor,
            role=r.role,
            action=r.action,
            status=r.status,
            detail=r.detail,
        )
        for r in rows
    ], count(session, query)


class AuditTrail:
    """ASGI middleware: after a change a user made, one audit entry."""

    def __init__(self, app: App, db: Database) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READS:
            await self.app(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self._record(scope, int(message["status"]))  # before the client hears
            await send(message)

        await self.app(scope, receive, watch)

    async def _record(self, scope: Scope, status: int) -> None:
        state: dict[str, Any] = scope.get("state") or {}
        caller = state.get("caller")
        if isinstance(caller, Caller) and caller.role in RECORDED_ROLES and status < 400:
            action = f"{scope['method']} {scope['path']}"
            await self.db.call(lambda s: record(s, caller.name, caller.role.value, action, status))
