"""Token and user lifecycle: issue (optionally expiring), list with last use, revoke; change a
user's role, disable or delete it. The store never holds a token, only its sha256.

An admin cannot remove the last enabled admin (by role change, disabling or deleting): the hub
would have nobody left to manage it but `remedy hub create-user` on the store.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.auth import TOKEN_PREFIX, Role, digest, new_secret
from hub.db import count
from hub.errors import ApiError, not_found
from hub.models import ApiToken, User, utcnow
from hub.names import check_name

MAX_DAYS = 3650


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(default="", max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")
    expires_in_days: float | None = Field(
        default=None, gt=0, le=MAX_DAYS, description="None: the token does not expire."
    )


class TokenOut(BaseModel):
    id: int
    user: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="To the minute.")
    revoked_at: datetime | None
    active: bool


class TokenIssued(BaseModel):
    token: str = Field(description="The API token: shown this once, stored hashed.")
    details: TokenOut


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    disabled: bool | None = Field(default=None, description="A disabled user's tokens are refused.")


class UserDetail(BaseModel):
    name: str
    role: Role
    disabled: bool
    created_at: datetime
    tokens: int = Field(description="Active tokens.")


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise not_found("user", name, "/users")
    return user


def _active(token: ApiToken, now: datetime) -> bool:
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


def token_out(token: ApiToken, user: User, now: datetime | None = None) -> TokenOut:
    return TokenOut(
        id=token.id,
        user=user.name,
        label=token.label,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
        active=_active(token, now or utcnow()),
    )


def user_detail(session: Session, user: User) -> UserDetail:
    now = utcnow()
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    return UserDetail(
        name=user.name,
        role=Role(user.role),
        disabled=user.disabled,
        created_at=user.created_at,
        tokens=sum(1 for t in tokens if _active(t, now)),
    )


def issue(session: Session, name: str, body: TokenIn) -> TokenIssued:
    user = get_user(session, name)
    expires = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    secret = new_secret(TOKEN_PREFIX)
    row = ApiToken(
        user_id=user.id,
        token_hash=digest(secret),
        label=check_label(body.label),
        expires_at=expires,
    )
    session.add(row)
    session.flush()
    return TokenIssued(token=secret, details=token_out(row, user))


def check_label(label: str) -> str:
    return check_name(label, "label") if label.strip() else ""


def list_tokens(session: Session, name: str) -> list[TokenOut]:
    user = get_user(session, name)
    now = utcnow()
    rows = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    ).all()
    return [token_out(t, user, now) for t in rows]


def revoke(session: Session, name: str, token_id: int) -> TokenOut:
    """Refused from the next request on; the row stays, so the listing shows when."""
    user = get_user(session, name)
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise not_found("token", token_id, f"/users/{name}/tokens")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token_out(token, user)


def _keep_an_admin(session: Session, user: User) -> None:
    others = select(User).where(User.role == Role.ADMIN.value, ~User.disabled, User.id != user.id)
    if user.role == Role.ADMIN.value and not user.disabled and count(session, others) == 0:
        raise ApiError(
            409,
            f"{user.name} is the last enabled admin",
            "make another admin first (POST /users, or PATCH one's role)",
        )


def update_user(session: Session, name: str, patch: UserPatch) -> User:
    user = get_user(session, name)
    demoted = patch.role is not None and patch.role != Role.ADMIN
    if demoted or patch.disabled:
        _keep_an_admin(session, user)
    if patch.role is not None:
        user.role = patch.role.value
    if patch.disabled is not None:
        user.disabled = patch.disabled
    return user


def delete_user(session: Session, name: str) -> None:
    """The user and its tokens go; what it made (actions, runs) keeps its name."""
    user = get_user(session, name)
    _keep_an_admin(session, user)
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    session.delete(user)
