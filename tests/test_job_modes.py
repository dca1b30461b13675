"""Every built-in AWS job in every mode, on moto, run as the worker runs it.

For each job: verify says 3 before the fix and 0 after; plan prints the CHANGE lines remediate
then prints and sends no mutating request (a recording proxy in front of moto sees every request:
sandbox/request_log.py); remediate fixes and records; a second remediate changes nothing; rollback
with the records restores the before state; rollback refuses (exit 1, one ERROR line, nothing
changed) once someone changed the resource after the job.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.credentials import CredentialStore
from activities.job_runner import JobRunner
from activities.launchers import Launcher, make_launcher
from remedy.job_registry import discover
from remedy.starter import start_remediation, wait_for_result
from remedy.types import (
    AccountAccess,
    AccountRef,
    JobResult,
    JobStep,
    RemediationSpec,
    RunJobInput,
    RunState,
)
from sandbox.aws import AwsSandbox
from tests.findings import aws_finding
from tests.job_modes import Case, Run, exercise
from tests.job_process import run_like_the_worker
from tests.test_jobs import (
    ALL_USERS,
    AUTH_USERS,
    LOG_DELIVERY,
    group_grant,
    new_group,
    new_instance,
    payload,
    rules,
)

JOBS_DIR = Path(__file__).resolve().parent.parent / "jobs"
JOBCODE = Path(__file__).resolve().parent / "jobcode"
OPEN4, PRIVATE = "0.0.0.0/0", "10.0.0.0/8"
BLOCK_NAMES = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def port_permissions(port_range: tuple[int, int]) -> list[dict[str, Any]]:
    low, high = port_range
    return [
        {
            "IpProtocol": "tcp",
            "FromPort": low,
            "ToPort": high,
            "IpRanges": [{"CidrIp": OPEN4, "Description": "web"}, {"CidrIp": PRIVATE}],
        },
        {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
    ]


def test_security_group_close_port_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    group = new_group(ec2, port_permissions((20, 25)))

    def tamper() -> None:  # someone closes the part the job kept open
        ec2.revoke_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 20, "ToPort": 21, "IpRanges": [{"CidrIp": OPEN4}]}
            ],
        )

    finding = payload(group, "rule-x", port=22)
    exercise(run, Case("security_group_close_port", finding, lambda: rules(ec2, group), tamper))


def test_ec2_close_port_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    first = new_group(ec2, port_permissions((22, 22)))
    second = new_group(ec2, port_permissions((0, 1024)))
    instance = new_instance(ec2, [first, second])

    def state() -> Any:
        return (rules(ec2, first), rules(ec2, second))

    def tamper() -> None:  # someone opens the port again on one group
        ec2.authorize_security_group_ingress(
            GroupId=first,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": OPEN4}]}
            ],
        )

    exercise(run, Case("ec2_close_port", payload(instance, "rule-x", port=22), state, tamper))


def test_s3_remove_public_access_modes(aws_sandbox: AwsSandbox, run: Run) -> None:
    s3 = aws_sandbox.admin_client("s3")
    bucket = f"remedy-modes-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    acl = s3.get_bucket_acl(Bucket=bucket)
    public = [group_grant(ALL_USERS, "READ"), group_grant(AUTH_USERS, "READ")]
    grants = [*acl["Grants"], *public, group_grant(LOG_DELIVERY, "WRITE")]
    s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy={"Owner": acl["Owner"], "Grants": grants})
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={name: name == "BlockPublicPolicy" for name in BLOCK_NAMES},
    )

    def state() -> Any:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        found = s3.get_bucket_acl(Bucket=bucket)["Grants"]
        return (
            {name: block.get(name) for name in BLOCK_NAMES},
            sorted(json.dumps(g, sort_keys=True) for g in found),
        )

    def tamper() -> None:  # someone turns BlockPublicAcls off again (the block refuses a
        # public ACL while it is on, as S3 does: the sandbox enforces it)
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                name: name != "BlockPublicAcls" for name in BLOCK_NAMES
            },
        )

    exercise(run, Case("s3_remove_public_access", payload(bucket, "rule-x"), state, tamper))


def test_a_mode_the_job_does_not_know_is_refused(aws_sandbox: AwsSandbox, run: Run) -> None:
    group = new_group(aws_sandbox.admin_client("ec2"), port_permissions((22, 22)))
    done = run("security_group_close_port", payload(group, "rule-x", port=22), "rollback")
    assert done.returncode == 2, str(done)
    assert done.errors == ["ERROR: rollback needs the change records: REMEDY_RECORDS is not set"]
    assert done.mutating == []


# ----------------------------------------------------------------------------------------------
# The worker: the mode in the job's environment, the records in the step's result and the run
# ----------------------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", params=["subprocess", "forkserver"])
async def launcher(request: pytest.FixtureRequest) -> AsyncIterator[Launcher]:
    made = make_launcher(request.param)
    yield made
    await made.close()


def job_request(sandbox: AwsSandbox, job: str, group: str, **fields: Any) -> RunJobInput:
    return RunJobInput(
        job=job,
        parameters={"port": 22} if job != "misbehave" else {"mode": "ok"},
        run_id=f"modes-{uuid.uuid4().hex[:6]}",
        payload=payload(group, "rule-x"),
        account=AccountRef(
            provider="aws",
            account_id=sandbox.account_id,
            role_arn=sandbox.role_arn,
            external_id=sandbox.external_id,
        ),
        **fields,
    )


async def test_the_worker_plans_remediates_and_rolls_back(
    worker_env: AwsSandbox, launcher: Launcher
) -> None:
    runner = JobRunner(
        discover(JOBS_DIR), CredentialStore(endpoint_url=worker_env.endpoint), launcher=launcher
    )
    ec2 = worker_env.admin_client("ec2")
    group = worker_env.open_security_group(22, "modes")
    before = rules(ec2, group)

    async def run_job(**fields: Any) -> JobResult:
        request = job_request(worker_env, "security_group_close_port", group, **fields)
        result: JobResult = await ActivityEnvironment().run(runner.run_job, request)
        return result

    planned = await run_job(mode="plan")
    assert planned.mode == "plan" and planned.records == []
    assert planned.changes == [f"{group}: revoked ingress tcp 22-22 from 0.0.0.0/0"]
    assert rules(ec2, group) == before

    fixed = await run_job()
    assert fixed.mode == "remediate" and fixed.changes == planned.changes
    assert fixed.records == [
        {
            "resource": group,
            "kind": "ec2-ingress",
            "before": [
                {"protocol": "tcp", "from": 22, "to": 22, "cidr": OPEN4, "description": None}
            ],
            "after": [],
        }
    ]
    assert rules(ec2, group) == set()

    undone = await run_job(mode="rollback", records=fixed.records)
    assert undone.mode == "rollback" and undone.records == []
    assert undone.changes == [
        f"{group}: authorized ingress tcp 22-22 from 0.0.0.0/0 again (rollback)"
    ]
    assert rules(ec2, group) == before


async def test_the_worker_refuses_a_mode_the_job_does_not_list(
    worker_env: AwsSandbox, launcher: Launcher
) -> None:
    runner = JobRunner(
        discover(JOBCODE), CredentialStore(endpoint_url=worker_env.endpoint), launcher=launcher
    )
    request = job_request(worker_env, "misbehave", "sg-x", mode="plan")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(runner.run_job, request)
    assert raised.value.type == "UnsupportedMode" and raised.value.non_retryable
    assert raised.value.message == (
        "job misbehave does not support the plan mode (its remedy.json lists remediate)"
    )


async def test_the_run_keeps_the_change_records(
    client: Client, start_worker: Any, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker()
    group = aws_sandbox.open_security_group(22, "recorded")
    run_id = await start_remediation(
        client,
        aws_finding(group),
        RemediationSpec(
            steps=[JobStep(job="security_group_close_port", parameters={"port": 22})],
            access=AccountAccess(
                role_arn=aws_sandbox.role_arn, external_id=aws_sandbox.external_id
            ),
        ),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.SUCCEEDED, status.message
    job = next(s for s in status.steps if s.kind == "job")
    assert [(r["resource"], r["kind"]) for r in job.records] == [(group, "ec2-ingress")]
    assert job.records[0]["before"][0]["cidr"] == OPEN4


# ----------------------------------------------------------------------------------------------
# The convention itself: what the kit and the registry refuse
# ----------------------------------------------------------------------------------------------

KIT_JOB = """
from remedy import jobkit


