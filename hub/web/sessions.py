"""Browser sessions: a user token exchanged for a random session id kept server-side.

The cookie holds the session id only; the store keeps its sha256, the token it was opened with
(so revoking the token, its expiry or disabling the user ends the session too) and the session's
CSRF token, which every form carries back (hub/web/csrf.py).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.auth import Caller, Role, caller_from_token, digest
from hub.models import ApiToken, Base, BigId, User, utcnow


class WebSession(Base):
    __tablename__ = "hub_web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("hub_api_tokens.id", ondelete="CASCADE"), index=True
    )
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


@dataclass(frozen=True)
class SignedIn:
    caller: Caller
    csrf: str

    @property
    def may_trigger(self) -> bool:
        return self.caller.role in (Role.ADMIN, Role.ANALYST)

    @property
    def may_manage(self) -> bool:
        return self.caller.role == Role.ADMIN


def open_session(session: Session, token: str, hours: float) -> tuple[str, SignedIn]:
    """A new session for the token's user (401 as the API answers a bad token); its id, once."""
    caller = caller_from_token(session, token)
    token_id = session.scalars(
        select(ApiToken.id).where(ApiToken.token_hash == digest(token))
    ).one()
    now = utcnow()
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id_hash=digest(session_id),
            token_id=token_id,
            csrf=csrf,
            expires_at=now + timedelta(hours=hours),
        )
    )
    return session_id, SignedIn(caller, csrf)


def signed_in(session: Session, session_id: str | None) -> SignedIn | None:
    """Who the session is, while it, its token and its user are all still valid."""
    if not session_id or len(session_id) > 100:
        return None
    hashed = digest(session_id)
    found = session.execute(
        select(WebSession, ApiToken, User)
        .join(ApiToken, ApiToken.id == WebSession.token_id)
        .join(User, User.id == ApiToken.user_id)
        .where(WebSession.id_hash == hashed)
    ).first()
    if found is None or not hmac.compare_digest(found[0].id_hash, hashed):
        return None
    web, token, user = found
    now = utcnow()
    if (
        web.expires_at <= now
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
        or user.disabled
    ):
        return None
    return SignedIn(Caller(user.name, Role(user.role)), web.csrf)


def close_session(session: Session, session_id: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id_hash == digest(session_id[:100])))
