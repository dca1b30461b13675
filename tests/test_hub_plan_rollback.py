"""Plan runs, rollbacks, failure policy and exclusions through the hub (issue "Safe to turn on"):
a real hub store, the dev server, a hub-linked worker with the catalogue's port-closing job, moto.

- `POST /remediations/{id}/run` with `plan: true`, and every run of a `plan-only` action: a plan
  run, its own run beside the remediation, that changes nothing and leaves the finding open.
- `POST /runs/{id}/rollback`: the rollback run puts the port back as it was and the finding is
  open again; a viewer may not, a plan or an open run cannot be rolled back (409, why).
- an action's `on_failure: rollback` undoes the chain's finished steps; `exclude_accounts` and
  `exclude_regions` end the run skipped, saying which exclusion matched.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from temporalio.client import Client

from remedy.config import TemporalSettings
from sandbox.aws import ACCOUNT_ID, AwsSandbox
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

ROOT = Path(__file__).resolve().parent.parent
JOBCODE = Path(__file__).parent / "jobcode"


def job_code(tmp_path: Path) -> Path:
    code = tmp_path / "jobs"
    shutil.copytree(ROOT / "jobs" / "security_group_close_port", code / "security_group_close_port")
    shutil.copytree(JOBCODE / "fail_job", code / "fail_job")
    return code


@pytest.fixture
async def hub(
    client: Client, dev_server: DevServer, aws_sandbox: AwsSandbox, tmp_path: Path, hub_worker: Any
) -> AsyncIterator[tuple[HubHarness, str]]:
    """A hub on SQLite, a group with the sandbox's account, and a hub-linked worker running the
    catalogue's port-closing job and a failing one."""
    with hub_store("sqlite", tmp_path, hub_status_timeout_s=5) as store:
        h = make_harness(
            store, TemporalSettings(address=dev_server.address), temporal_client=client
        )
        try:
            group = await new_group(h)
            await associate_account(h, group, aws_sandbox.role_arn, aws_sandbox.external_id)
            await hub_worker(h, group, job_code(tmp_path))
            yield h, group.group_id
        finally:
            await h.aclose()


async def make_action(h: HubHarness, group_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "name": f"safe-{uuid.uuid4().hex[:6]}",
        "provider": "aws",
        "worker_group_id": group_id,
        "rule_ids": [f"rule-{uuid.uuid4().hex[:8]}"],
        "steps": [{"job": "security_group_close_port", "parameters": {"port": 22}}],
        "status": "published",
        **fields,
    }
    made: dict[str, Any] = await h.ok("POST", "/remediations", json=body)
    return made


async def post_finding(h: HubHarness, act: dict[str, Any], object_id: str, **kw: Any) -> str:
    finding = aws_finding(object_id, rule_id=act["rule_ids"][0], **kw)
    await h.ok("POST", "/findings", json=[finding], role="analyst")
    finding_id: str = finding["notificationInfo"]["FindingInfo"]["FindingId"]
    return finding_id


async def run_now(
    h: HubHarness, act: dict[str, Any], finding_id: str, plan: bool = False
) -> dict[str, Any]:
    """The action run on the finding by an analyst (POST /remediations/{id}/run): its run."""
    body: dict[str, Any] = {"finding_ids": [finding_id], **({"plan": True} if plan else {})}
    started = await h.ok("POST", f"/remediations/{act['id']}/run", json=body, role="analyst")
    (run,) = started["runs"]
    return dict(run)


async def ended(h: HubHarness, run_id: str) -> dict[str, Any]:
    """The run once it ended (the background poller's passes made here)."""
    seen: dict[str, Any] = {}

    async def done() -> bool:
        await h.hub.runs.poll_once()
        seen.update(await h.ok("GET", f"/runs/{run_id}", role="viewer"))
        return seen["status"] not in ("pending", "submitted", "running")

    await wait_until(done, 120, f"run {run_id} ending")
    return seen


async def finding_status(h: HubHarness, finding_id: str) -> str:
    found = await h.ok("GET", f"/findings/{quote(finding_id, safe='')}", role="viewer")
    return str(found["status"])


