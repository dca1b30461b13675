"""Issue #11 items 1-3: what a worker's credentials may write, how big a body may be, how deep a
document may nest, and how long logs are kept (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.limits import json_depth_over
from hub.models import LogEntry, utcnow
from hub.retention import prune_logs
from tests.findings import aws_finding
from tests.hub_fixtures import HubHarness, make_harness, new_group, plant_run
from tests.test_hub_store import register


async def test_a_worker_ships_logs_only_for_its_own_groups_runs(hub_api: HubHarness) -> None:
    h = hub_api
    ours, theirs = await new_group(h), await new_group(h)
    await register(h, ours, "w-ours")
    await register(h, theirs, "w-theirs")
    their_run = plant_run(h, theirs.group_id)
    our_run = plant_run(h, ours.group_id)
    async with h.worker_api(ours.client_id, ours.client_secret) as api:
        forged = await api.post(
            f"/worker/runs/{their_run}/logs", json={"worker_id": "w-ours", "lines": ["forged"]}
        )
        assert forged.status_code == 404 and ours.group_id in forged.json()["error"]
        nowhere = await api.post(
            "/worker/runs/remedy-not-a-run/logs", json={"worker_id": "w-ours", "lines": ["x"]}
        )
        assert nowhere.status_code == 404
        posing = await api.post(
            f"/worker/runs/{our_run}/logs", json={"worker_id": "w-theirs", "lines": ["x"]}
        )
        assert posing.status_code == 403 and posing.json()["field"] == "worker_id"
        anonymous = await api.post(f"/worker/runs/{our_run}/logs", json={"lines": ["x"]})
        assert anonymous.status_code == 403
        shipped = await api.post(
            f"/worker/runs/{our_run}/logs", json={"worker_id": "w-ours", "lines": ["fine"]}
        )
        assert shipped.status_code == 202
    theirs_logs = await h.ok("GET", f"/runs/{their_run}/logs", role="viewer")
    assert theirs_logs["total"] == 0
    ours_logs = await h.ok("GET", f"/runs/{our_run}/logs", role="viewer")
    (entry,) = ours_logs["items"]
    assert (entry["worker_id"], entry["group_id"], entry["text"]) == (
        "w-ours",
        ours.group_id,
        "fine",
    )

    # a disabled group's credentials do nothing
    await h.ok("POST", f"/worker-groups/{ours.group_id}/disable")
    async with h.worker_api(ours.client_id, ours.client_secret) as api:
        for path, body in [
            (f"/worker/runs/{our_run}/logs", {"worker_id": "w-ours", "lines": ["x"]}),
            ("/worker/heartbeat", {"worker_id": "w-ours"}),
            ("/worker/register", {"worker_id": "w-ours", "jobs": []}),
        ]:
            refused = await api.post(path, json=body)
            assert refused.status_code == 403, (path, refused.text)
            assert "disabled" in refused.json()["error"] and "enable" in refused.json()["fix"]
    assert (await h.ok("GET", f"/runs/{our_run}/logs"))["total"] == 1


async def test_bodies_over_their_limit_are_answered_413_with_the_limit(
    hub_api: HubHarness,
) -> None:
    h = hub_api
    limits = h.settings
    group = await new_group(h)
    await register(h, group, "w1")
    run = plant_run(h, group.group_id)
    async with h.worker_api(group.client_id, group.client_secret) as api:
        flood = {"worker_id": "w1", "lines": ["x" * 20_000] * 2000}  # 40 MB
        too_big = await api.post(f"/worker/runs/{run}/logs", json=flood)
        assert too_big.status_code == 413
        assert too_big.json()["limit"] == limits.hub_max_log_batch_bytes
        assert str(limits.hub_max_log_batch_bytes) in too_big.json()["error"]
        long_line = {"worker_id": "w1", "lines": ["ok", "y" * (limits.hub_max_log_line_chars + 1)]}
        line = await api.post(f"/worker/runs/{run}/logs", json=long_line)
        assert line.status_code == 413 and line.json()["field"] == "lines.1"
        assert str(limits.hub_max_log_line_chars) in line.json()["error"]
        job = {"name": "big", "checksum": "c" * 64, "description": "d" * 10_000_000}
        registration = await api.post("/worker/register", json={"worker_id": "w2", "jobs": [job]})
        assert registration.status_code == 413
        assert registration.json()["limit"] == limits.hub_max_registration_bytes
        # a chunked body (no Content-Length) is counted as it arrives
        chunked = await api.post(
            f"/worker/runs/{run}/logs",
            content=chunks(json.dumps(flood).encode()),
            headers={"content-type": "application/json"},
        )
        assert chunked.status_code == 413
    findings = [aws_finding(f"sg-{i}", finding_id=f"f-{i}") for i in range(1000)]
    for item in findings:
        item["notificationInfo"]["FindingInfo"]["Note"] = "n" * 20_000
    many = await h.as_("analyst").post("/findings", json=findings)
    assert many.status_code == 413 and many.json()["limit"] == limits.hub_max_findings_bytes
    big_group = await h.admin.post("/worker-groups", json={"name": "g", "description": "d" * 2**21})
    assert big_group.status_code == 413 and big_group.json()["fix"]
    assert (await h.ok("GET", f"/worker-groups/{group.group_id}/logs", role="viewer"))["total"] == 0


async def test_a_page_of_logs_stops_at_its_size_budget(hub_api: HubHarness) -> None:
    settings = hub_api.settings.model_copy(update={"hub_max_log_page_chars": 25_000})
    h = make_harness(settings, tokens=hub_api.tokens)
    group = await new_group(h)
    await register(h, group, "w1")
    run = plant_run(h, group.group_id)
    async with h.worker_api(group.client_id, group.client_secret) as api:
        for _ in range(5):
            batch = {"worker_id": "w1", "lines": ["z" * 10_000]}
            assert (await api.post(f"/worker/runs/{run}/logs", json=batch)).status_code == 202
    page = await h.ok("GET", f"/worker-groups/{group.group_id}/logs", role="viewer")
    assert len(page["items"]) == 2 and page["total"] == 5
    assert len((await h.ok("GET", f"/runs/{run}/logs"))["items"]) == 2
    await h.aclose()


async def chunks(data: bytes) -> Any:
    for start in range(0, len(data), 1_000_000):
        yield data[start : start + 1_000_000]


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for index in range(depth):
        value = [value] if index % 2 else {"a": value}
    return value


async def test_deeply_nested_documents_are_refused_not_a_server_error(
    hub_api: HubHarness,
) -> None:
    h = hub_api
    finding = aws_finding("sg-deep")
    deep_list: Any = []
    for _ in range(500):
        deep_list = [deep_list]
    finding["notificationInfo"]["FindingInfo"]["Deep"] = deep_list
    refused = await h.as_("analyst").post("/findings", content=json.dumps(finding))
    assert refused.status_code == 422 and "nested" in refused.json()["error"]
    group = await new_group(h)
    params = '{"a":' * 800 + "1" + "}" * 800
    job = '{"name": "j", "checksum": "' + "c" * 64 + '", "parameters": ' + params + "}"
    body = '{"worker_id": "w1", "jobs": [' + job + "]}"
    async with h.worker_api(group.client_id, group.client_secret) as api:
        deep = await api.post(
            "/worker/register", content=body, headers={"content-type": "application/json"}
        )
    assert deep.status_code == 422 and deep.json()["field"] == "body"
    ok = aws_finding("sg-fine")
    ok["notificationInfo"]["FindingInfo"]["Nested"] = nested(20)
    assert (await h.as_("analyst").post("/findings", json=ok)).status_code == 200


def test_the_depth_scan_ignores_brackets_inside_strings() -> None:
    assert not json_depth_over(json.dumps({"a": "[" * 1000 + '\\"{{{'}).encode(), 8)
    assert json_depth_over(json.dumps(nested(9)).encode(), 8)
    assert not json_depth_over(json.dumps(nested(8)).encode(), 8)
    assert not json_depth_over(b'{"a": 1}', 1) and json_depth_over(b'{"a": [1]}', 1)


@pytest.mark.parametrize("hub_settings", ["sqlite", "postgresql"], indirect=True)
async def test_logs_are_pruned_by_age_then_by_size(hub_api: HubHarness) -> None:
    h = hub_api
    group = await new_group(h)

    def add(session: Any) -> None:
        now = utcnow()
        for index in range(10):  # 10 entries of 1000 characters, the first three 40 days old
            age = timedelta(days=40) if index < 3 else timedelta(minutes=10 - index)
            session.add(
                LogEntry(
                    group_id=group.group_id,
                    run_id="r",
                    text=str(index) * 1000,
                    received_at=now - age,
                )
            )

    h.hub.db.run(add)
    settings = h.settings.model_copy(
        update={"hub_log_retention_days": 30, "hub_log_retention_mb": 0.0045}  # 4500 characters
    )
    pruned = h.hub.db.run(lambda s: prune_logs(s, settings))
    assert (pruned.by_age, pruned.by_size) == (3, 3)
    kept = h.hub.db.run(lambda s: list(s.scalars(select(LogEntry.text).order_by(LogEntry.id))))
    assert [text[0] for text in kept] == ["6", "7", "8", "9"]
    again = h.hub.db.run(lambda s: prune_logs(s, settings))
    assert (again.by_age, again.by_size) == (0, 0)
    size = h.hub.db.run(lambda s: s.scalar(select(func.sum(func.length(LogEntry.text)))))
    assert size == 4000