def remediate(finding):
    print("CHANGE: would have changed", finding.object_id)


if __name__ == "__main__":
    jobkit.run(remediate, __file__)
"""


def kit_job(tmp_path: Path, meta: dict[str, Any]) -> Path:
    folder = tmp_path / "src" / "kit_job"
    folder.mkdir(parents=True)
    (folder / "kit_job.py").write_text(KIT_JOB)
    (folder / "remedy.json").write_text(json.dumps({"provider": "aws", **meta}))
    return folder


@pytest.mark.parametrize(
    ("meta", "mode", "code", "error"),
    [
        (
            {},
            "plan",
            2,
            "ERROR: REMEDY_MODE=plan: this job does not support it; nothing was done",
        ),
        (
            {},
            "fix-it",
            2,
            "ERROR: REMEDY_MODE=fix-it: not one of remediate, plan, rollback; nothing was done",
        ),
        (
            {"irreversible": "a deleted certificate cannot be brought back"},
            "rollback",
            1,
            "ERROR: this job's changes cannot be rolled back: a deleted certificate cannot be "
            "brought back",
        ),
    ],
)
def test_the_kit_runs_nothing_in_a_mode_the_job_does_not_support(
    tmp_path: Path, meta: dict[str, Any], mode: str, code: int, error: str
) -> None:
    folder = kit_job(tmp_path, meta)
    env = {"REMEDY_MODE": mode, "AWS_DEFAULT_REGION": "us-east-1"}
    done = run_like_the_worker(folder, tmp_path / "copy", payload("sg-1", "rule-x"), env)
    assert done.returncode == code, done.stderr
    assert "CHANGE:" not in done.stdout  # remediate never ran
    assert done.stderr.strip().splitlines() == [error]


@pytest.mark.parametrize(
    ("meta", "problem"),
    [
        ({"modes": ["plan"]}, "must hold remediate"),
        ({"modes": ["remediate", "undo"]}, "unknown: undo"),
        ({"modes": ["remediate", "verify"]}, "lists verify but verify.py is not beside the job"),
        ({"modes": ["remediate", "rollback"], "irreversible": "x"}, "cannot list the rollback"),
        ({"irreversible": " "}, "irreversible must say why"),
    ],
)
def test_the_registry_refuses_modes_that_do_not_hold(
    tmp_path: Path, meta: dict[str, Any], problem: str
) -> None:
    folder = kit_job(tmp_path, meta)
    registry = discover(folder.parent)
    assert "kit_job" not in registry.jobs
    assert any(problem in e for e in registry.errors), registry.errors


def test_the_registry_lists_a_jobs_modes(tmp_path: Path) -> None:
    reason = "a deleted certificate cannot be brought back"
    folder = kit_job(tmp_path, {"irreversible": reason})
    info = discover(folder.parent).get("kit_job").info()
    assert info.modes == ["remediate"] and info.irreversible == reason
    builtin = discover(JOBS_DIR).get("ec2_close_port_22").info()  # an alias: its job's modes
    assert builtin.modes == ["remediate", "plan", "verify", "rollback"]


# ----------------------------------------------------------------------------------------------
# `remedy jobs run NAME --payload FILE --mode ...`: one job, here, with this shell's credentials
# ----------------------------------------------------------------------------------------------


def remedy_jobs_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", "jobs", "run", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **env},
    )


def test_jobs_run_plans_fixes_verifies_and_rolls_back_one_job_locally(
    aws_sandbox: AwsSandbox, env: dict[str, str], tmp_path: Path
) -> None:
    ec2 = aws_sandbox.admin_client("ec2")
    group = new_group(ec2, port_permissions((20, 25)))
    before = rules(ec2, group)
    finding = tmp_path / "finding.json"
    finding.write_text(json.dumps(payload(group, "rule-x")))
    saved = tmp_path / "records.json"
    name = "security_group_close_port_22"  # an alias: its port comes from the alias

    plan = remedy_jobs_run(env, name, "--payload", str(finding), "--mode", "plan")
    assert plan.returncode == 0, plan.stderr
    assert f"CHANGE: {group}: revoked ingress tcp 20-25 from 0.0.0.0/0" in plan.stdout
    assert "RECORD:" not in plan.stdout and rules(ec2, group) == before

    check = remedy_jobs_run(env, name, "--payload", str(finding), "--mode", "verify")
    assert check.returncode == 3 and "NONCOMPLIANT:" in check.stdout

    fixed = remedy_jobs_run(env, name, "--payload", str(finding), "--records-out", str(saved))
    assert fixed.returncode == 0, fixed.stderr
    assert [r["resource"] for r in json.loads(saved.read_text())] == [group]
    assert rules(ec2, group) != before
    assert remedy_jobs_run(env, name, "--payload", str(finding), "--mode", "verify").returncode == 0

    undone = remedy_jobs_run(
        env, name, "--payload", str(finding), "--mode", "rollback", "--records", str(saved)
    )
    assert undone.returncode == 0, undone.stderr
    assert rules(ec2, group) == before

    refused = remedy_jobs_run(
        env, "misbehave", "--payload", str(finding), "--mode", "plan", "--job-code", str(JOBCODE)
    )
    assert refused.returncode == 2
    assert "job misbehave does not support the plan mode (it lists remediate)" in refused.stderr
