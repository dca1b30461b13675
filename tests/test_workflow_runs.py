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
from worker.main import start_launcher

JOBCODE = Path(__file__).parent / "jobcode"


def spec(job: str, sandbox: AwsSandbox, **step: object) -> RemediationSpec:
    return RemediationSpec(
        steps=[JobStep(job=job, **step)],  # type: ignore[arg-type]
        access=AccountAccess(role_arn=sandbox.role_arn, external_id=sandbox.external_id),
    )


def new_group(sandbox: AwsSandbox) -> str:
    ec2 = sandbox.admin_client("ec2")
    return str(
        ec2.create_security_group(GroupName=f"g-{uuid.uuid4().hex[:8]}", Description="t")["GroupId"]
    )


def tags_of(sandbox: AwsSandbox, resource_id: str) -> dict[str, str]:
    found = sandbox.admin_client("ec2").describe_tags(
        Filters=[{"Name": "resource-id", "Values": [resource_id]}]
    )
    return {t["Key"]: t["Value"] for t in found["Tags"]}


async def test_job_runs_with_the_contract_environment_and_the_resource_is_tagged(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    sg = new_group(aws_sandbox)
    payload = aws_finding(sg, old_style=True)
    payload["notificationInfo"]["FindingInfo"]["ExtraVendorField"] = {"kept": True}
    run_id = await start_remediation(
        client, payload, spec("probe_env_22", aws_sandbox), worker.group_id
    )

    status = await wait_for_result(client, run_id)

    assert status.state == RunState.SUCCEEDED, status
    job = status.steps[2]
    assert job.state == StepState.SUCCEEDED and job.exit_code == 0 and job.attempts == 1
    assert job.changes == [f"probed {sg}"]
    env_names = set(
        next(ln for ln in job.log_tail.splitlines() if ln.startswith("env:"))[5:].split(",")
    )
    assert {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
    } <= env_names
    assert not {n for n in env_names if n.startswith(("VSS_", "TEMPORAL_", "AZURE_", "PYTEST"))}
    assert "assumed-role/remedy-remediation/remedy-" in job.log_tail  # the job acts as the role
    assert '"port": 22' in job.log_tail  # the alias's parameter reached the job
    assert "accountIds: 123456789012 123456789012" in job.log_tail  # both spellings completed
    chain = json.loads(next(ln for ln in job.log_tail.splitlines() if ln.startswith("chain:"))[7:])
    assert chain["cloudAccountId"] == "123456789012"
    tags = tags_of(aws_sandbox, sg)
    assert tags["remediated-by"] == "remedy" and tags["remediation-run-id"] == run_id
    assert "remediated-at" in tags
    assert status.steps[-1].state == StepState.SUCCEEDED
    # the status query still answers after the run
    assert (await get_status(client, run_id)).state == RunState.SUCCEEDED


# ------------------------------------------------------------------------------------------------
# Failure paths: each asserts the final status and a clear message.
# ------------------------------------------------------------------------------------------------

import asyncio  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402

import pytest  # noqa: E402

from remedy.finding import PayloadError  # noqa: E402
from remedy.types import RemediationInput  # noqa: E402

FAST_RETRY = RetrySettings(max_attempts=2, initial_interval_s=0.2, backoff=1.0)


async def test_malformed_payload_is_refused_before_anything_starts(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    payload = aws_finding("sg-123")
    del payload["notificationInfo"]["FindingInfo"]["ObjectId"]
    with pytest.raises(PayloadError, match=r"notificationInfo\.FindingInfo\.ObjectId: is missing"):
        await start_remediation(client, payload, spec("probe_env", aws_sandbox), worker.group_id)
    listed = [w async for w in client.list_workflows(f"TaskQueue = 'remedy-{worker.group_id}'")]
    assert listed == []


async def test_malformed_payload_reaching_the_workflow_fails_it_without_retry(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    payload = aws_finding("sg-123")
    payload["notificationInfo"]["FindingInfo"]["ObjectChain"] = "{not json"
    handle = await client.start_workflow(
        "RemediationWorkflow",
        RemediationInput(payload=payload, spec=spec("probe_env", aws_sandbox)),
        id=f"bad-{uuid.uuid4().hex}",
        task_queue=f"remedy-{worker.group_id}",
    )
    status = await wait_for_result(client, handle.id)
    assert status.state == RunState.FAILED
    assert "ObjectChain: is not a JSON document" in status.message
    assert status.steps[0].state == StepState.FAILED and status.steps[0].attempts == 1
    assert all(s.state == StepState.SKIPPED for s in status.steps[1:])


async def test_unknown_job_fails_and_names_the_jobs_there_are(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    run_id = await start_remediation(
        client, aws_finding("sg-1"), spec("no_such_job", aws_sandbox), worker.group_id
    )
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.FAILED
    assert "unknown job 'no_such_job'" in status.message and "probe_env" in status.message


async def test_failing_job_is_retried_then_fails_with_its_log(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    run_id = await start_remediation(
        client,
        aws_finding(new_group(aws_sandbox)),
        spec("fail_job", aws_sandbox, retry=FAST_RETRY),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)
    job = status.steps[2]
    assert status.state == RunState.FAILED
    assert job.state == StepState.FAILED and job.exit_code == 1 and job.attempts == 2
    assert "exited with code 1: ERROR: the thing could not be fixed" in status.message
    assert "working on it" in job.log_tail
    assert status.steps[3].state == StepState.SKIPPED  # nothing tagged after a failed fix


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is not alive
        return stat.read().split()[2] != "Z"


async def test_hanging_job_times_out_and_its_whole_process_group_is_killed(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    await start_launcher(worker.parts.runner.launcher)  # as `remedy worker` does before polling
    run_id = await start_remediation(
        client,
        aws_finding(new_group(aws_sandbox)),
        # long enough for the first heartbeat to reach the server on a loaded machine
        spec("hang_job", aws_sandbox, timeout_s=6, retry=RetrySettings(max_attempts=1)),
        worker.group_id,
    )
    for _ in range(100):  # the query answers during the run (its first steps may be slow)
        running = await get_status(client, run_id)
        if running.current_step == "job hang_job":
            break
        await asyncio.sleep(0.1)
    assert running.state == RunState.RUNNING and running.current_step == "job hang_job"
    assert running.steps[2].state == StepState.RUNNING
    for _ in range(40):  # the job step heartbeats, so a lost worker is noticed fast
        described = await client.get_workflow_handle(run_id).describe()
        pending = described.raw_description.pending_activities
        if pending and pending[0].HasField("last_heartbeat_time"):
            break
        await asyncio.sleep(0.1)
    assert pending and pending[0].HasField("last_heartbeat_time")

    status = await wait_for_result(client, run_id)
    assert status.state == RunState.FAILED
    assert "did not finish within 6 s" in status.message
    pids = [int(p) for p in re.search(r"pids: (\d+) (\d+)", status.steps[2].log_tail).groups()]  # type: ignore[union-attr]
    await asyncio.sleep(0.5)
    assert not any(_alive(pid) for pid in pids), "the job or its grandchild outlived the timeout"


async def test_denied_assume_role_is_not_retried_and_names_the_role(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    other_role = "arn:aws:iam::123456789012:role/not-for-remedy"
    finding_role_only = RemediationSpec(
        steps=[JobStep(job="probe_env")], access=AccountAccess(external_id=aws_sandbox.external_id)
    )
    run_id = await start_remediation(
        client, aws_finding("sg-1", role_arn=other_role), finding_role_only, worker.group_id
    )
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.FAILED, status
    assert status.steps[1].state == StepState.FAILED and status.steps[1].attempts == 1
    assert f"AssumeRole on {other_role} was refused (AccessDenied)" in status.message
    assert "trust policy" in status.message and "external id" in status.message
    assert status.steps[2].state == StepState.SKIPPED


async def test_untaggable_resource_is_skipped_and_the_run_succeeds(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    run_id = await start_remediation(
        client, aws_finding("db-instance-7"), spec("leak_secret", aws_sandbox), worker.group_id
    )
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.SUCCEEDED
    assert status.steps[-1].state == StepState.SKIPPED
    assert (
        "db-instance-7 (unknown type) cannot be tagged by Remedy; tagging skipped"
        in status.steps[-1].message
    )


async def test_no_credential_reaches_history_or_logs(
    client: Client,
    start_worker,
    aws_sandbox: AwsSandbox,
    captured_logs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REMEDY_TEST_WORKER_SECRET", "worker-only-secret-value")
    worker = await start_worker(JOBCODE)
    run_id = await start_remediation(
        client,
        aws_finding(new_group(aws_sandbox)),
        spec("leak_secret", aws_sandbox),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.SUCCEEDED
    tail = status.steps[2].log_tail
    assert "secret: ***" in tail and "token: ***" in tail  # the job printed them: redacted
    assert "worker secret visible: no" in tail  # the worker's environment never reaches a job

    history = (await client.get_workflow_handle(run_id).fetch_history()).to_json()
    cached = list(worker.parts.credentials._cache.values())
    assert cached, "the run's credentials were cached in the worker"
    secrets = [*aws_sandbox.secrets(), *(s for c in cached for s in c.secrets())]
    for secret in secrets:
        assert secret not in history
        assert secret not in captured_logs.text()
    assert "job finished" in captured_logs.text()


async def test_same_finding_submitted_twice_is_one_run(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    payload = aws_finding(new_group(aws_sandbox))
    the_spec = spec("hang_job", aws_sandbox, timeout_s=2, retry=RetrySettings(max_attempts=1))
    first, second = await asyncio.gather(
        start_remediation(client, payload, the_spec, worker.group_id),
        start_remediation(client, payload, the_spec, worker.group_id),
    )
    third = await start_remediation(client, payload, the_spec, worker.group_id)
    assert first == second == third
    await wait_for_result(client, first)
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{first}'")]
    assert len(runs) == 1


async def test_a_chain_stops_at_the_first_failure(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    chain = RemediationSpec(
        steps=[
            JobStep(job="probe_env"),
            JobStep(job="fail_job", retry=RetrySettings(max_attempts=1)),
            JobStep(job="probe_env_22"),
        ],
        access=AccountAccess(external_id=aws_sandbox.external_id),
    )
    run_id = await start_remediation(
        client, aws_finding(new_group(aws_sandbox)), chain, worker.group_id
    )
    status = await wait_for_result(client, run_id)
    assert [s.state for s in status.steps] == [
        StepState.SUCCEEDED,
        StepState.SUCCEEDED,
        StepState.SUCCEEDED,
        StepState.FAILED,
        StepState.SKIPPED,
        StepState.SKIPPED,
    ]
    assert status.remediation == "probe_env+fail_job+probe_env_22"


async def test_runs_are_searchable_by_their_custom_search_attributes(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    rule = f"rule-{uuid.uuid4().hex[:8]}"
    payload = aws_finding(new_group(aws_sandbox), rule_id=rule)
    run_id = await start_remediation(
        client, payload, spec("probe_env", aws_sandbox), worker.group_id
    )
    await wait_for_result(client, run_id)
    finding_id = payload["notificationInfo"]["FindingInfo"]["FindingId"]
    query = (
        f"RuleID = '{rule}' AND FindingId = '{finding_id}' AND Job = 'probe_env' AND "
        "Provider = 'aws' AND CloudAccount = '123456789012' AND RemediationStatus = 'succeeded'"
    )
    for _ in range(50):  # visibility is eventually consistent
        found = [w.id async for w in client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.2)
    assert found == [run_id]


async def test_a_job_that_logs_errors_but_exits_0_is_not_reported_as_plain_success(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    payload = aws_finding(new_group(aws_sandbox))
    run_id = await start_remediation(
        client, payload, spec("quiet_failure", aws_sandbox), worker.group_id
    )
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.SUCCEEDED_WITH_ERRORS
    assert status.message.startswith(
        "succeeded with errors: job quiet_failure exited 0 but logged 1"
    )
    assert status.steps[2].errors_logged == 1 and status.steps[2].exit_code == 0
    query = f"WorkflowId = '{run_id}' AND RemediationStatus = 'succeeded_with_errors'"
    for _ in range(50):
        if [w async for w in client.list_workflows(query)]:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the run is not searchable as succeeded_with_errors")


async def test_a_resource_named_by_arn_is_tagged_through_the_tagging_api(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    worker = await start_worker(JOBCODE)
    topic = aws_sandbox.admin_client("sns").create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")[
        "TopicArn"
    ]
    run_id = await start_remediation(
        client, aws_finding(topic), spec("leak_secret", aws_sandbox), worker.group_id
    )
    status = await wait_for_result(client, run_id)
    assert status.steps[-1].state == StepState.SUCCEEDED, status.steps[-1].message
    found = aws_sandbox.admin_client("sns").list_tags_for_resource(ResourceArn=topic)["Tags"]
    tags = {t["Key"]: t["Value"] for t in found}
    assert tags["remediation-run-id"] == run_id and tags["remediated-by"] == "remedy"
