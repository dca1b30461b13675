"""A job that can check its own fix (`verify.py`) is checked after it runs; a false success fails."""

from __future__ import annotations

import uuid
from pathlib import Path

from temporalio.client import Client

from remedy.starter import start_remediation, wait_for_result
from remedy.types import AccountAccess, JobStep, RemediationSpec, RetrySettings, RunState, StepState
from sandbox.aws import AwsSandbox
from tests.findings import aws_finding

JOBCODE = Path(__file__).parent / "jobcode"


def spec(sandbox: AwsSandbox, *steps: JobStep) -> RemediationSpec:
    return RemediationSpec(
        steps=list(steps),
        access=AccountAccess(role_arn=sandbox.role_arn, external_id=sandbox.external_id),
    )


def open_on_22(sandbox: AwsSandbox, group: str) -> bool:
    found = sandbox.admin_client("ec2").describe_security_groups(GroupIds=[group])
    return any(
        p.get("FromPort") == 22 and any(r["CidrIp"] == "0.0.0.0/0" for r in p["IpRanges"])
        for p in found["SecurityGroups"][0]["IpPermissions"]
    )


async def test_a_job_that_claims_a_fix_it_did_not_make_fails_its_verification(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    group = aws_sandbox.open_security_group(22, "liar")
    retry = RetrySettings(max_attempts=2, initial_interval_s=0.2)
    run_id = await start_remediation(
        client,
        aws_finding(group),
        spec(aws_sandbox, JobStep(job="claims_closed_22", retry=retry)),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)
    names = [s.name for s in status.steps]
    assert names == [
        "validate",
        "assume role",
        "job claims_closed_22",
        "verify claims_closed_22",
        "tag resource",
    ]
    job, verify, tag = status.steps[2], status.steps[3], status.steps[4]
    assert open_on_22(aws_sandbox, group)  # the job lied
    assert job.state == StepState.SUCCEEDED and job.changes  # it said it changed something
    assert status.state == RunState.FAILED
    assert verify.state == StepState.FAILED and verify.exit_code == 3
    assert verify.attempts == 2  # checked again in case the cloud was slow to show the change
    assert "claims_closed_22 did not fix the resource, it is still non-compliant" in status.message
    assert f"{group} allows tcp 22-22 from 0.0.0.0/0" in status.message
    assert tag.state == StepState.SKIPPED  # nothing tagged as remediated


async def test_a_built_in_job_is_verified_after_its_fix(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker()
    group = aws_sandbox.open_security_group(22, "verified")
    run_id = await start_remediation(
        client,
        aws_finding(group),
        spec(aws_sandbox, JobStep(job="security_group_close_port", parameters={"port": 22})),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)
    verify = next(s for s in status.steps if s.kind == "verify")
    assert status.state == RunState.SUCCEEDED, status.message
    assert not open_on_22(aws_sandbox, group)
    assert verify.name == "verify security_group_close_port"
    assert verify.state == StepState.SUCCEEDED and verify.message.startswith(
        "the resource complies"
    )
    assert f"COMPLIANT: {group} lets no internet source reach tcp/22" in verify.log_tail
    assert verify.changes == []  # a check changes nothing


async def test_a_job_without_verify_py_runs_as_before(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    group = aws_sandbox.open_security_group(22, "plain")
    run_id = await start_remediation(
        client,
        aws_finding(group),
        spec(aws_sandbox, JobStep(job="slow_close_22", parameters={"seconds": 0})),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.SUCCEEDED
    assert [s.kind for s in status.steps] == ["validate", "assume_role", "job", "tag"]


async def test_the_s3_job_is_verified_after_its_fix(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker()
    s3 = aws_sandbox.admin_client("s3")
    bucket = f"verify-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    run_id = await start_remediation(
        client,
        aws_finding(bucket, rule_id="5c8c26507a550e1fb6560c57"),
        spec(aws_sandbox, JobStep(job="s3_remove_public_access")),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)
    verify = next(s for s in status.steps if s.kind == "verify")
    assert status.state == RunState.SUCCEEDED, status.message
    assert verify.state == StepState.SUCCEEDED, verify
    assert f"COMPLIANT: {bucket} blocks public access and its ACL grants nothing public" in (
        verify.log_tail
    )
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert not [g for g in grants if "AllUsers" in g["Grantee"].get("URI", "")]


async def test_a_step_can_turn_verification_off(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    group = aws_sandbox.open_security_group(22, "unverified")
    run_id = await start_remediation(
        client,
        aws_finding(group),
        spec(aws_sandbox, JobStep(job="claims_closed_22", verify=False)),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)
    assert [s.kind for s in status.steps] == ["validate", "assume_role", "job", "tag"]
    assert status.state == RunState.SUCCEEDED  # the claim is taken on trust, as asked
    assert open_on_22(aws_sandbox, group)


async def test_a_silent_vss_job_is_not_called_already_compliant(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    """A drop-in VSS job fixes its resource without a CHANGE: line; its silence proves nothing."""
    worker = await start_worker(JOBCODE)
    group = aws_sandbox.open_security_group(22, "vss")
    run_id = await start_remediation(
        client,
        aws_finding(group),
        spec(aws_sandbox, JobStep(job="vss_silent_close_22")),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)
    job = next(s for s in status.steps if s.kind == "job")
    assert status.state == RunState.SUCCEEDED, status.message
    assert not open_on_22(aws_sandbox, group)  # it did fix the resource
    assert job.changes == []  # and said nothing about it
    assert "already compliant" not in status.message
    assert status.message.startswith("job exited 0; it reports no changes")
    assert "it reports no changes" in job.message and "no change needed" not in job.message


async def test_a_built_in_job_with_nothing_to_fix_says_already_compliant(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker()
    group = aws_sandbox.open_security_group(80, "compliant")  # nothing open on tcp/22
    run_id = await start_remediation(
        client,
        aws_finding(group),
        spec(aws_sandbox, JobStep(job="security_group_close_port", parameters={"port": 22})),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)
    job = next(s for s in status.steps if s.kind == "job")
    assert status.state == RunState.SUCCEEDED, status.message
    assert status.message == "already compliant: no change made"
    assert "no change needed" in job.message
