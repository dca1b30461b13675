"""Read a run's status: Temporal's own view of the execution first, then the workflow's query.

The workflow's `status` query and its `RemediationStatus` search attribute say what the workflow
last said; they cannot say what happened to it from outside. So `get_status` (the command line
and the hub read runs through it) asks Temporal first:
- terminated or timed out: the run is `terminated` / `timed_out` whatever the workflow last said
  (its steps as the query answers them, a running step marked as stopped);
- open, but its workflow task keeps failing (a bad deployment, a non-deterministic change): the
  run is `stuck`, with the failure Temporal recorded, instead of a query that never answers;
- open without a worker to answer the query: `running`, saying so, instead of waiting.
Every call is bounded: nothing here waits for the run to end but `wait_for_result`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.service import RPCError, RPCStatusCode

from remedy.batch_status import find_batch, member_status
from remedy.types import RunState, RunStatus, StepState

#: how long a status query may take before the run is described without it
QUERY_TIMEOUT = timedelta(seconds=10)
#: the newest events read to find why a workflow task fails or who terminated a run
_EVENTS_READ = 100

_ENDED_BY_TEMPORAL = {
    WorkflowExecutionStatus.TERMINATED: RunState.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT: RunState.TIMED_OUT,
}


async def get_status(client: Client, run_id: str) -> RunStatus:
    """The run's status as Temporal and the workflow together know it; never waits for the end."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(run_id)
    try:
        described = await handle.describe(rpc_timeout=QUERY_TIMEOUT)
    except RPCError as exc:
        batched = await _batched(client, run_id, exc)
        if batched is not None:
            return batched
        raise
    execution = described.status
    if execution == WorkflowExecutionStatus.RUNNING:
        failing = await _failing_workflow_task(client, described)
        if failing is not None:
            return RunStatus(
                run_id=run_id,
                remediation=await _summary(described),
                state=RunState.STUCK,
                message=failing,
                started_at=described.start_time,
            )
    found = await _query(handle)
    if execution in _ENDED_BY_TEMPORAL:
        return await _ended_by_temporal(client, described, found)
    if found is not None:
        return found
    if execution == WorkflowExecutionStatus.RUNNING:
        return RunStatus(
            run_id=run_id,
            remediation=await _summary(described),
            message="open; no worker of its group answered the status query (is one running?)",
            started_at=described.start_time,
        )
    return await _final(client, run_id, execution)


async def wait_for_result(client: Client, run_id: str) -> RunStatus:
    """Wait for the run to end; return its final status however it ended."""
    handle: WorkflowHandle[Any, RunStatus] = client.get_workflow_handle(
        run_id, result_type=RunStatus
    )
    try:
        return await handle.result()
    except WorkflowFailureError as failure:
        attached = _attached_status(failure)
        if attached is not None:
            return attached
    except RPCError as exc:  # no such workflow: a finding of a batch, its member of the result
        batch_id = (
            await find_batch(client, run_id) if exc.status == RPCStatusCode.NOT_FOUND else None
        )
        found = await member_status(client, batch_id, run_id, wait=True) if batch_id else None
        if found is None:
            raise
        return found
    return await get_status(client, run_id)  # cancelled, terminated, timed out: read it


async def _batched(client: Client, run_id: str, exc: RPCError) -> RunStatus | None:
    """A run id that is no workflow's may be a finding's in a batch (remedy/batch_status.py)."""
    if exc.status != RPCStatusCode.NOT_FOUND:
        return None
    batch_id = await find_batch(client, run_id)
    if batch_id is None:
        return None
    found = await member_status(client, batch_id, run_id)
    return found or RunStatus(
        run_id=run_id,
        remediation="",
        message=f"in batch {batch_id}; no worker of its group answered (is one running?)",
    )


async def _query(handle: WorkflowHandle[Any, Any]) -> RunStatus | None:
    try:
        found: RunStatus = await handle.query(
            "status", result_type=RunStatus, rpc_timeout=QUERY_TIMEOUT
        )
        return found
    except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError):
        return None  # no worker to answer, or its task is failing


