"""The hub starts claimed runs as batches (hub/batching.py) and follows them per batch: the real
dev server, a hub-linked worker with the built-in jobs, and the IAM-enforced sandbox cloud."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from temporalio.client import Client

from hub import start_queue
from hub.models import QueuedStart, Run, utcnow
from remedy.batch_types import BatchStatus
from remedy.config import TemporalSettings
from sandbox.aws import AwsSandbox
from sandbox.proxy import OutageProxy
from tests.conftest import DevServer
from tests.findings import aws_finding
from tests.hub_fixtures import (
    GroupCredentials,
    HubHarness,
    associate_account,
    hub_store,
    make_harness,
    new_group,
    wait_until,
)
from tests.test_faults import open_on_22

JOBS = Path(__file__).resolve().parent.parent / "jobs"
UI = "http://temporal-ui.test"


@asynccontextmanager
async def linked_hub(
    temporal: TemporalSettings,
    client: Client | None,
    aws_sandbox: AwsSandbox,
    tmp_path: Path,
    hub_worker: Any,
    **settings: Any,
) -> AsyncIterator[tuple[HubHarness, GroupCredentials]]:
    """A hub on SQLite with these settings, a group whose worker (built-in jobs) is online."""
    with hub_store("sqlite", tmp_path, hub_status_timeout_s=5, **settings) as store:
        h = make_harness(store, temporal, temporal_client=client)
        try:
            group = await new_group(h)
            await associate_account(h, group, aws_sandbox.role_arn, aws_sandbox.external_id)
            await hub_worker(h, group, JOBS)
            yield h, group
        finally:
            await h.aclose()


async def close_22_action(h: HubHarness, group: GroupCredentials) -> str:
    """An auto-remediating action closing tcp/22; its rule id."""
    rule = f"rule-{uuid.uuid4().hex[:8]}"
    await h.ok(
        "POST",
        "/remediations",
        json={
            "name": f"close22-{uuid.uuid4().hex[:6]}",
            "provider": "aws",
            "worker_group_id": group.group_id,
            "rule_ids": [rule],
            "steps": [{"job": "security_group_close_port_22"}],
            "status": "published",
            "auto_remediate": True,
            # the blast radius (5 open at once by default) would cut the batches short
            "limits": {"at_once": 100, "per_hour": 1000},
        },
    )
    return rule


async def post(h: HubHarness, findings: list[dict[str, Any]]) -> list[str]:
    """POST the findings; the run id claimed for each."""
    posted = await h.ok("POST", "/findings", json=findings, role="analyst")
    assert posted["queued"] == len(findings), posted
    return [item["queued"][0] for item in posted["items"]]


async def all_ended(h: HubHarness, run_ids: list[str], timeout_s: float = 120) -> list[Any]:
    """Each run as GET /runs/{id} shows it, once every one has ended (succeeded or not)."""
    runs: dict[str, Any] = {}

    async def ended() -> bool:
        for run_id in run_ids:
            if runs.get(run_id, {}).get("ended_at"):
                continue
            runs[run_id] = await h.ok("GET", f"/runs/{run_id}", role="viewer")
        return all(r.get("ended_at") for r in runs.values()) and len(runs) == len(run_ids)

    try:
        await wait_until(ended, timeout_s, what="the runs ending")
    except AssertionError as exc:
        seen = [(r["status"], r["message"]) for r in runs.values()]
        raise AssertionError(f"{exc}: {seen}") from None
    return [runs[r] for r in run_ids]


def queue(h: HubHarness) -> list[QueuedStart]:
    return h.hub.db.run(lambda s: list(s.scalars(select(QueuedStart))))


async def test_a_bulk_intake_starts_batches_and_each_run_keeps_its_own_status(
    client: Client, dev_server: DevServer, aws_sandbox: AwsSandbox, tmp_path: Path, hub_worker: Any
) -> None:
    temporal = TemporalSettings(address=dev_server.address, ui_url=UI)
    async with linked_hub(
        temporal, client, aws_sandbox, tmp_path, hub_worker, hub_batch_size=8
    ) as (h, group):
        rule = await close_22_action(h, group)
        groups = [aws_sandbox.open_security_group(22, "hub-batch") for _ in range(20)]
        run_ids = await post(h, [aws_finding(sg, rule_id=rule) for sg in groups])

        async def polled() -> bool:  # the poller: one status query per batch, for all its runs
            await h.hub.runs.poll_once()
            stored = h.hub.db.run(lambda s: [s.get(Run, r) for r in run_ids])
            return all(r is not None and r.status == "succeeded" and r.result for r in stored)

        await wait_until(polled, 120, what="the poller storing every run's end")
        runs = await all_ended(h, run_ids)  # as stored: ended runs are not read again

        assert [r["status"] for r in runs] == ["succeeded"] * 20, [r["message"] for r in runs]
        assert not any(r["live"] for r in runs)
        batch_ids = [r["batch_id"] for r in runs]
        assert all(batch_ids) and len(set(batch_ids)) == 3
        assert sorted(batch_ids.count(b) for b in set(batch_ids)) == [4, 8, 8]
        assert open_on_22(aws_sandbox, groups) == []
        for sg, run in zip(groups, runs, strict=True):
            # the run's own steps and changes, not its batch's
            job = next(s for s in run["steps"] if s["kind"] == "job")
            assert job["state"] == "succeeded"
            assert any(sg in c and "revoked ingress" in c for c in job["changes"]), job
            assert all(g not in c for c in job["changes"] for g in groups if g != sg)
            assert run["temporal_url"].endswith(f"/workflows/{run['batch_id']}")
            finding_id = run["finding_id"]
            finding = await h.ok("GET", f"/findings/{finding_id}", role="viewer")
            assert finding["status"] == "remediated"
        listed = await h.ok("GET", "/runs", params={"limit": 50})
        assert {r["id"]: r["batch_id"] for r in listed["items"]} == dict(
            zip(run_ids, batch_ids, strict=True)
        )
        # one workflow per batch, none per run
        for batch_id in set(batch_ids):
            done: BatchStatus = await client.get_workflow_handle(
                batch_id, result_type=BatchStatus
            ).result()
            assert {m.run_id for m in done.members} == {
                r for r, b in zip(run_ids, batch_ids, strict=True) if b == batch_id
            }
        assert [w async for w in client.list_workflows(f"WorkflowId = '{run_ids[0]}'")] == []
        assert queue(h) == []


async def test_a_batch_size_of_one_starts_each_run_on_its_own(
    client: Client, dev_server: DevServer, aws_sandbox: AwsSandbox, tmp_path: Path, hub_worker: Any
) -> None:
    temporal = TemporalSettings(address=dev_server.address, ui_url=UI)
    async with linked_hub(
        temporal, client, aws_sandbox, tmp_path, hub_worker, hub_batch_size=1
    ) as (h, group):
        rule = await close_22_action(h, group)
        groups = [aws_sandbox.open_security_group(22, "hub-single") for _ in range(3)]
        run_ids = await post(h, [aws_finding(sg, rule_id=rule) for sg in groups])

        runs = await all_ended(h, run_ids)

        assert [r["status"] for r in runs] == ["succeeded"] * 3
        assert [r["batch_id"] for r in runs] == [None] * 3
        assert open_on_22(aws_sandbox, groups) == []
        for run_id, run in zip(run_ids, runs, strict=True):
            assert run["temporal_url"].endswith(f"/workflows/{run_id}")
            assert len([w async for w in client.list_workflows(f"WorkflowId = '{run_id}'")]) == 1


@contextmanager
def hanging_temporal(dev_server: DevServer) -> Iterator[tuple[OutageProxy, TemporalSettings]]:
    proxy = OutageProxy(f"http://{dev_server.address}")
    try:
        yield proxy, TemporalSettings(address=f"127.0.0.1:{proxy.port}", ui_url=UI)
    finally:
        proxy.stop()


def take_one_of_them(session: Session) -> list[str]:
    """The runs a drain limited to one entry takes once all are due (then forgotten)."""
    session.execute(update(QueuedStart).values(next_try_at=utcnow() - timedelta(seconds=1)))
    taken = start_queue.take_due(session, limit=1)
    session.rollback()
    return [t.run_id for t in taken]


async def test_a_batch_whose_start_fails_stays_queued_and_starts_later_in_the_same_batch(
    client: Client, dev_server: DevServer, aws_sandbox: AwsSandbox, tmp_path: Path, hub_worker: Any
) -> None:
    with hanging_temporal(dev_server) as (proxy, temporal):
        proxy.hang()  # the hub's own client goes through the proxy; the worker goes direct
        async with linked_hub(
            temporal, None, aws_sandbox, tmp_path, hub_worker, hub_start_timeout_s=2
        ) as (h, group):
            rule = await close_22_action(h, group)
            groups = [aws_sandbox.open_security_group(22, "hub-later") for _ in range(4)]
            run_ids = await post(h, [aws_finding(sg, rule_id=rule) for sg in groups])

            async def failed_once() -> bool:
                entries = queue(h)
                return len(entries) == 4 and all(e.last_error for e in entries)

            await wait_until(failed_once, what="the batch start timing out")
            tried = set()
            for run_id in run_ids:
                run = await h.ok("GET", f"/runs/{run_id}")
                assert run["status"] == "pending", run
                assert "will retry in batch" in run["message"]
                tried.add(run["batch_id"])
            (batch_id,) = tried  # the batch they were tried in, kept for the retry
            assert batch_id
            assert sorted(open_on_22(aws_sandbox, groups)) == sorted(groups)  # nothing ran
            assert await h.hub.runs.drain() == 0  # none is due before its backoff
            # they come due at one time, and a drain that takes one takes the batch whole
            assert len({e.next_try_at for e in queue(h)}) == 1
            assert sorted(h.hub.db.run(take_one_of_them)) == sorted(run_ids)

            proxy.up()

            async def started() -> bool:
                await h.hub.runs.drain()
                return not queue(h)

            await wait_until(started, timeout_s=40, what="the queued batch starting")
            runs = await all_ended(h, run_ids)
            assert [r["status"] for r in runs] == ["succeeded"] * 4, runs
            assert {r["batch_id"] for r in runs} == {batch_id}
            assert open_on_22(aws_sandbox, groups) == []
            batches = [w async for w in client.list_workflows(f"WorkflowId = '{batch_id}'")]
            assert len(batches) == 1


async def test_runs_claimed_one_by_one_within_the_wait_are_gathered_into_one_batch(
    client: Client, dev_server: DevServer, aws_sandbox: AwsSandbox, tmp_path: Path, hub_worker: Any
) -> None:
    temporal = TemporalSettings(address=dev_server.address, ui_url=UI)
    async with linked_hub(
        temporal, client, aws_sandbox, tmp_path, hub_worker, hub_batch_wait_s=8
    ) as (h, group):
        rule = await close_22_action(h, group)
        groups = [aws_sandbox.open_security_group(22, "hub-wait") for _ in range(3)]

        (first,) = await post(h, [aws_finding(groups[0], rule_id=rule)])

        async def first_started() -> bool:
            return not queue(h)

        await wait_until(first_started, timeout_s=4, what="the first run starting at once")
        (second,) = await post(h, [aws_finding(groups[1], rule_id=rule)])
        (third,) = await post(h, [aws_finding(groups[2], rule_id=rule)])

        async def gathered() -> bool:
            rows = [await h.ok("GET", f"/runs/{r}") for r in (second, third)]
            return all(r["message"].startswith("gathered into a batch") for r in rows)

        await wait_until(gathered, timeout_s=3, what="the next runs being held")
        held = {e.run_id: e.next_try_at for e in queue(h)}
        assert set(held) == {second, third}  # held in the durable queue, untried

        runs = await all_ended(h, [first, second, third])

        assert [r["status"] for r in runs] == ["succeeded"] * 3, runs
        assert runs[0]["batch_id"] is None  # the lone first one ran on its own, at once
        assert runs[1]["batch_id"] and runs[1]["batch_id"] == runs[2]["batch_id"]
        assert open_on_22(aws_sandbox, groups) == []


async def test_a_run_of_a_batch_rolls_back_on_its_own(
    client: Client, dev_server: DevServer, aws_sandbox: AwsSandbox, tmp_path: Path, hub_worker: Any
) -> None:
    temporal = TemporalSettings(address=dev_server.address, ui_url=UI)
    async with linked_hub(temporal, client, aws_sandbox, tmp_path, hub_worker) as (h, group):
        rule = await close_22_action(h, group)
        groups = [aws_sandbox.open_security_group(22, "hub-undo") for _ in range(2)]
        run_ids = await post(h, [aws_finding(sg, rule_id=rule) for sg in groups])
        runs = await all_ended(h, run_ids)
        assert [r["status"] for r in runs] == ["succeeded"] * 2
        assert runs[0]["batch_id"] and runs[0]["batch_id"] == runs[1]["batch_id"]

        undo = await h.ok("POST", f"/runs/{run_ids[0]}/rollback", role="analyst")
        assert undo["rollback_of"] == run_ids[0] and undo["batch_id"] is None
        (undone,) = await all_ended(h, [undo["id"]])

        assert undone["status"] == "succeeded", undone
        assert open_on_22(aws_sandbox, groups) == [groups[0]]  # only its own finding undone
