"""Issue #11 item 7: what the hub leaves readable or lets a request choose: the SQLite file's
mode, the hub URL in deployment commands, and who reads accounts' external ids."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hub.config import HubSettings
from hub.db import Database
from sandbox.aws import ACCOUNT_ID
from tests.hub_fixtures import HubHarness, make_harness, new_group
from tests.test_hub_store import aws_account


def test_the_sqlite_store_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    fresh = tmp_path / "new" / "hub.db"
    db = Database(HubSettings(database_url=f"sqlite:///{fresh}"))
    db.migrate()
    db.dispose()
    for path in [fresh, *fresh.parent.glob("hub.db-*")]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    assert stat.S_IMODE(fresh.parent.stat().st_mode) & 0o077 == 0
    loose = tmp_path / "loose.db"
    loose.touch(mode=0o644)
    loose.chmod(0o644)
    Database(HubSettings(database_url=f"sqlite:///{loose}")).dispose()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


async def test_deploy_commands_never_take_the_hub_url_from_the_host_header(
    hub_api: HubHarness,
) -> None:
    h = hub_api
    created = await h.admin.post(
        "/worker-groups", json={"name": "g"}, headers={"Host": "attacker.example"}
    )
    group = created.json()
    assert "attacker.example" not in created.text
    assert "REMEDY_HUB_PUBLIC_URL" in group["deploy"]["aws"]
    deploy = await h.admin.get(
        f"/worker-groups/{group['group']['id']}/deploy", headers={"Host": "evil.test"}
    )
    assert "evil.test" not in deploy.text
    public = make_harness(
        h.settings.model_copy(update={"hub_public_url": "https://hub.example"}), tokens=h.tokens
    )
    shown = await public.ok("GET", f"/worker-groups/{group['group']['id']}/deploy")
    assert "REMEDY_HUB_URL=https://hub.example" in shown["aws"]
    await public.aclose()


@pytest.mark.parametrize("role", ["viewer", "analyst"])
async def test_only_admins_read_external_ids(hub_api: HubHarness, role: str) -> None:
    h = hub_api
    group = await new_group(h)
    await aws_account(h, group)
    for path in (
        "/accounts",
        f"/accounts/{ACCOUNT_ID}",
        f"/worker-groups/{group.group_id}/accounts",
    ):
        as_role = await h.ok("GET", path, role=role)
        as_admin = await h.ok("GET", path)
        mine = as_role if isinstance(as_role, list) else [as_role]
        theirs = as_admin if isinstance(as_admin, list) else [as_admin]
        assert [a["external_id"] for a in mine] == [None]
        assert [a["external_id"] for a in theirs] == ["ext-id-1"]
        assert mine[0]["role_arn"] == theirs[0]["role_arn"]
