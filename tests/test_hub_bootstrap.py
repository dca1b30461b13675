"""The first admin from REMEDY_BOOTSTRAP_ADMIN_TOKEN (hub/bootstrap.py), on SQLite and PostgreSQL:
made once by the hub's start, usable at once, never logged, and inert once an admin exists."""

from __future__ import annotations

import logging
import secrets

import httpx
import pytest
from sqlalchemy import select

from hub.app import create_app
from hub.auth import Role, create_user, digest
from hub.bootstrap import BootstrapSettings, bootstrap_admin, bootstrap_settings
from hub.config import HubSettings
from hub.db import Database
from hub.models import ApiToken, AuditEntry, User
from tests.hub_fixtures import NO_TEMPORAL


def new_token() -> str:
    return "rmt_" + secrets.token_hex(32)


async def users_seen_with(settings: HubSettings, token: str) -> httpx.Response:
    """Start the hub (create_app migrates and bootstraps), then GET /users with `token`."""
    app = create_app(settings, NO_TEMPORAL)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://hub.test",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            return await client.get("/users")
    finally:
        await app.state.hub.runs.close()
        app.state.hub.db.dispose()


async def test_the_hub_makes_the_first_admin_from_the_token_once(
    hub_settings: HubSettings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    token = new_token()
    monkeypatch.setenv("REMEDY_BOOTSTRAP_ADMIN_TOKEN", token)
    monkeypatch.setenv("REMEDY_BOOTSTRAP_ADMIN_NAME", "ops-admin")
    caplog.set_level(logging.DEBUG)

    answer = await users_seen_with(hub_settings, token)
    assert answer.status_code == 200, answer.text
    assert [(u["name"], u["role"]) for u in answer.json()] == [("ops-admin", "admin")]
    assert "made the first admin 'ops-admin'" in caplog.text
    assert token not in caplog.text and token.removeprefix("rmt_") not in caplog.text

    db = Database(hub_settings)
    try:
        rows = db.run(lambda s: [(t.token_hash, t.label) for t in s.scalars(select(ApiToken))])
        assert rows == [(digest(token), "bootstrap")]  # the hash, never the token
        audit = db.run(lambda s: [(a.actor, a.action) for a in s.scalars(select(AuditEntry))])
        assert ("bootstrap", "make the first admin ops-admin") in audit
    finally:
        db.dispose()

    # a restart with another token changes nothing: an admin exists
    other = new_token()
    monkeypatch.setenv("REMEDY_BOOTSTRAP_ADMIN_TOKEN", other)
    assert (await users_seen_with(hub_settings, other)).status_code == 401
    again = await users_seen_with(hub_settings, token)
    assert again.status_code == 200 and len(again.json()) == 1


async def test_an_existing_admin_leaves_the_token_unused(hub_settings: HubSettings) -> None:
    db = Database(hub_settings)
    db.migrate()
    try:
        db.run(lambda s: create_user(s, "alice", Role.ADMIN))
        token = new_token()
        assert bootstrap_admin(db, BootstrapSettings(token=token)) is None
        names = db.run(lambda s: list(s.scalars(select(User.name))))
        assert names == ["alice"]
        hashes = db.run(lambda s: list(s.scalars(select(ApiToken.token_hash))))
        assert digest(token) not in hashes
    finally:
        db.dispose()


async def test_a_non_admin_of_the_same_name_is_not_promoted(hub_settings: HubSettings) -> None:
    db = Database(hub_settings)
    db.migrate()
    try:
        db.run(lambda s: create_user(s, "admin", Role.VIEWER))
        with pytest.raises(ValueError, match="REMEDY_BOOTSTRAP_ADMIN_NAME"):
            bootstrap_admin(db, BootstrapSettings(token=new_token()))
        roles = db.run(lambda s: list(s.scalars(select(User.role))))
        assert roles == ["viewer"]
    finally:
        db.dispose()


async def test_without_the_variable_nothing_is_made(hub_settings: HubSettings) -> None:
    db = Database(hub_settings)
    db.migrate()
    try:
        assert bootstrap_admin(db, BootstrapSettings(token=None)) is None
        assert db.run(lambda s: list(s.scalars(select(User.name)))) == []
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "weak",
    [
        "rmt_short",
        "no-prefix-" + "a" * 40,
        "rmt_" + "a" * 39,
        "rmt_" + "é" * 40,
        "rmt_" + "a" * 197,
    ],
)
def test_a_weak_or_malformed_token_stops_the_start_without_showing_it(
    weak: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMEDY_BOOTSTRAP_ADMIN_TOKEN", weak)
    with pytest.raises(ValueError, match="REMEDY_BOOTSTRAP_ADMIN_TOKEN must be rmt_") as raised:
        bootstrap_settings()
    assert weak not in str(raised.value)


def test_a_bad_name_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDY_BOOTSTRAP_ADMIN_TOKEN", new_token())
    monkeypatch.setenv("REMEDY_BOOTSTRAP_ADMIN_NAME", "bad name\n")
    with pytest.raises(ValueError, match="REMEDY_BOOTSTRAP_ADMIN_NAME"):
        bootstrap_settings()
