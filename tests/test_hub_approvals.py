"""An action that asks for approval, through the hub: its runs plan and wait; the hub lists them
with their plans; only an Analyst or Admin other than the user who triggered the run approves; the
run then applies the plan (the real dev server, a hub-linked worker with the built-in jobs, moto)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from temporalio.client import Client

from remedy.config import TemporalSettings
from sandbox.aws import AwsSandbox
from tests.conftest import DevServer
from tests.findings import aws_finding
from tests.hub_fixtures import associate_account, hub_store, make_harness, new_group, wait_until
from tests.test_jobs import rules

JOBS = Path(__file__).resolve().parent.parent / "jobs"


async def test_an_approval_action_waits_for_someone_else_to_approve_its_plan(
    client: Client,
    dev_server: DevServer,
    aws_sandbox: AwsSandbox,
    tmp_path: Path,
    hub_worker: Any,
) -> None:
    temporal = TemporalSettings(address=dev_server.address)
    with hub_store("sqlite", tmp_path, hub_status_timeout_s=5) as store:
        h = make_harness(store, temporal, temporal_client=client)
        try:
            group = await new_group(h)
            await associate_account(h, group, aws_sandbox.role_arn, aws_sandbox.external_id)
            await hub_worker(h, group, JOBS)
            rule = f"rule-{uuid.uuid4().hex[:8]}"
            action = await h.ok(
                "POST",
                "/remediations",
                json={
                    "name": f"approve-{uuid.uuid4().hex[:6]}",
                    "provider": "aws",
                    "worker_group_id": group.group_id,
                    "rule_ids": [rule],
                    "steps": [{"job": "security_group_close_port", "parameters": {"port": 22}}],
                    "approval": {"expires_hours": 1},
                    "status": "published",
                },
            )
            assert action["approval"] == {
                "required": True,
                "expires_hours": 1.0,
                "forbid_self": True,
            }
            ec2 = aws_sandbox.admin_client("ec2")
            sg = aws_sandbox.open_security_group(22, "hub-approve")
            before = rules(ec2, sg)
            finding = aws_finding(sg, rule_id=rule)
            finding_id = finding["notificationInfo"]["FindingInfo"]["FindingId"]
            await h.ok("POST", "/findings", json=finding, role="analyst")
            started = await h.ok(
                "POST",
                f"/remediations/{action['id']}/run",
                json={"finding_ids": [finding_id]},
                role="analyst",
            )
            run_id = started["runs"][0]["id"]

            waiting: list[dict[str, Any]] = []

            async def listed() -> bool:
                waiting[:] = await h.ok("GET", "/approvals", role="viewer")
                return any(a["run"]["id"] == run_id for a in waiting)

            await wait_until(listed, 60, "the run waiting for approval")
            mine = next(a for a in waiting if a["run"]["id"] == run_id)
            assert mine["plan"] == [f"{sg}: revoked ingress tcp 22-22 from 0.0.0.0/0"]
            assert mine["run"]["status"] == "awaiting_approval" and mine["expires_at"]
            assert rules(ec2, sg) == before  # nothing changed while it waits

            viewer = await h.as_("viewer").post(f"/runs/{run_id}/approve", json={})
            assert viewer.status_code == 403
            own = await h.as_("analyst").post(f"/runs/{run_id}/approve", json={"comment": "mine"})
            assert own.status_code == 409, own.text
            assert "asked for this run: someone else must approve it" in own.json()["error"]
            ok = await h.as_("admin").post(f"/runs/{run_id}/approve", json={"comment": "CHG-7"})
            assert ok.status_code == 200, ok.text

            async def fixed() -> bool:
                run = await h.ok("GET", f"/runs/{run_id}")
                return bool(run["status"] == "succeeded")

            await wait_until(fixed, 60, "the approved run to succeed")
            assert rules(ec2, sg) == set()
            detail = await h.ok("GET", f"/runs/{run_id}")
            approval = next(s for s in detail["steps"] if s["kind"] == "approval")
            assert approval["message"] == "approved by admin-user (admin): CHG-7"
            assert await h.ok("GET", "/approvals") == []
            late = await h.as_("admin").post(f"/runs/{run_id}/reject", json={"comment": "x"})
            assert late.status_code == 409 and "not waiting for approval" in late.json()["error"]
        finally:
            await h.aclose()
