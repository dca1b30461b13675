"""The job code each worker serves (issue #18), on both store backends: registration stores the
code version and Git commit, a re-registration after a reload replaces them, and the group, its
workers and its jobs warn while the group's online workers serve different code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from hub.models import Worker, utcnow
from remedy.types import JobInfo
from tests.hub_fixtures import GroupCredentials, HubHarness, new_group

OLD, NEW = "0123456789ab", "ba9876543210"
COMMIT = "4f2a9c0d1e2b3c4d5e6f708192a3b4c5d6e7f809"


def jobs(probe_checksum: str = "c" * 64, with_azure: bool = True) -> list[dict[str, Any]]:
    found = [JobInfo(name="probe_env", provider="aws", checksum=probe_checksum)]
    if with_azure:
        found.append(JobInfo(name="azure_fix", provider="azure", checksum="d" * 64))
    return [j.model_dump(mode="json") for j in found]


async def register(
    h: HubHarness,
    group: GroupCredentials,
    worker_id: str,
    code_version: str,
    code_commit: str = "",
    registered: list[dict[str, Any]] | None = None,
) -> None:
    async with h.worker_api(group.client_id, group.client_secret) as api:
        answer = await api.post(
            "/worker/register",
            json={
                "worker_id": worker_id,
                "jobs": jobs() if registered is None else registered,
                "code_version": code_version,
                "code_commit": code_commit,
            },
        )
    assert answer.status_code == 200, answer.text


async def views(h: HubHarness, group: GroupCredentials) -> tuple[Any, Any, Any, Any]:
    """The group, its listing entry, its workers by id and its jobs by name, as a viewer."""
    base = f"/worker-groups/{group.group_id}"
    one = await h.ok("GET", base, role="viewer")
    listed = next(
        g for g in await h.ok("GET", "/worker-groups", role="viewer") if g["id"] == group.group_id
    )
    workers = {w["worker_id"]: w for w in await h.ok("GET", f"{base}/workers", role="viewer")}
    offered = {j["name"]: j for j in await h.ok("GET", f"{base}/jobs", role="viewer")}
    return one, listed, workers, offered


async def test_workers_serving_one_code_version_raise_no_warning(hub_api: HubHarness) -> None:
    h = hub_api
    group = await new_group(h)
    await register(h, group, "w1", OLD, COMMIT)
    await register(h, group, "w2", OLD, COMMIT)
    one, listed, workers, offered = await views(h, group)
    assert one["code_versions"] == [
        {"code_version": OLD, "code_commit": COMMIT, "workers": ["w1", "w2"]}
    ]
    assert one["warnings"] == [] and listed["warnings"] == []
    assert (workers["w1"]["code_version"], workers["w1"]["code_commit"]) == (OLD, COMMIT)
    assert offered["probe_env"]["warning"] is None
    assert offered["probe_env"]["versions"] == [{"checksum": "c" * 64, "workers": ["w1", "w2"]}]


async def test_a_reload_re_registers_and_the_group_warns_until_its_workers_agree(
    hub_api: HubHarness,
) -> None:
    h = hub_api
    group = await new_group(h)
    await register(h, group, "w1", OLD, COMMIT)
    await register(h, group, "w2", OLD, COMMIT)
    # w2 reloads its job code: probe_env changed, azure_fix removed, no Git commit any more
    await register(h, group, "w2", NEW, "", jobs("e" * 64, with_azure=False))

    one, listed, workers, offered = await views(h, group)
    assert (workers["w2"]["code_version"], workers["w2"]["code_commit"]) == (NEW, "")
    assert [j["checksum"] for j in workers["w2"]["jobs"]] == ["e" * 64]
    assert {v["code_version"]: v["workers"] for v in one["code_versions"]} == {
        OLD: ["w1"],
        NEW: ["w2"],
    }
    assert listed["warnings"] == one["warnings"] and len(one["warnings"]) == 1
    warning = one["warnings"][0]
    assert f"workers of group {group.group_id} serve 2 versions of the job code" in warning
    assert f"{OLD} (commit {COMMIT[:12]}) on w1" in warning and f"{NEW} on w2" in warning
    assert "job probe_env differs (cccccccccccc… on w1; eeeeeeeeeeee… on w2)" in warning
    assert "job azure_fix differs (dddddddddddd… on w1; missing on w2)" in warning
    assert "deploy the same job code" in warning  # and how to fix it

    probe = offered["probe_env"]
    assert sorted(probe["checksums"]) == ["c" * 64, "e" * 64]
    assert {v["checksum"]: v["workers"] for v in probe["versions"]} == {
        "c" * 64: ["w1"],
        "e" * 64: ["w2"],
    }
    assert probe["warning"] == "job probe_env differs (cccccccccccc… on w1; eeeeeeeeeeee… on w2)"
    assert (
        offered["azure_fix"]["warning"]
        == "job azure_fix differs (dddddddddddd… on w1; missing on w2)"
    )

    # w1 reloads to the same code: the group agrees again
    await register(h, group, "w1", NEW, "", jobs("e" * 64, with_azure=False))
    one, _, _, offered = await views(h, group)
    assert one["warnings"] == [] and [v["workers"] for v in one["code_versions"]] == [["w1", "w2"]]
    assert set(offered) == {"probe_env"} and offered["probe_env"]["warning"] is None


async def test_an_offline_worker_on_old_code_raises_no_warning(hub_api: HubHarness) -> None:
    h = hub_api
    group = await new_group(h)
    await register(h, group, "w1", OLD)
    await register(h, group, "w2", NEW, registered=jobs("e" * 64))
    assert len((await views(h, group))[0]["warnings"]) == 1

    silent_since = utcnow() - timedelta(days=1)

    def silence(session: Session) -> None:
        session.execute(
            update(Worker).where(Worker.worker_id == "w1").values(last_heartbeat=silent_since)
        )

    h.hub.db.run(silence)
    one, _, workers, offered = await views(h, group)
    assert workers["w1"]["state"] == "Offline" and workers["w1"]["code_version"] == OLD
    assert one["warnings"] == [] and one["code_versions"] == [
        {"code_version": NEW, "code_commit": "", "workers": ["w2"]}
    ]
    assert offered["probe_env"]["warning"] is None


async def test_a_worker_from_before_code_versions_is_named_as_such(hub_api: HubHarness) -> None:
    h = hub_api
    group = await new_group(h)
    await register(h, group, "old-worker", "")
    await register(h, group, "w2", NEW)
    warning = (await views(h, group))[0]["warnings"][0]
    assert "(unknown: a worker from before code versions) on old-worker" in warning
