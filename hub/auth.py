"""Who may call: users hold bearer tokens and one role; workers hold their group's client secret.

Tokens and secrets are random 32-byte values shown once; the store keeps their sha256 only, and a
presented secret is compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import ApiError
from hub.models import ApiToken, User, WorkerGroup, utcnow
from hub.names import check_distinct, check_name


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    VIEWER = "viewer"


class Permission(StrEnum):
    VIEW = "view"  # view remediations, groups, findings, runs, logs
    TRIGGER = "trigger"  # start remediations (manual runs, ingesting findings)
    MANAGE = "manage"  # create or update remediations, groups, accounts, users


#: The roles matrix of the finding-payload spec: create/update Admin; view all; trigger Admin+Analyst.
MATRIX: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset({Permission.VIEW, Permission.TRIGGER, Permission.MANAGE}),
    Role.ANALYST: frozenset({Permission.VIEW, Permission.TRIGGER}),
    Role.VIEWER: frozenset({Permission.VIEW}),
}

TOKEN_PREFIX = "rmt_"
LAST_USE_PRECISION = timedelta(minutes=1)
SECRET_PREFIX = "rms_"


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(presented: str, stored_hash: str) -> bool:
    return hmac.compare_digest(digest(presented).encode(), stored_hash.encode())


@dataclass(frozen=True)
class Caller:
    name: str
    role: Role


def issue_token(
    session: Session, user: User, *, label: str = "", expires_at: datetime | None = None
) -> str:
    """A new token of the user (shown once; stored as its sha256), expiring when given."""
    token = new_secret(TOKEN_PREFIX)
    session.add(
        ApiToken(user_id=user.id, token_hash=digest(token), label=label, expires_at=expires_at)
    )
    return token


def create_user(session: Session, name: str, role: Role) -> tuple[User, str]:
    """A new user and its first token (the only time the token is seen)."""
    name = check_name(name)
    existing = session.scalars(select(User.name)).all()
    if name in existing:
        raise ApiError(
            409,
            f"a user named {name!r} exists",
            f"choose another name, or issue it a new token: POST /users/{name}/tokens "
            f"or `remedy hub token issue {name}`",
        )
    check_distinct(name, existing, "user")
    user = User(name=name, role=role.value)
    session.add(user)
    session.flush()
    return user, issue_token(session, user)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


UNAUTHORIZED_FIX = (
    "send `Authorization: Bearer <token>`; `remedy hub create-user NAME --role ROLE` "
    "(or an admin's POST /users) makes a user and prints its token"
)


def caller_from_token(session: Session, token: str | None) -> Caller:
    if not token or len(token) > 200:
        raise ApiError(
            401, "no API token", UNAUTHORIZED_FIX, headers={"WWW-Authenticate": "Bearer"}
        )
    hashed = digest(token)
    found = session.execute(
        select(User, ApiToken)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hashed)
    ).first()
    if found is None or not hmac.compare_digest(found[1].token_hash.encode(), hashed.encode()):
        raise ApiError(
            401,
            "the API token is not valid",
            UNAUTHORIZED_FIX,
            headers={"WWW-Authenticate": "Bearer"},
        )
    user, row = found
    now = utcnow()
    refused = (
        "the API token has been revoked"
        if row.revoked_at is not None
        else "the API token has expired"
        if row.expires_at is not None and row.expires_at <= now
        else f"user {user.name} is disabled"
        if user.disabled
        else None
    )
    if refused:
        raise ApiError(
            401,
            refused,
            "ask an admin for a new token (POST /users/{name}/tokens, `remedy hub token issue`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if row.last_used_at is None or now - row.last_used_at > LAST_USE_PRECISION:
        row.last_used_at = now  # written at most once a minute per token
    return Caller(name=user.name, role=Role(user.role))


def authorize(caller: Caller, permission: Permission, what: str) -> None:
    if permission not in MATRIX[caller.role]:
        allowed = ", ".join(r.value for r, perms in MATRIX.items() if permission in perms)
        raise ApiError(
            403,
            f"{caller.name} is a {caller.role.value}, and a {caller.role.value} may not {what}",
            f"ask an admin to do it, or to give you a role that may ({allowed})",
        )


WORKER_FIX = (
    "send the worker group's client id and secret as HTTP Basic credentials "
    "(VSS_CLIENT_ID / VSS_CLIENT_SECRET); POST /worker-groups/{id}/regenerate-secret makes new ones"
)


def worker_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or len(value) > 1000:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep and client_id and secret else None


def group_from_credentials(session: Session, credentials: tuple[str, str] | None) -> WorkerGroup:
    if credentials is None:
        raise ApiError(
            401, "no worker credentials", WORKER_FIX, headers={"WWW-Authenticate": "Basic"}
        )
    client_id, secret = credentials
    group = session.scalar(select(WorkerGroup).where(WorkerGroup.client_id == client_id[:64]))
    # compare even when the client id is unknown, so timing does not tell which part was wrong
    stored = group.secret_hash if group else digest("no such client")
    if not same_secret(secret, stored) or group is None:
        raise ApiError(
            401,
            "the worker group's client id or secret is not valid",
            WORKER_FIX,
            headers={"WWW-Authenticate": "Basic"},
        )
    return group
