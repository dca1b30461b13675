"""Ingest never waits for Temporal: runs start from a durable queue in the hub's store.

Temporal here is the real dev server behind a proxy that can hang (accept connections, never
answer: sandbox/proxy.py), as a Temporal under load or behind a broken load balancer does.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import Client

from hub.models import QueuedStart, utcnow
from hub.start_queue import backoff
from remedy.config import TemporalSettings
from remedy.starter import wait_for_result
from sandbox.aws import AwsSandbox
from sandbox.proxy import OutageProxy
from tests.conftest import DevServer
from tests.findings import aws_finding
from tests.hub_fixtures import associate_account, hub_store, make_harness, new_group, wait_until
from tests.test_workflow_runs import new_group as new_security_group

UI = "http://temporal-ui.test"


def test_the_backoff_doubles_up_to_five_minutes() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(30).total_seconds() == 300


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_findings_posted_while_temporal_hangs_are_queued_and_run_when_it_answers(
    kind: str,
    client: Client,
    dev_server: DevServer,
    aws_sandbox: AwsSandbox,
    tmp_path: Path,
    hub_worker: Any,
) -> None:
    proxy = OutageProxy(f"http://{dev_server.address}")
    proxy.hang()
    temporal = TemporalSettings(address=f"127.0.0.1:{proxy.port}", ui_url=UI)
    try:
        # each run its own workflow (a batch's start failing: tests/test_hub_batches.py)
        with hub_store(kind, tmp_path, hub_start_timeout_s=2, hub_batch_size=1) as store:
            h = make_harness(store, temporal)  # the hub's own client, through the proxy
            group = await new_group(h)
            await associate_account(h, group, aws_sandbox.role_arn, aws_sandbox.external_id)
            await hub_worker(h, group)  # the worker reaches Temporal directly
            rule = f"rule-{uuid.uuid4().hex[:8]}"
            await h.ok(
                "POST",
                "/remediations",
                json={
                    "name": f"probe-{uuid.uuid4().hex[:6]}",
                    "provider": "aws",
                    "worker_group_id": group.group_id,
                    "rule_ids": [rule],
                    "steps": [{"job": "probe_env", "parameters": {"port": 443}}],
                    "status": "published",
                    "auto_remediate": True,
                },
            )
            findings = [
                aws_finding(new_security_group(aws_sandbox), rule_id=rule) for _ in range(3)
            ]

            posted = await h.ok("POST", "/findings", json=findings, role="analyst")
            assert posted["runs"] == "queued" and posted["queued"] == 3
            run_ids = [item["queued"][0] for item in posted["items"]]
            assert [item["runs"] for item in posted["items"]] == [[r] for r in run_ids]
            assert all(item["status"] == "queued" for item in posted["items"])
            for run_id in run_ids:
                run = await h.ok("GET", f"/runs/{run_id}")
                assert run["status"] == "pending" and "will retry" in run["message"]
            # the same findings again: deduplicated, nothing queued twice
            again = await h.ok("POST", "/findings", json=findings, role="analyst")
            assert again["runs"] == "none" and again["queued"] == 0
            assert [item["runs"] for item in again["items"]] == [[r] for r in run_ids]

            def queue(session: Any) -> list[QueuedStart]:
                return list(session.scalars(select(QueuedStart).order_by(QueuedStart.run_id)))

            # the claimant's first starts time out on the hanging Temporal: retried later
            async def all_failed_once() -> bool:
                entries = h.hub.db.run(queue)
                return all(e.last_error for e in entries) and len(entries) == 3

            await wait_until(all_failed_once, what="the first starts timing out")
            for entry in h.hub.db.run(queue):
                assert "will retry" in entry.last_error and entry.next_try_at > utcnow()
            assert await h.hub.runs.drain() == 0  # none is due before its backoff

            proxy.up()  # Temporal answers again: the drainer (here by hand) starts them

            async def all_started() -> bool:
                await h.hub.runs.drain()
                return not h.hub.db.run(queue)

            await wait_until(all_started, timeout_s=40, what="the queued runs starting")
            for run_id in run_ids:
                await wait_for_result(client, run_id)
                run = await h.ok("GET", f"/runs/{run_id}")
                assert run["status"] == "succeeded", run
                assert (
                    len([w async for w in client.list_workflows(f"WorkflowId = '{run_id}'")]) == 1
                )
            await h.aclose()
    finally:
        proxy.stop()
