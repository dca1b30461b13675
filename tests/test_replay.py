"""Runs started by the previous workflow code replay with the current one (no non-determinism)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from remedy.batch_starter import start_batches
from remedy.batch_types import BatchStatus
from remedy.starter import start_remediation, wait_for_result
from remedy.types import AccountAccess, JobStep, RemediationSpec, RunState
from sandbox.aws import AwsSandbox
from tests.findings import aws_finding
from workflows.batch import BatchRemediationWorkflow
from workflows.remediation import RemediationWorkflow

HISTORIES = Path(__file__).parent / "histories"


@pytest.mark.parametrize("name", ["succeeded", "failed_job"])
async def test_a_history_recorded_before_the_raw_input_replays(
    name: str,
) -> None:
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    replayer = Replayer(workflows=[RemediationWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def test_a_run_of_the_current_code_replays_on_another_worker(
    client: Client, start_worker: Any, worker_env: AwsSandbox
) -> None:
    """What a worker that takes a run over does: replay its whole history, local activities'
    markers and patch markers included, from the first event."""
    worker = await start_worker()
    group = worker_env.open_security_group(22, "replay")
    spec = RemediationSpec(
        steps=[JobStep(job="security_group_close_port_22")],
        access=AccountAccess(external_id=worker_env.external_id),
    )
    # a grace period: the run's workflow tasks are cut by a timer, as in production
    spec.grace_s = 1
    run_id = await start_remediation(client, aws_finding(group), spec, worker.group_id)
    assert (await wait_for_result(client, run_id)).state == RunState.SUCCEEDED
    history = await client.get_workflow_handle(run_id).fetch_history()
    replayer = Replayer(workflows=[RemediationWorkflow], data_converter=client.data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def test_a_batch_of_the_current_code_replays_on_another_worker(
    client: Client, start_worker: Any, worker_env: AwsSandbox
) -> None:
    worker = await start_worker()
    groups = [worker_env.open_security_group(22, "replay") for _ in range(3)]
    spec = RemediationSpec(
        steps=[JobStep(job="security_group_close_port_22")],
        access=AccountAccess(external_id=worker_env.external_id),
    )
    plan = await start_batches(client, [aws_finding(g) for g in groups], spec, worker.group_id)
    handle = client.get_workflow_handle(plan.batches[0].batch_id, result_type=BatchStatus)
    assert (await handle.result()).state == RunState.SUCCEEDED
    replayer = Replayer(workflows=[BatchRemediationWorkflow], data_converter=client.data_converter)
    result = await replayer.replay_workflow(
        await handle.fetch_history(), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, result.replay_failure
