"""Plan runs and rollback runs on the dev server, the worker and moto (issue "Safe to turn on").

A plan run is a first-class run: validate, assume role, each job in plan mode, and it ends with
the changes it would make, changing nothing (no tag, no notification). A rollback run undoes a
finished remediation from the change records its steps kept, in reverse order, and is refused
(the run fails, saying what changed) when the resource changed since.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from remedy.starter import (
    CannotRollBack,
    DecisionRefused,
    decide,
    get_status,
    pending_approvals,
    start_remediation,
    start_rollback,
    wait_for_result,
)
from remedy.types import (
    AccountAccess,
    ApprovalSettings,
    Decision,
    JobStep,
    RemediationSpec,
    RunState,
    RunStatus,
    StepState,
)
from sandbox.aws import AwsSandbox
from tests.conftest import DevServer
from tests.findings import aws_finding
from tests.test_cli import cli_env, remedy
from tests.test_jobs import rules

JOBCODE = Path(__file__).parent / "jobcode"


def spec_for(
    sandbox: AwsSandbox, mode: str = "remediate", job: str = "security_group_close_port"
) -> RemediationSpec:
    return RemediationSpec(
        steps=[JobStep(job=job, parameters={"port": 22})],
        access=AccountAccess(role_arn=sandbox.role_arn, external_id=sandbox.external_id),
        mode=mode,  # type: ignore[arg-type]
    )


async def test_a_plan_run_lists_the_changes_and_makes_none(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker()
    ec2 = aws_sandbox.admin_client("ec2")
    group = aws_sandbox.open_security_group(22, "plan")
    before = rules(ec2, group)
    run_id = await start_remediation(
        client, aws_finding(group), spec_for(aws_sandbox, "plan"), worker.group_id
    )
    assert run_id.startswith("remedy-plan-")
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.SUCCEEDED, status.message
    assert status.mode == "plan"
    job = next(s for s in status.steps if s.kind == "job")
    assert job.name == "plan security_group_close_port"
    assert job.changes == [f"{group}: revoked ingress tcp 22-22 from 0.0.0.0/0"]
    assert job.records == [] and "planned, none made" in job.message
    assert [s.kind for s in status.steps] == ["validate", "assume_role", "job", "tag"]  # no verify
    tag = next(s for s in status.steps if s.kind == "tag")
    assert tag.state == StepState.SKIPPED and "plan run changes nothing" in tag.message
    assert status.message.startswith("plan: 1 change(s) would be made, none made")
    assert rules(ec2, group) == before  # the port is still open
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [group]}])["Tags"]
    assert not [t for t in tags if t["Key"].startswith("remediat")]

    # the remediation of the same finding is its own run, beside the plan
    fixed = await start_remediation(
        client, aws_finding(group), spec_for(aws_sandbox), worker.group_id
    )
    assert fixed != run_id
    done = await wait_for_result(client, fixed)
    assert (
        done.state == RunState.SUCCEEDED
        and [c for s in done.steps for c in s.changes] == job.changes
    )


async def test_a_rollback_run_restores_what_the_run_changed(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker()
    ec2 = aws_sandbox.admin_client("ec2")
    group = aws_sandbox.open_security_group(22, "undo")
    before = rules(ec2, group)
    run_id = await start_remediation(
        client, aws_finding(group), spec_for(aws_sandbox), worker.group_id
    )
    fixed = await wait_for_result(client, run_id)
    assert fixed.state == RunState.SUCCEEDED, fixed.message
    assert rules(ec2, group) == set()

    undo_id = await start_rollback(client, run_id)
    undone = await wait_for_result(client, undo_id)
    assert undone.state == RunState.SUCCEEDED, undone.message
    assert undone.mode == "rollback" and undone.rollback_of == run_id
    job = next(s for s in undone.steps if s.kind == "job")
    assert job.name == "roll back security_group_close_port"
    assert job.changes == [f"{group}: authorized ingress tcp 22-22 from 0.0.0.0/0 again (rollback)"]
    assert undone.message == f"rolled back {run_id}: 1 change(s) undone"
    assert rules(ec2, group) == before  # the port is open again, as before the run
    # and the run checked it: the job's plan shows the run's change again
    check = next(s for s in undone.steps if s.kind == "verify")
    assert check.name == "check security_group_close_port is as before"
    assert check.state == StepState.SUCCEEDED and check.changes == []
    assert check.message == "as before the run: 1 change(s) undone"
    tags = {
        t["Key"]: t["Value"]
        for t in ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [group]}])["Tags"]
    }
    assert tags["remediation-rollback-run-id"] == undo_id
    assert tags["remediation-run-id"] == run_id  # the remediation's own tag stays


async def test_a_rollback_is_refused_when_the_resource_changed_since(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker()
    ec2 = aws_sandbox.admin_client("ec2")
    group = aws_sandbox.open_security_group(22, "moved")
    run_id = await start_remediation(
        client, aws_finding(group), spec_for(aws_sandbox), worker.group_id
    )
    assert (await wait_for_result(client, run_id)).state == RunState.SUCCEEDED
    ec2.authorize_security_group_ingress(  # a person opens the port again meanwhile
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    tampered = rules(ec2, group)
    undone = await wait_for_result(client, await start_rollback(client, run_id))
    assert undone.state == RunState.FAILED
    assert "rollback refused, nothing was changed" in undone.message
    assert "changed since" in undone.message
    assert rules(ec2, group) == tampered


async def test_what_cannot_be_rolled_back_is_refused_before_anything_starts(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker()
    group = aws_sandbox.open_security_group(22, "noop")
    plan = await start_remediation(
        client, aws_finding(group), spec_for(aws_sandbox, "plan"), worker.group_id
    )
    await wait_for_result(client, plan)
    with pytest.raises(CannotRollBack, match="is a plan run: only a remediation rolls back"):
        await start_rollback(client, plan)
    private = aws_sandbox.open_security_group(22, "none")
    aws_sandbox.admin_client("ec2").revoke_security_group_ingress(
        GroupId=private,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    compliant = await start_remediation(
        client, aws_finding(private), spec_for(aws_sandbox), worker.group_id
    )
    assert (await wait_for_result(client, compliant)).state == RunState.SUCCEEDED
    with pytest.raises(CannotRollBack, match="recorded no change: there is nothing to roll back"):
        await start_rollback(client, compliant)


async def test_a_plan_of_a_job_that_cannot_plan_fails_validation(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    spec = RemediationSpec(
        steps=[JobStep(job="misbehave", parameters={"mode": "ok"})],
        access=AccountAccess(role_arn=aws_sandbox.role_arn, external_id=aws_sandbox.external_id),
        mode="plan",
    )
    status = await wait_for_result(
        client, await start_remediation(client, aws_finding("sg-123"), spec, worker.group_id)
    )
    assert status.state == RunState.FAILED
    assert (
        "job misbehave does not support the plan mode (its remedy.json lists remediate)"
        in status.message
    )


def test_the_command_line_plans_and_rolls_back(
    aws_sandbox: AwsSandbox, dev_server: DevServer, tmp_path: Path
) -> None:
    env = cli_env(aws_sandbox, dev_server)
    group_name = f"modes-{tmp_path.name[-8:]}"
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "console", "worker", "--group", group_name],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        ec2 = aws_sandbox.admin_client("ec2")
        group = aws_sandbox.open_security_group(22, "cli")
        finding = tmp_path / "finding.json"
        finding.write_text(json.dumps(aws_finding(group)))
        common = [
            "security_group_close_port",
            "--group",
            group_name,
            "--payload",
            str(finding),
            "--param",
            "port=22",
            "--account-role-arn",
            aws_sandbox.role_arn,
            "--external-id",
            aws_sandbox.external_id,
            "--wait",
        ]
        planned = remedy("remediate", *common, "--plan", env=env)
        assert planned.returncode == 0, planned.stdout + planned.stderr
        assert "remedy-plan-" in planned.stdout and "would be made" in planned.stdout
        assert "0.0.0.0/0" in {r[3] for r in rules(ec2, group)}
        fixed = remedy("remediate", *common, env=env)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert rules(ec2, group) == set()
        run_id = next(w for w in fixed.stdout.split() if w.startswith("remedy-security"))
        undone = remedy("rollback", run_id, "--wait", env=env)
        assert undone.returncode == 0, undone.stdout + undone.stderr
        assert "remedy-rollback-" in undone.stdout and "1 change(s) undone" in undone.stdout
        assert "0.0.0.0/0" in {r[3] for r in rules(ec2, group)}
        again = remedy("rollback", f"{run_id}-nope", env=env)
        assert again.returncode != 0

        # an approval run: listed with its plan, approved by someone else, then applied
        asked = remedy("remediate", *common[:-1], "--approval", env=env)
        assert asked.returncode == 0, asked.stdout + asked.stderr
        waiting_id = next(w for w in asked.stdout.split() if w.startswith("remedy-security"))
        for _ in range(100):
            listed = remedy("approvals", "list", env=env)
            if waiting_id in listed.stdout:
                break
            time.sleep(0.3)
        assert f"would change: {group}: revoked ingress tcp 22-22 from 0.0.0.0/0" in listed.stdout
        assert "0.0.0.0/0" in {r[3] for r in rules(ec2, group)}
        mine = remedy("approve", waiting_id, env=env)  # this shell's user asked for it
        assert mine.returncode == 1 and "asked for this run" in mine.stderr
        ok = remedy("approve", waiting_id, "--by", "bob", "--comment", "change 42", env=env)
        assert ok.returncode == 0, ok.stderr
        assert f"{waiting_id}: approved by bob" in ok.stderr
        for _ in range(100):
            shown = json.loads(remedy("status", waiting_id, "--json", env=env).stdout)
            if shown["state"] != "awaiting_approval" and shown["state"] != "running":
                break
            time.sleep(0.3)
        assert shown["state"] == "succeeded", shown["message"]
        assert rules(ec2, group) == set()
    finally:
        worker.terminate()
        worker.wait(30)


# ----------------------------------------------------------------------------------------------
# The approval gate
# ----------------------------------------------------------------------------------------------


def approval_spec(sandbox: AwsSandbox, expires_s: float = 3600) -> RemediationSpec:
    spec = spec_for(sandbox)
    spec.approval = ApprovalSettings(expires_s=expires_s, requester="alice")
    return spec


async def waiting(client: Client, run_id: str, seen: int = 0) -> RunStatus:
    """The run once it waits for a decision (and has taken `seen` decisions before)."""
    for _ in range(300):
        status = await get_status(client, run_id)
        if status.state == RunState.AWAITING_APPROVAL and len(status.decisions) == seen:
            return status
        assert status.state in (RunState.RUNNING, RunState.AWAITING_APPROVAL), status.message
        await asyncio.sleep(0.2)
    raise AssertionError(f"{run_id} never waited for approval")


def decision(approve: bool, by: str, role: str = "analyst", comment: str = "") -> Decision:
    return Decision(approve=approve, by=by, role=role, comment=comment)


async def test_an_approval_run_plans_waits_and_applies_the_approved_plan(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker()
    ec2 = aws_sandbox.admin_client("ec2")
    group = aws_sandbox.open_security_group(22, "approve")
    before = rules(ec2, group)
    run_id = await start_remediation(
        client, aws_finding(group), approval_spec(aws_sandbox), worker.group_id
    )
    status = await waiting(client, run_id)
    assert status.plan == [f"{group}: revoked ingress tcp 22-22 from 0.0.0.0/0"]
    assert status.approval_expires_at is not None
    approval = next(s for s in status.steps if s.kind == "approval")
    assert "waiting for an Analyst or Admin to approve the plan (1 change(s))" in approval.message
    assert rules(ec2, group) == before  # nothing changes while it waits
    assert run_id in [s.run_id for s in await pending_approvals(client)]

    with pytest.raises(DecisionRefused, match="carol is a viewer: only an analyst or an admin"):
        await decide(client, run_id, decision(True, "carol", "viewer"))
    with pytest.raises(DecisionRefused, match="alice asked for this run: someone else must"):
        await decide(client, run_id, decision(True, "alice", "admin"))
    assert await decide(client, run_id, decision(True, "bob", comment="go")) == "approved"

    done = await wait_for_result(client, run_id)
    assert done.state == RunState.SUCCEEDED, done.message
    assert rules(ec2, group) == set()
    # the plan's changes were only planned: the run made its one change once
    assert done.message == "1 change(s) made"
    assert done.changes_made() == [f"{group}: revoked ingress tcp 22-22 from 0.0.0.0/0"]
    assert [(d.by, d.role, d.approve, d.comment) for d in done.decisions] == [
        ("bob", "analyst", True, "go")
    ]
    assert done.decisions[0].at is not None
    approval = next(s for s in done.steps if s.kind == "approval")
    assert (
        approval.state == StepState.SUCCEEDED
        and approval.message == "approved by bob (analyst): go"
    )
    with pytest.raises(DecisionRefused, match="is not waiting for approval"):
        await decide(client, run_id, decision(True, "bob"))


async def test_a_rejected_or_expired_plan_changes_nothing(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker()
    ec2 = aws_sandbox.admin_client("ec2")
    rejected_group = aws_sandbox.open_security_group(22, "reject")
    expired_group = aws_sandbox.open_security_group(22, "expire")
    before = (rules(ec2, rejected_group), rules(ec2, expired_group))
    rejected = await start_remediation(
        client, aws_finding(rejected_group), approval_spec(aws_sandbox), worker.group_id
    )
    expired = await start_remediation(
        client, aws_finding(expired_group), approval_spec(aws_sandbox, expires_s=2), worker.group_id
    )
    await waiting(client, rejected)
    assert (
        await decide(client, rejected, decision(False, "alice", "admin", "not in prod hours"))
        == "rejected"
    )
    no = await wait_for_result(client, rejected)
    assert no.state == RunState.FAILED
    assert "approval failed: rejected by alice (admin): not in prod hours" in no.message
    late = await wait_for_result(client, expired)
    assert late.state == RunState.FAILED
    assert (
        "expired: nobody approved or rejected the plan within 2 s; nothing was changed"
        in late.message
    )
    assert (rules(ec2, rejected_group), rules(ec2, expired_group)) == before


async def test_a_resource_changed_after_approval_is_planned_and_asked_again(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker()
    ec2 = aws_sandbox.admin_client("ec2")
    group = aws_sandbox.open_security_group(22, "replan")
    run_id = await start_remediation(
        client, aws_finding(group), approval_spec(aws_sandbox), worker.group_id
    )
    first = await waiting(client, run_id)
    ec2.authorize_security_group_ingress(  # someone opens the port to IPv6 too, meanwhile
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            }
        ],
    )
    await decide(client, run_id, decision(True, "bob"))
    second = await waiting(client, run_id, seen=1)  # the approved plan is not the plan any more
    assert len(second.plan) == 2 and first.plan[0] in second.plan
    approval = next(s for s in second.steps if s.kind == "approval")
    assert approval.message.startswith("the resource changed since the plan was approved")
    assert "::/0" in {r[3] for r in rules(ec2, group)}  # still nothing changed
    await decide(client, run_id, decision(True, "dave", "admin"))
    done = await wait_for_result(client, run_id)
    assert done.state == RunState.SUCCEEDED, done.message
    assert rules(ec2, group) == set()
    assert [d.by for d in done.decisions] == ["bob", "dave"]


# ----------------------------------------------------------------------------------------------
# Opt-out: a resource tagged remedy:skip is never changed
# ----------------------------------------------------------------------------------------------


async def test_a_resource_tagged_to_opt_out_is_skipped_and_left_alone(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker()
    ec2 = aws_sandbox.admin_client("ec2")
    group = aws_sandbox.open_security_group(22, "opt-out")
    before = rules(ec2, group)
    finding = aws_finding(group)
    finding["notificationInfo"]["FindingInfo"]["CloudTags"] = {"Remedy:Skip": "yes, CHG-9"}
    run_id = await start_remediation(client, finding, spec_for(aws_sandbox), worker.group_id)
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.SKIPPED
    assert status.message.startswith(
        "the resource is tagged Remedy:Skip=yes, CHG-9: it opted out of remediation"
    )
    assert [s.state for s in status.steps] == [
        StepState.SUCCEEDED,  # validate
        *[StepState.SKIPPED] * (len(status.steps) - 1),
    ]
    assert rules(ec2, group) == before  # the port is still open: nothing was changed

    # the tag set to false, or the opt-out turned off for the run: it is remediated
    finding["notificationInfo"]["FindingInfo"]["CloudTags"] = {"remedy:skip": "false"}
    finding["notificationInfo"]["FindingInfo"]["FindingId"] += "-2"
    done = await wait_for_result(
        client,
        await start_remediation(client, finding, spec_for(aws_sandbox), worker.group_id),
    )
    assert done.state == RunState.SUCCEEDED and rules(ec2, group) == set()


async def test_a_tag_added_after_the_scan_is_read_live_and_heard(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker()
    ec2 = aws_sandbox.admin_client("ec2")
    group = aws_sandbox.open_security_group(22, "opt-out-live")
    before = rules(ec2, group)
    # the finding (the scan) knows no tag; the owner tagged the group since
    ec2.create_tags(Resources=[group], Tags=[{"Key": "remedy:skip", "Value": "CHG-11"}])
    status = await wait_for_result(
        client,
        await start_remediation(client, aws_finding(group), spec_for(aws_sandbox), worker.group_id),
    )
    assert status.state == RunState.SKIPPED, status.message
    assert status.message.startswith("the resource is tagged remedy:skip=CHG-11: it opted out")
    assert rules(ec2, group) == before  # nothing was changed
    job = next(s for s in status.steps if s.kind == "job")
    assert job.state == StepState.SKIPPED and job.message == "left alone: the resource opted out"

    # the tag set to false: the live read lets the run through
    ec2.create_tags(Resources=[group], Tags=[{"Key": "remedy:skip", "Value": "false"}])
    done = await wait_for_result(
        client,
        await start_remediation(
            client,
            aws_finding(group, finding_id=f"again-{group}"),
            spec_for(aws_sandbox),
            worker.group_id,
        ),
    )
    assert done.state == RunState.SUCCEEDED and rules(ec2, group) == set()


# ----------------------------------------------------------------------------------------------
# Grace period: nothing changes before it ends; a resolved finding ends the run skipped
# ----------------------------------------------------------------------------------------------


async def test_a_finding_resolved_during_the_grace_period_is_left_alone(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker()
    ec2 = aws_sandbox.admin_client("ec2")
    waiting_group = aws_sandbox.open_security_group(22, "grace")
    short_group = aws_sandbox.open_security_group(22, "grace-short")
    before = rules(ec2, waiting_group)
    long_spec = spec_for(aws_sandbox)
    long_spec.grace_s = 3600
    run_id = await start_remediation(client, aws_finding(waiting_group), long_spec, worker.group_id)
    for _ in range(100):
        status = await get_status(client, run_id)
        grace = next(s for s in status.steps if s.kind == "grace")
        if grace.state == StepState.RUNNING:
            break
        await asyncio.sleep(0.2)
    assert grace.message.startswith("nothing changes before ")
    assert rules(ec2, waiting_group) == before
    await client.get_workflow_handle(run_id).signal("resolve", "Security Hub: PASSED")
    done = await wait_for_result(client, run_id)
    assert done.state == RunState.SKIPPED
    assert done.message == (
        "the finding was resolved during the grace period (Security Hub: PASSED): "
        "nothing was changed"
    )
    assert rules(ec2, waiting_group) == before

    short_spec = spec_for(aws_sandbox)
    short_spec.grace_s = 1  # nobody resolves it: the fix comes once the grace period is over
    fixed = await wait_for_result(
        client,
        await start_remediation(client, aws_finding(short_group), short_spec, worker.group_id),
    )
    assert fixed.state == RunState.SUCCEEDED
    grace = next(s for s in fixed.steps if s.kind == "grace")
    assert grace.message == "the grace period passed: remediating"
    assert rules(ec2, short_group) == set()


# ----------------------------------------------------------------------------------------------
# on_failure: rollback: a chain that fails half-way undoes the steps that succeeded
# ----------------------------------------------------------------------------------------------


async def test_a_chain_failing_half_way_rolls_back_what_it_did(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox, tmp_path: Path
) -> None:
    import shutil

    code = tmp_path / "jobs"
    shutil.copytree(
        Path(__file__).resolve().parent.parent / "jobs" / "security_group_close_port",
        code / "security_group_close_port",
    )
    shutil.copytree(JOBCODE / "fail_job", code / "fail_job")
    worker = await start_worker(code)
    ec2 = aws_sandbox.admin_client("ec2")
    group = aws_sandbox.open_security_group(22, "undo-chain")
    before = rules(ec2, group)
    spec = RemediationSpec(
        steps=[
            JobStep(job="security_group_close_port", parameters={"port": 22}),
            JobStep(job="fail_job", retry={"max_attempts": 1}),  # type: ignore[arg-type]
        ],
        access=AccountAccess(role_arn=aws_sandbox.role_arn, external_id=aws_sandbox.external_id),
        on_failure="rollback",
    )
    status = await wait_for_result(
        client, await start_remediation(client, aws_finding(group), spec, worker.group_id)
    )
    assert status.state == RunState.FAILED
    assert "job fail_job failed" in status.message
    assert status.message.endswith("; rolled back security_group_close_port")
    undo = next(s for s in status.steps if s.kind == "rollback")
    assert undo.name == "roll back security_group_close_port" and undo.state == StepState.SUCCEEDED
    assert undo.changes == [
        f"{group}: authorized ingress tcp 22-22 from 0.0.0.0/0 again (rollback)"
    ]
    assert rules(ec2, group) == before  # as it was before the run

    # a chain whose first step could not be undone is refused before it starts
    spec.steps = list(reversed(spec.steps))
    refused = await wait_for_result(
        client,
        await start_remediation(client, aws_finding(f"{group}-x"), spec, worker.group_id),
    )
    assert refused.state == RunState.FAILED
    assert "job fail_job does not support the rollback mode" in refused.message
