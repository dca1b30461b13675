"""Issue #11 items 4 and 7: token lifecycle (issue, expiry, last use, revoke), user lifecycle
(role change, disable, delete), the audit log, and the names the hub refuses, through the API and
`remedy hub token|user|create-user`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from console.cli import app
from hub.models import ApiToken, AuditEntry, utcnow
from tests.hub_fixtures import HubHarness, hub_store, make_harness


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_tokens_are_issued_listed_expired_and_revoked(hub_api: HubHarness) -> None:
    h = hub_api
    await h.ok("POST", "/users", json={"name": "carol", "role": "analyst"})
    issued = await h.ok("POST", "/users/carol/tokens", json={"label": "ci", "expires_in_days": 1})
    token, details = issued["token"], issued["details"]
    assert token.startswith("rmt_") and details["label"] == "ci" and details["active"]
    assert details["expires_at"] and details["last_used_at"] is None
    api = h.as_(None)
    assert (await api.get("/runs", headers=bearer(token))).status_code == 200
    listed = await h.ok("GET", "/users/carol/tokens")
    assert [t["label"] for t in listed] == ["", "ci"]
    assert listed[1]["last_used_at"] and token not in json.dumps(listed)

    # expiry: the token's time is up
    def expire(session: Any) -> None:
        row = session.get(ApiToken, details["id"])
        row.expires_at = utcnow() - timedelta(seconds=1)

    h.hub.db.run(expire)
    expired = await api.get("/runs", headers=bearer(token))
    assert expired.status_code == 401 and "expired" in expired.json()["error"]
    assert not (await h.ok("GET", "/users/carol/tokens"))[1]["active"]

    second = (await h.ok("POST", "/users/carol/tokens", json={}))["token"]
    second_id = (await h.ok("GET", "/users/carol/tokens"))[-1]["id"]
    assert (await api.get("/runs", headers=bearer(second))).status_code == 200
    revoked = await h.ok("DELETE", f"/users/carol/tokens/{second_id}")
    assert revoked["revoked_at"] and not revoked["active"]
    refused = await api.get("/runs", headers=bearer(second))
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]
    assert (await h.admin.delete("/users/carol/tokens/999999")).status_code == 404
    viewer = await h.as_("viewer").post("/users/carol/tokens", json={})
    assert viewer.status_code == 403
    duplicate = await h.admin.post("/users", json={"name": "carol", "role": "viewer"})
    assert duplicate.status_code == 409 and "/users/carol/tokens" in duplicate.json()["fix"]


async def test_users_change_role_are_disabled_and_deleted_but_one_admin_stays(
    hub_api: HubHarness,
) -> None:
    h = hub_api
    dave = (await h.ok("POST", "/users", json={"name": "dave", "role": "viewer"}))["token"]
    api = h.as_(None)
    assert (
        await api.post("/worker-groups", json={"name": "x"}, headers=bearer(dave))
    ).status_code == 403
    promoted = await h.ok("PATCH", "/users/dave", json={"role": "admin"})
    assert promoted["role"] == "admin" and promoted["tokens"] == 1
    made = await api.post("/worker-groups", json={"name": "made-by-dave"}, headers=bearer(dave))
    assert made.status_code == 201
    await h.ok("PATCH", "/users/dave", json={"disabled": True})
    disabled = await api.get("/runs", headers=bearer(dave))
    assert disabled.status_code == 401 and "disabled" in disabled.json()["error"]
    users = {u["name"]: u for u in await h.ok("GET", "/users")}
    assert users["dave"]["disabled"] is True
    await h.ok("PATCH", "/users/dave", json={"disabled": False})
    assert (await api.get("/runs", headers=bearer(dave))).status_code == 200
    await h.ok("DELETE", "/users/dave")
    assert (await api.get("/runs", headers=bearer(dave))).status_code == 401
    assert (await h.admin.delete("/users/dave")).status_code == 404

    # the last enabled admin cannot be demoted, disabled or deleted
    for method, body in [
        ("PATCH", {"role": "viewer"}),
        ("PATCH", {"disabled": True}),
        ("DELETE", None),
    ]:
        kept = await h.admin.request(method, "/users/admin-user", json=body)
        assert kept.status_code == 409 and "last enabled admin" in kept.json()["error"]


async def test_every_change_by_an_admin_or_analyst_is_in_the_audit_log(
    hub_api: HubHarness,
) -> None:
    h = hub_api
    group = (await h.ok("POST", "/worker-groups", json={"name": "audited"}))["group"]
    await h.ok("POST", f"/worker-groups/{group['id']}/disable")
    await h.ok("POST", "/users", json={"name": "erin", "role": "viewer"})
    await h.ok("POST", "/users/erin/tokens", json={"label": "x"})
    await h.as_("analyst").post("/findings", json={"not": "a finding"})  # refused: no change
    await h.ok("GET", "/runs")  # a read: no change
    refused = await h.as_("viewer").post("/worker-groups", json={"name": "nope"})
    assert refused.status_code == 403
    log = await h.ok("GET", "/audit")
    actions = [(e["actor"], e["action"], e["status"]) for e in reversed(log["items"])]
    assert actions == [
        ("admin-user", "POST /worker-groups", 201),
        ("admin-user", f"POST /worker-groups/{group['id']}/disable", 200),
        ("admin-user", "POST /users", 201),
        ("admin-user", "POST /users/erin/tokens", 201),
    ]
    assert all(e["at"] and e["role"] == "admin" for e in log["items"])
    # no token, secret or body is kept in it
    assert "rmt_" not in json.dumps(log) and "rms_" not in json.dumps(log)
    assert (await h.as_("analyst").get("/audit")).status_code == 403
    assert (await h.as_("viewer").get("/audit")).status_code == 403


async def test_analysts_changes_are_audited_too(hub_api: HubHarness) -> None:
    from tests.findings import aws_finding

    h = hub_api
    await h.ok("POST", "/findings", json=aws_finding("sg-a", finding_id="f-a"), role="analyst")
    await h.ok("PATCH", "/findings/f-a", json={"status": "suppressed"}, role="analyst")
    log = await h.ok("GET", "/audit", params={"actor": "analyst-user"})
    assert [e["action"] for e in log["items"]] == ["PATCH /findings/f-a", "POST /findings"]
    assert {e["role"] for e in log["items"]} == {"analyst"}


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("bad\x07bell", "U+0007"),
        ("a" * 500, "limit is 100"),
        ("admin\u202e", "U+202E"),  # right-to-left override
        ("ad\u200bmin", "U+200B"),  # zero-width space
    ],
)
async def test_names_a_person_cannot_read_safely_are_refused(
    hub_api: HubHarness, name: str, problem: str
) -> None:
    response = await hub_api.admin.post("/users", json={"name": name, "role": "viewer"})
    assert response.status_code == 422 and response.json()["fix"], response.text
    # the schema's own checks name the field; the rest say which character
    assert problem in response.json()["error"] or response.json()["field"] == "body.name"
    group = await hub_api.admin.post("/worker-groups", json={"name": f"g{name}"})
    assert group.status_code == 422 or not name.strip(), group.text


async def test_look_alike_names_are_refused(hub_api: HubHarness) -> None:
    h = hub_api
    await h.ok("POST", "/worker-groups", json={"name": "prod-aws"})
    for look_alike in ("PROD-AWS", "Prod-Aws", "\uff50rod-aws", "prod\u200b-aws"):
        refused = await h.admin.post("/worker-groups", json={"name": look_alike})
        assert refused.status_code in (409, 422), (look_alike, refused.text)
    same = await h.admin.post("/worker-groups", json={"name": "PROD-AWS"})
    assert same.status_code == 409 and "too like" in same.json()["error"]
    await h.ok("POST", "/users", json={"name": "frank", "role": "viewer"})
    assert (
        await h.admin.post("/users", json={"name": "FRANK", "role": "viewer"})
    ).status_code == 409


def test_the_cli_manages_tokens_and_users_and_refuses_what_the_api_refuses(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    with hub_store("sqlite", tmp_path) as store:
        env = {"REMEDY_DATABASE_URL": store.database_url, "COLUMNS": "200"}

        def cli(*args: str, code: int = 0) -> str:
            result = runner.invoke(app, list(args), env=env)
            assert result.exit_code == code, (args, result.output, result.exception)
            return result.output

        for bad in ("", "tab\there", "x" * 500, "ad\u200bmin"):
            assert "error" in cli("hub", "create-user", bad, code=2)
        cli("hub", "create-user", "root", "--role", "admin")
        cli("hub", "create-user", "gina", "--role", "viewer")
        assert "too like" in cli("hub", "create-user", "GINA", code=2)
        issued = json.loads(
            cli(
                "hub",
                "token",
                "issue",
                "gina",
                "--label",
                "laptop",
                "--expires-in-days",
                "7",
                "--json",
            )
        )
        assert issued["token"].startswith("rmt_") and issued["details"]["expires_at"]
        listed = json.loads(cli("hub", "token", "list", "gina", "--json"))
        assert [t["label"] for t in listed] == ["", "laptop"]
        assert "laptop" in cli("hub", "token", "list", "gina")
        cli("hub", "token", "revoke", "gina", str(issued["details"]["id"]))
        assert not json.loads(cli("hub", "token", "list", "gina", "--json"))[1]["active"]
        cli("hub", "user", "set-role", "gina", "analyst")
        cli("hub", "user", "disable", "gina")
        cli("hub", "user", "enable", "gina")
        assert "last enabled admin" in cli("hub", "user", "disable", "root", code=1)
        cli("hub", "user", "delete", "gina", "--yes")
        assert "no user" in cli("hub", "token", "list", "gina", code=1)

        h = make_harness(store, tokens={"admin": "unused"})
        entries = h.hub.db.run(
            lambda s: [
                (e.actor.startswith("local:"), e.action)
                for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
            ]
        )
        assert entries == [
            (True, "token issue gina"),
            (True, f"token revoke gina {issued['details']['id']}"),
            (True, "user set-role gina analyst"),
            (True, "user disable gina"),
            (True, "user enable gina"),
            (True, "user delete gina"),
        ]
        h.hub.db.dispose()