async def test_plan_then_remediate_then_roll_back_through_the_hub(
    hub: tuple[HubHarness, str], aws_sandbox: AwsSandbox
) -> None:
    h, group_id = hub
    act = await make_action(h, group_id)
    ec2 = aws_sandbox.admin_client("ec2")
    group = aws_sandbox.open_security_group(22, "hub-plan")
    before = rules(ec2, group)
    finding_id = await post_finding(h, act, group)

    # a plan: its own run, changing nothing, the finding still open
    plan = await run_now(h, act, finding_id, plan=True)
    assert plan["mode"] == "plan" and plan["id"].startswith("remedy-plan-")
    planned = await ended(h, plan["id"])
    assert planned["status"] == "succeeded", planned["message"]
    assert planned["message"].startswith("plan: 1 change(s) would be made, none made")
    job = next(s for s in planned["steps"] if s["kind"] == "job")
    assert job["changes"] == [f"{group}: revoked ingress tcp 22-22 from 0.0.0.0/0"]
    assert rules(ec2, group) == before
    assert await finding_status(h, finding_id) == "open"

    # the remediation, then its rollback
    run = await run_now(h, act, finding_id)
    assert run["mode"] == "remediate" and run["id"] != plan["id"]
    fixed = await ended(h, run["id"])
    assert fixed["status"] == "succeeded", fixed["message"]
    assert rules(ec2, group) == set()
    assert await finding_status(h, finding_id) == "remediated"

    viewer = await h.as_("viewer").post(f"/runs/{run['id']}/rollback")
    assert viewer.status_code == 403
    of_plan = await h.as_("analyst").post(f"/runs/{plan['id']}/rollback")
    assert of_plan.status_code == 409
    assert "is a plan run: only a remediation rolls back" in of_plan.json()["error"]

    undo = await h.ok("POST", f"/runs/{run['id']}/rollback", role="analyst")
    assert undo["mode"] == "rollback" and undo["rollback_of"] == run["id"]
    assert undo["id"].startswith("remedy-rollback-")
    undone = await ended(h, undo["id"])
    assert undone["status"] == "succeeded", undone["message"]
    assert undone["message"] == f"rolled back {run['id']}: 1 change(s) undone"
    assert rules(ec2, group) == before  # the port is open again, as before
    assert await finding_status(h, finding_id) == "open"
    listed = await h.ok("GET", "/runs", role="viewer", params={"finding_id": finding_id})
    items = listed["items"]
    assert {r["mode"] for r in items} == {"plan", "remediate", "rollback"}


async def test_a_plan_only_action_plans_every_finding_it_matches(
    hub: tuple[HubHarness, str], aws_sandbox: AwsSandbox
) -> None:
    h, group_id = hub
    act = await make_action(h, group_id, run_mode="plan-only", auto_remediate=True)
    assert act["run_mode"] == "plan-only"
    ec2 = aws_sandbox.admin_client("ec2")
    group = aws_sandbox.open_security_group(22, "hub-plan-only")
    before = rules(ec2, group)
    finding_id = await post_finding(h, act, group)
    listed = await h.ok("GET", "/runs", role="viewer", params={"finding_id": finding_id})
    (run,) = listed["items"]
    assert run["mode"] == "plan" and run["trigger"] == "auto"
    planned = await ended(h, run["id"])
    assert planned["status"] == "succeeded", planned["message"]
    assert "none made" in planned["message"]
    assert rules(ec2, group) == before


async def test_excluded_accounts_and_regions_end_skipped_and_a_failed_chain_rolls_back(
    hub: tuple[HubHarness, str], aws_sandbox: AwsSandbox
) -> None:
    h, group_id = hub
    ec2 = aws_sandbox.admin_client("ec2")
    excluded = await make_action(
        h, group_id, exclude_accounts=[ACCOUNT_ID], exclude_regions=["eu-west-1"]
    )
    by_region = await make_action(h, group_id, exclude_regions=["us-east-1"])
    assert excluded["exclude_accounts"] == [ACCOUNT_ID]
    for act, why in (
        (excluded, f"account {ACCOUNT_ID} is excluded by the remediation"),
        (by_region, "region us-east-1 is excluded by the remediation"),
    ):
        group = aws_sandbox.open_security_group(22, "hub-excluded")
        before = rules(ec2, group)
        finding_id = await post_finding(h, act, group)
        run = await run_now(h, act, finding_id)
        skipped = await ended(h, run["id"])
        assert skipped["status"] == "skipped"
        assert skipped["message"].startswith(why), skipped["message"]
        assert rules(ec2, group) == before

    chain = await make_action(
        h,
        group_id,
        on_failure="rollback",
        steps=[
            {"job": "security_group_close_port", "parameters": {"port": 22}},
            {"job": "fail_job", "retry": {"max_attempts": 1}},
        ],
    )
    assert chain["on_failure"] == "rollback"
    group = aws_sandbox.open_security_group(22, "hub-chain")
    before = rules(ec2, group)
    finding_id = await post_finding(h, chain, group)
    run = await run_now(h, chain, finding_id)
    failed = await ended(h, run["id"])
    assert failed["status"] == "failed"
    assert failed["message"].endswith("; rolled back security_group_close_port")
    assert rules(ec2, group) == before
