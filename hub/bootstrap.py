"""The first admin of a deployed hub, from a token the operator put in its environment.

A hub started by compose or Kubernetes has no shell to run `remedy hub create-user` in. When
`REMEDY_BOOTSTRAP_ADMIN_TOKEN` is set and the store holds no admin at all, the hub makes one at
start (named `REMEDY_BOOTSTRAP_ADMIN_NAME`, `admin` by default) holding that token. The store keeps
the token's sha256 only, like every token, and nothing logs it: the operator chose it and already
has it. Once any admin exists the variable changes nothing, so it may stay set; revoke the token
(`DELETE /users/{name}/tokens/{id}`) once real admins have their own.
"""

from __future__ import annotations

import logging

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.audit import record
from hub.auth import TOKEN_PREFIX, Role, digest
from hub.db import Database
from hub.models import ApiToken, User

log = logging.getLogger("remedy.hub")

#: at least as much randomness as the hub's own tokens (32 bytes, url-safe base64)
MIN_SECRET_CHARS = 40
#: longer tokens are refused by every request (hub/auth.py caller_from_token)
MAX_TOKEN_CHARS = 200
GENERATE = 'generate one with `echo "rmt_$(openssl rand -hex 32)"`'


class BootstrapSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REMEDY_BOOTSTRAP_ADMIN_", extra="ignore", hide_input_in_errors=True
    )
    #: the first admin's API token (`rmt_` and at least 40 random characters); unset: no bootstrap
    token: SecretStr | None = None
    #: the admin's user name (letters, digits, `.`, `_`, `@`, `-`)
    name: str = Field(default="admin", pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        token = value.get_secret_value().strip()
        secret = token.removeprefix(TOKEN_PREFIX)
        if (
            not token.startswith(TOKEN_PREFIX)
            or len(secret) < MIN_SECRET_CHARS
            or len(token) > MAX_TOKEN_CHARS
            or not secret.isascii()
            or not secret.replace("-", "").replace("_", "").isalnum()
        ):
            raise ValueError(
                f"REMEDY_BOOTSTRAP_ADMIN_TOKEN must be {TOKEN_PREFIX} followed by "
                f"{MIN_SECRET_CHARS} to {MAX_TOKEN_CHARS - len(TOKEN_PREFIX)} letters, digits, "
                f"- or _; {GENERATE}"
            )
        return SecretStr(token)


def bootstrap_settings() -> BootstrapSettings:
    try:
        return BootstrapSettings()
    except ValidationError as exc:  # the message names the variable, never its value
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            message = str(error["msg"]).removeprefix("Value error, ")
            variable = "REMEDY_BOOTSTRAP_ADMIN_" + "_".join(map(str, error["loc"])).upper()
            problems.append(message if variable in message else f"{variable}: {message}")
        raise ValueError("; ".join(problems)) from None


def _make_admin(session: Session, name: str, token: str) -> bool:
    if session.scalar(select(User.id).where(User.role == Role.ADMIN.value).limit(1)) is not None:
        return False
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise ValueError(
            f"the store has no admin, and a user named {name!r} exists that is not one: set "
            "REMEDY_BOOTSTRAP_ADMIN_NAME to another name, or make an admin with "
            "`remedy hub create-user NAME --role admin`"
        )
    user = User(name=name, role=Role.ADMIN.value)
    session.add(user)
    session.flush()
    session.add(ApiToken(user_id=user.id, token_hash=digest(token), label="bootstrap"))
    record(session, "bootstrap", Role.ADMIN.value, f"make the first admin {name}", 0, "hub start")
    return True


def bootstrap_admin(db: Database, settings: BootstrapSettings | None = None) -> str | None:
    """Make the first admin when the token is set and no admin exists; its name, or None."""
    settings = settings or bootstrap_settings()
    if settings.token is None:
        return None
    token = settings.token.get_secret_value()
    try:
        made = db.run(lambda s: _make_admin(s, settings.name, token))
    except IntegrityError:  # another hub starting at the same moment made it first
        return None
    if not made:
        return None
    log.info(
        "made the first admin %r from REMEDY_BOOTSTRAP_ADMIN_TOKEN (the store keeps its hash only)",
        settings.name,
    )
    return settings.name