async def _final(
    client: Client, run_id: str, execution: WorkflowExecutionStatus | None
) -> RunStatus:
    """What a closed run ended with, read from its result when no worker answers the query."""
    typed: WorkflowHandle[Any, RunStatus] = client.get_workflow_handle(
        run_id, result_type=RunStatus
    )
    try:
        return await typed.result(rpc_timeout=QUERY_TIMEOUT)
    except WorkflowFailureError as failure:
        attached = _attached_status(failure)
        if attached is not None:
            return attached
        cancelled = execution == WorkflowExecutionStatus.CANCELED or isinstance(
            failure.cause, CancelledError
        )
        return RunStatus(
            run_id=run_id,
            remediation="",
            state=RunState.CANCELLED if cancelled else RunState.FAILED,
            message=str(failure.cause),
        )


async def _summary(described: WorkflowExecutionDescription) -> str:
    """The run's one-line summary set at start (remediation, resource, account), if any."""
    try:
        return await described.static_summary() or ""
    except Exception:  # a summary it cannot decode (another key) is no reason to fail the read
        return ""


def _attached_status(failure: WorkflowFailureError) -> RunStatus | None:
    """The status a failed run attached to its failure (RemediationFailed, InvalidInput)."""
    cause = failure.cause
    if isinstance(cause, ApplicationError) and cause.details and isinstance(cause.details[0], dict):
        return RunStatus.model_validate(cause.details[0])
    return None


async def _ended_by_temporal(
    client: Client, described: WorkflowExecutionDescription, found: RunStatus | None
) -> RunStatus:
    """A run Temporal ended (terminate, execution timeout): its state is Temporal's."""
    state = _ENDED_BY_TEMPORAL[described.status]  # type: ignore[index]
    status = found or RunStatus(
        run_id=described.id,
        remediation=await _summary(described),
        started_at=described.start_time,
    )
    last = await _newest_events(client, described)
    how = "terminated in Temporal" if state == RunState.TERMINATED else "timed out in Temporal"
    if last and last[0].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        terminated = last[0].workflow_execution_terminated_event_attributes
        reason = terminated.reason or "no reason given"
        how += f" ({reason}" + (f", by {terminated.identity})" if terminated.identity else ")")
    said = f"; the workflow had said: {status.state}" + (
        f", {status.message}" if status.message else ""
    )
    for step in status.steps:
        if step.state == StepState.RUNNING:
            step.state, step.ended_at = StepState.CANCELLED, described.close_time
            step.message = (
                f"the run was {state.value.replace('_', ' ')} while this step ran; a job still "
                "running was stopped, and what it changed is in the worker's log"
            )
    status.state, status.ended_at, status.current_step = state, described.close_time, None
    status.message = how + ("" if found is None else said)
    return status


async def _failing_workflow_task(
    client: Client, described: WorkflowExecutionDescription
) -> str | None:
    """Why the run's workflow task keeps failing, or None when it does not.

    Temporal retries a failed workflow task forever and records only its first failure; the
    pending task's attempt counts the retries.
    """
    raw = described.raw_description
    if not raw.HasField("pending_workflow_task") or raw.pending_workflow_task.attempt < 2:
        return None
    for event in await _newest_events(client, described):
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            return None  # the last task went through: a retry after a timeout, not a failure
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            error: BaseException | None = await client.data_converter.decode_failure(
                event.workflow_task_failed_event_attributes.failure
            )
            reasons: list[str] = []
            while error is not None and len(reasons) < 4:
                reasons.append(str(error) or type(error).__name__)
                error = error.__cause__
            return (
                f"its workflow task fails and Temporal retries it (attempt "
                f"{raw.pending_workflow_task.attempt}); no step runs until a worker that can run "
                f"it is deployed, or the run is terminated: {': '.join(reasons)}"
            )
    return None


async def _newest_events(
    client: Client, described: WorkflowExecutionDescription
) -> list[HistoryEvent]:
    history = await client.workflow_service.get_workflow_execution_history_reverse(
        GetWorkflowExecutionHistoryReverseRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=described.id, run_id=described.run_id),
            maximum_page_size=_EVENTS_READ,
        ),
        timeout=QUERY_TIMEOUT,
    )
    return list(history.history.events)
