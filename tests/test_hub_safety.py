"""Safety through the hub: the grace period, and the blast radius of an action (hub/blast_radius.py): at most N runs at once per
account, the rest waiting in order in the durable start queue; a circuit breaker that pauses the
action when too many of its runs failed, and an Admin who resumes it (real dev server, a
hub-linked worker, moto)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from temporalio.client import Client

from remedy.config import TemporalSettings
from sandbox.aws import AwsSandbox
from sandbox.jira import JiraSandbox
from tests.conftest import DevServer
from tests.findings import aws_finding
from tests.hub_fixtures import (
    HubHarness,
    associate_account,
    hub_store,
    make_harness,
    new_group,
    wait_until,
)
from tests.test_jobs import rules


async def setup(
    client: Client, dev_server: DevServer, aws_sandbox: AwsSandbox, hub_worker: Any, store: Any
) -> tuple[HubHarness, str]:
    h = make_harness(store, TemporalSettings(address=dev_server.address), temporal_client=client)
    group = await new_group(h)
    await associate_account(h, group, aws_sandbox.role_arn, aws_sandbox.external_id)
    await hub_worker(h, group)
    return h, group.group_id


async def action(h: HubHarness, group_id: str, job: str, **fields: Any) -> dict[str, Any]:
    rule = f"rule-{uuid.uuid4().hex[:8]}"
    body = {
        "name": f"radius-{uuid.uuid4().hex[:6]}",
        "provider": "aws",
        "worker_group_id": group_id,
        "rule_ids": [rule],
        "steps": [{"job": job, "retry": {"max_attempts": 1}}],
        "status": "published",
        **fields,
    }
    made: dict[str, Any] = await h.ok("POST", "/remediations", json=body)
    return made


async def trigger(h: HubHarness, act: dict[str, Any], objects: list[str]) -> list[str]:
    findings = [aws_finding(o, rule_id=act["rule_ids"][0]) for o in objects]
    await h.ok("POST", "/findings", json=findings, role="analyst")
    ids = [f["notificationInfo"]["FindingInfo"]["FindingId"] for f in findings]
    started = await h.ok(
        "POST", f"/remediations/{act['id']}/run", json={"finding_ids": ids}, role="analyst"
    )
    return [r["id"] for r in started["runs"]]


async def states(h: HubHarness, run_ids: list[str]) -> list[tuple[str, str]]:
    await h.hub.runs.poll_once()  # the background poller's pass: follow runs, start queued ones
    return [
        (r["status"], r["message"])
        for r in [await h.ok("GET", f"/runs/{run_id}", role="viewer") for run_id in run_ids]
    ]


async def test_at_most_n_runs_at_once_the_rest_wait_in_order(
    client: Client, dev_server: DevServer, aws_sandbox: AwsSandbox, tmp_path: Path, hub_worker: Any
) -> None:
    with hub_store("sqlite", tmp_path, hub_status_timeout_s=5) as store:
        h, group_id = await setup(client, dev_server, aws_sandbox, hub_worker, store)
        try:
            act = await action(
                h,
                group_id,
                "slow_close_22",
                limits={"at_once": 1, "per_hour": 60},
            )
            assert act["limits"] == {"at_once": 1, "per_hour": 60} and act["paused"] is None
            groups = [aws_sandbox.open_security_group(22, f"radius-{n}") for n in range(3)]
            run_ids = await trigger(h, act, groups)
            seen_open: list[int] = []
            waited: list[str] = []

            async def all_done() -> bool:
                now = await states(h, run_ids)
                seen_open.append(sum(s in ("submitted", "running") for s, _ in now))
                waited.extend(m for s, m in now if s == "pending" and m.startswith("waiting"))
                return all(s == "succeeded" for s, _ in now)

            await wait_until(all_done, 120, "the three runs, one at a time")
            assert max(seen_open) == 1  # never two at once in the account
            assert waited and "(at most 1 at once); it starts when one ends" in waited[0]
            ec2 = aws_sandbox.admin_client("ec2")
            assert all(rules(ec2, g) == set() for g in groups)
        finally:
            await h.aclose()


async def test_the_circuit_breaker_pauses_the_action_and_an_admin_resumes_it(
    client: Client,
    dev_server: DevServer,
    aws_sandbox: AwsSandbox,
    jira_sandbox: JiraSandbox,
    tmp_path: Path,
    hub_worker: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the worker reads its Jira credentials from its environment: set before it is built
    for name, value in jira_sandbox.worker_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JIRA_TOKEN", raising=False)
    with hub_store("sqlite", tmp_path, hub_status_timeout_s=5) as store:
        h, group_id = await setup(client, dev_server, aws_sandbox, hub_worker, store)
        try:
            act = await action(
                h,
                group_id,
                "fail_job",
                breaker={"window": 3, "failure_percent": 50, "min_runs": 2},
                notify={"jira": {"server": jira_sandbox.url, "project": "SEC"}},
            )
            failing = await trigger(h, act, ["sg-fail-1", "sg-fail-2"])

            async def failed() -> bool:
                return all(s == "failed" for s, _ in await states(h, failing))

            await wait_until(failed, 90, "both runs failing")
            paused = await h.ok("GET", f"/remediations/{act['id']}", role="viewer")
            assert paused["paused"].startswith("circuit breaker: 2 of its last 2 ended runs failed")
            audit = await h.ok("GET", "/audit")
            assert any(e["action"] == f"pause remediation {act['id']}" for e in audit["items"])

            # and it said so where the action notifies: a worker of the group filed the notice
            def pause_issues() -> list[dict[str, Any]]:
                return [
                    i
                    for i in jira_sandbox.issues()
                    if i["summary"].endswith(f"{act['name']} paused")
                ]

            async def announced() -> bool:
                return bool(pause_issues())

            await wait_until(announced, 60, "the pause's Jira issue")
            (issue,) = pause_issues()
            assert issue["summary"] == f"[Remedy] remediation action {act['name']} paused"
            assert "circuit breaker: 2 of its last 2 ended runs failed" in issue["description"]
            assert f"POST /remediations/{act['id']}/resume" in issue["description"]

            held = await trigger(h, act, ["sg-fail-3"])
            for _ in range(3):
                ((status, message),) = await states(h, held)
            assert status == "pending"
            assert message.startswith(f"waiting: action {act['name']} is paused (circuit breaker")
            assert "POST /remediations/" in message and "/resume" in message

            refused = await h.as_("analyst").post(f"/remediations/{act['id']}/resume")
            assert refused.status_code == 403
            resumed = await h.ok("POST", f"/remediations/{act['id']}/resume")
            assert resumed["paused"] is None

            async def ran() -> bool:
                ((state, _),) = await states(h, held)
                return state != "pending"

            await wait_until(ran, 60, "the held run starting once resumed")
        finally:
            await h.aclose()


async def test_a_finding_suppressed_during_the_grace_period_skips_its_run(
    client: Client, dev_server: DevServer, aws_sandbox: AwsSandbox, tmp_path: Path, hub_worker: Any
) -> None:
    with hub_store("sqlite", tmp_path, hub_status_timeout_s=5) as store:
        h, group_id = await setup(client, dev_server, aws_sandbox, hub_worker, store)
        try:
            act = await action(h, group_id, "slow_close_22", grace_hours=1)
            assert act["grace_hours"] == 1
            group = aws_sandbox.open_security_group(22, "grace-hub")
            before = rules(aws_sandbox.admin_client("ec2"), group)
            (run_id,) = await trigger(h, act, [group])

            async def in_grace() -> bool:
                run = await h.ok("GET", f"/runs/{run_id}", role="viewer")
                grace = [s for s in run["steps"] if s["kind"] == "grace"]
                return bool(grace and grace[0]["state"] == "running")

            await wait_until(in_grace, 60, "the run waiting out its grace period")
            finding_id = (await h.ok("GET", f"/runs/{run_id}"))["finding_id"]
            await h.ok(
                "PATCH",
                f"/findings/{quote(finding_id, safe='')}",
                json={"status": "suppressed"},
                role="analyst",
            )

            async def skipped() -> bool:
                ((state, _),) = await states(h, [run_id])
                return state == "skipped"

            await wait_until(skipped, 60, "the run skipped once its finding was suppressed")
            run = await h.ok("GET", f"/runs/{run_id}")
            assert (
                "resolved during the grace period (the finding is suppressed at the hub)"
                in (run["message"])
            )
            assert rules(aws_sandbox.admin_client("ec2"), group) == before
        finally:
            await h.aclose()


async def test_an_admin_pauses_an_action_by_hand_and_its_runs_wait(
    client: Client, dev_server: DevServer, aws_sandbox: AwsSandbox, tmp_path: Path, hub_worker: Any
) -> None:
    """A change freeze: POST /remediations/{id}/pause holds the action's runs in the queue,
    in order, until an Admin resumes it (the same wait as after the circuit breaker trips)."""
    with hub_store("sqlite", tmp_path, hub_status_timeout_s=5) as store:
        h, group_id = await setup(client, dev_server, aws_sandbox, hub_worker, store)
        try:
            act = await action(h, group_id, "slow_close_22")
            refused = await h.as_("analyst").post(f"/remediations/{act['id']}/pause")
            assert refused.status_code == 403
            paused = await h.ok("POST", f"/remediations/{act['id']}/pause")
            assert paused["paused"].startswith("paused by ")
            again = await h.ok("POST", f"/remediations/{act['id']}/pause")
            assert again["paused"] == paused["paused"]  # the first reason stands

            group = aws_sandbox.open_security_group(22, "frozen")
            before = rules(aws_sandbox.admin_client("ec2"), group)
            held = await trigger(h, act, [group])
            for _ in range(3):
                ((status, message),) = await states(h, held)
            assert status == "pending" and "is paused (paused by " in message, message
            assert rules(aws_sandbox.admin_client("ec2"), group) == before

            await h.ok("POST", f"/remediations/{act['id']}/resume")

            async def fixed() -> bool:
                ((state, _),) = await states(h, held)
                return state == "succeeded"

            await wait_until(fixed, 90, "the held run once resumed")
            assert rules(aws_sandbox.admin_client("ec2"), group) == set()
        finally:
            await h.aclose()
