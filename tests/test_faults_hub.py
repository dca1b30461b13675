"""Faults at the hub, on the real dev server, sandbox cloud and Jira emulator: a finding delivered
over and over at once is still one run, one workflow, one fix and one Jira issue."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.client import Client

from hub.models import Run
from remedy.config import TemporalSettings
from remedy.starter import wait_for_result
from sandbox.aws import AwsSandbox
from sandbox.jira import JiraSandbox
from tests.conftest import JOBS_DIR, DevServer
from tests.findings import aws_finding
from tests.hub_fixtures import (
    associate_account,
    hub_store,
    make_harness,
    new_group,
    run_started,
    wait_until,
)
from tests.test_workflow_runs import tags_of

pytestmark = pytest.mark.slow
UI = "http://temporal-ui.test"
SSH_OPEN = {
    "IpProtocol": "tcp",
    "FromPort": 22,
    "ToPort": 22,
    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
}


def ssh_open_to_the_internet(aws: AwsSandbox, group_id: str) -> bool:
    group = aws.admin_client("ec2").describe_security_groups(GroupIds=[group_id])
    return any(
        p.get("IpProtocol") == "tcp"
        and p.get("FromPort", 0) <= 22 <= p.get("ToPort", 65535)
        and any(r["CidrIp"] == "0.0.0.0/0" for r in p.get("IpRanges", []))
        for p in group["SecurityGroups"][0]["IpPermissions"]
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_one_finding_delivered_100_times_at_once_is_one_run_and_one_jira_issue(
    backend: str,
    client: Client,
    dev_server: DevServer,
    aws_sandbox: AwsSandbox,
    jira_sandbox: JiraSandbox,
    hub_worker: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # the worker reads its Jira credentials from its environment: set before it is built
    for name, value in jira_sandbox.worker_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JIRA_TOKEN", raising=False)
    temporal = TemporalSettings(address=dev_server.address, ui_url=UI)
    with hub_store(backend, tmp_path, hub_status_timeout_s=5) as store:
        first = make_harness(store, temporal, temporal_client=client)
        second = make_harness(store, temporal, temporal_client=client, tokens=first.tokens)
        try:
            group = await new_group(first)
            await associate_account(first, group, aws_sandbox.role_arn, aws_sandbox.external_id)
            await hub_worker(first, group, JOBS_DIR)  # the built-in catalogue
            rule = f"rule-{uuid.uuid4().hex[:8]}"
            await first.ok(
                "POST",
                "/remediations",
                json={
                    "name": f"close-ssh-{uuid.uuid4().hex[:6]}",
                    "provider": "aws",
                    "worker_group_id": group.group_id,
                    "rule_ids": [rule],
                    "steps": [{"job": "security_group_close_port", "parameters": {"port": 22}}],
                    "notify": {"jira": {"server": jira_sandbox.url, "project": "SEC"}},
                    "auto_remediate": True,
                    "status": "published",
                },
            )
            ec2 = aws_sandbox.admin_client("ec2")
            sg = ec2.create_security_group(
                GroupName=f"dup-{uuid.uuid4().hex[:8]}", Description="t"
            )["GroupId"]
            ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[SSH_OPEN])
            assert ssh_open_to_the_internet(aws_sandbox, sg)
            finding = aws_finding(sg, rule_id=rule)
            finding_id = finding["notificationInfo"]["FindingInfo"]["FindingId"]

            # 100 single deliveries spread over two hubs on one store, plus a batch on each
            # hub carrying the finding 5 times: all at once
            singles = [
                h.ok("POST", "/findings", json=finding, role="analyst")
                for h in (first, second) * 50
            ]
            batches = [
                h.ok("POST", "/findings", json={"findings": [finding] * 5}, role="analyst")
                for h in (first, second)
            ]
            began = time.monotonic()
            answers = await asyncio.wait_for(asyncio.gather(*singles, *batches), 60)
            took = time.monotonic() - began
            items = [item for answer in answers for item in answer["items"]]
            assert len(items) == 110, took
            assert all(item["result"] in ("created", "updated") for item in items), items
            assert sum(item["result"] == "created" for item in items) == 1
            run_ids = {run for item in items for run in item["runs"]}
            assert len(run_ids) == 1, run_ids
            (run_id,) = run_ids
            assert all(item["runs"] == [run_id] for item in items)
            # every delivery is counted: none lost to a concurrent one
            seen = await first.ok("GET", f"/findings/{finding_id}", role="viewer")
            assert seen["times_seen"] == len(items), seen["times_seen"]

            await run_started(first, run_id)  # the answers came before the start
            await asyncio.wait_for(wait_for_result(client, run_id), 60)
            run = await first.ok("GET", f"/runs/{run_id}", role="viewer")
            assert run["status"] == "succeeded", run
            assert run["trigger"] == "auto"

            # one run in the store, one workflow execution on Temporal
            listed = await second.ok("GET", "/runs", params={"finding_id": finding_id})
            assert listed["total"] == 1 and [r["id"] for r in listed["items"]] == [run_id]
            rows = first.hub.db.run(
                lambda s: s.scalar(
                    select(func.count()).select_from(Run).where(Run.finding_id == finding_id)
                )
            )
            assert rows == 1

            async def listed_in_visibility() -> bool:
                return bool([w async for w in client.list_workflows(f"WorkflowId = '{run_id}'")])

            await wait_until(listed_in_visibility, what="the run in Temporal's visibility")
            executions = [w async for w in client.list_workflows(f"WorkflowId = '{run_id}'")]
            assert len(executions) == 1, [(w.id, w.run_id, w.status) for w in executions]

            # the resource is fixed, by this run
            assert not ssh_open_to_the_internet(aws_sandbox, sg)
            assert tags_of(aws_sandbox, sg)["remediation-run-id"] == run_id

            # exactly one Jira issue for the run
            issues = jira_sandbox.issues()
            carrying = [i for i in issues if f"remedy-run-{run_id}" in i["labels"]]
            assert len(carrying) == 1, issues
            assert len(issues) == 1, issues
            assert "succeeded" in carrying[0]["description"]
        finally:
            await second.aclose()
            await first.aclose()
