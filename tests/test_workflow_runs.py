"""A finding becomes a workflow, a job process, a changed and tagged resource on the emulator."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from temporalio.client import Client

from remedy.starter import get_status, start_remediation, wait_for_result
from remedy.types import AccountAccess, JobStep, RemediationSpec, RetrySettings, RunState, StepState
from sandbox.aws import AwsSandbox
from tests.findings import aws_finding

JOBCODE = Path(__file__).parent / "jobcode"


def spec(job: str, sandbox: AwsSandbox, **step: object) -> RemediationSpec:
    return RemediationSpec(steps=[JobStep(job=job, **step)],  # type: ignore[arg-type]
                           access=AccountAccess(role_arn=sandbox.role_arn, external_id=sandbox.external_id))


def new_group(sandbox: AwsSandbox) -> str:
    ec2 = sandbox.admin_client("ec2")
    return str(ec2.create_security_group(GroupName=f"g-{uuid.uuid4().hex[:8]}", Description="t")["GroupId"])


def tags_of(sandbox: AwsSandbox, resource_id: str) -> dict[str, str]:
    found = sandbox.admin_client("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])
    return {t["Key"]: t["Value"] for t in found["Tags"]}


async def test_job_runs_with_the_contract_environment_and_the_resource_is_tagged(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    sg = new_group(aws_sandbox)
    payload = aws_finding(sg, old_style=True)
    payload["notificationInfo"]["FindingInfo"]["ExtraVendorField"] = {"kept": True}
    run_id = await start_remediation(client, payload, spec("probe_env_22", aws_sandbox), worker.group_id)

    status = await wait_for_result(client, run_id)

    assert status.state == RunState.SUCCEEDED, status
    job = status.steps[2]
    assert job.state == StepState.SUCCEEDED and job.exit_code == 0 and job.attempts == 1
    assert job.changes == [f"probed {sg}"]
    env_names = set(next(l for l in job.log_tail.splitlines() if l.startswith("env:"))[5:].split(","))
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL"} <= env_names
    assert not {n for n in env_names if n.startswith(("VSS_", "TEMPORAL_", "AZURE_", "PYTEST"))}
    assert "assumed-role/remedy-remediation/remedy-" in job.log_tail  # the job acts as the role
    assert f'"port": 22' in job.log_tail  # the alias's parameter reached the job
    assert "accountIds: 123456789012 123456789012" in job.log_tail  # both spellings completed
    chain = json.loads(next(l for l in job.log_tail.splitlines() if l.startswith("chain:"))[7:])
    assert chain["cloudAccountId"] == "123456789012"
    tags = tags_of(aws_sandbox, sg)
    assert tags["remediated-by"] == "remedy" and tags["remediation-run-id"] == run_id
    assert "remediated-at" in tags
    assert status.steps[-1].state == StepState.SUCCEEDED
    # the status query still answers after the run
    assert (await get_status(client, run_id)).state == RunState.SUCCEEDED
