"""Start remediations and read their status: the API the CLI and the hub build on."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from remedy import search_attributes as sa
from remedy.aws_ids import check_access
from remedy.batch_status import find_batch
from remedy.batch_types import BatchInput
from remedy.finding import read_finding
from remedy.run_status import get_status as get_status  # the API reads runs from here
from remedy.run_status import wait_for_result as wait_for_result
from remedy.temporal import task_queue_for
from remedy.types import (
    OPEN_STATES,
    Decision,
    RemediationInput,
    RemediationSpec,
    RunState,
    RunStatus,
)


def workflow_id_for(finding_id: str, remediation: str) -> str:
    """Same (finding, remediation) → same id, so a finding submitted twice while open is one run."""
    digest = hashlib.sha256(f"{remediation}\0{finding_id}".encode()).hexdigest()[:20]
    slug = re.sub(r"[^A-Za-z0-9_.+-]", "-", remediation)[:60]
    return f"remedy-{slug}-{digest}"


def run_id_for(finding_id: str, remediation: str, mode: str = "remediate", of: str = "") -> str:
    """The run's workflow id: a remediation's (`workflow_id_for`), its plan's (its own id, beside
    the remediation's), or the rollback's of run `of` (one rollback per run at a time)."""
    if mode == "rollback":
        return f"remedy-rollback-{hashlib.sha256(of.encode()).hexdigest()[:20]}"
    run_id = workflow_id_for(finding_id, remediation)
    return run_id.replace("remedy-", "remedy-plan-", 1) if mode == "plan" else run_id


async def start_remediation(
    client: Client,
    payload: dict[str, Any],
    spec: RemediationSpec,
    group_id: str,
    *,
    search_attributes: bool = True,
) -> str:
    """Read the finding (the finding contract), start (or join) its run, return the run id.

    Raises PayloadError before anything is started when the finding is malformed. The payload
    goes to the workflow as it came: its validate activity checks it against the jobs to run
    (their requirements and parameters, on the worker that has them) and completes it.
    """
    check_access(spec.access.role_arn, spec.access.external_id)  # AwsIdError: nothing started
    finding = read_finding(payload, role_arn=spec.access.role_arn, for_run=True)
    what = spec.display_name()
    run_id = run_id_for(finding.finding_id, what, spec.mode, spec.rollback_of or "")
    if spec.mode == "plan":  # its own run, beside (never joining) a remediation of the finding
        what = f"plan of {what}"
    elif spec.mode == "rollback":
        what = f"rollback of {spec.rollback_of}"
    await client.start_workflow(
        "RemediationWorkflow",
        RemediationInput(payload=payload, spec=spec, search_attributes=search_attributes),
        id=run_id,
        task_queue=task_queue_for(group_id),
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # set at start, so the workflow need not upsert them (one write less per run)
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.FINDING_ID, finding.finding_id),
                SearchAttributePair(sa.RULE_ID, finding.rule_id or ""),
                SearchAttributePair(sa.JOB, [step.job for step in spec.steps]),
                SearchAttributePair(sa.CLOUD_ACCOUNT, finding.account_id),
                SearchAttributePair(sa.PROVIDER, finding.provider),
                SearchAttributePair(sa.REMEDIATION_STATUS, RunState.RUNNING.value),
            ]
        )
        if search_attributes
        else None,
        static_summary=f"{what} on {finding.object_id} ({finding.provider} {finding.account_id})",
    )
    return run_id


class CannotRollBack(ValueError):
    """A run that cannot be rolled back, and why."""


async def start_rollback(client: Client, run_id: str, *, search_attributes: bool = True) -> str:
    """Start the rollback of a finished run: its jobs' rollback modes, in reverse order, each
    with the change records its step kept, on the run's own task queue; return its run id.

    Raises CannotRollBack when the run is open, is itself a plan or a rollback, or changed nothing.
    Each job's rollback refuses (and the rollback run fails, naming what changed) when the
    resource is no longer as the run left it.
    """
    status = await get_status(client, run_id)
    if status.state in OPEN_STATES:
        raise CannotRollBack(f"run {run_id} is still {status.state}: wait for it, or cancel it")
    if status.mode != "remediate":
        raise CannotRollBack(f"run {run_id} is a {status.mode} run: only a remediation rolls back")
    original, task_queue = await _started_with(client, run_id)
    job_steps = [step for step in status.steps if step.kind == "job"]
    if not any(step.records for step in job_steps):
        raise CannotRollBack(f"run {run_id} recorded no change: there is nothing to roll back")
    steps = [
        spec_step.model_copy(
            update={"records": list(step.records), "undoes": list(step.changes), "verify": False}
        )
        for spec_step, step in zip(original.spec.steps, job_steps, strict=False)
    ]
    spec = original.spec.model_copy(
        update={
            "mode": "rollback",
            "rollback_of": run_id,
            "steps": list(reversed(steps)),
            "write_back": None,
        }
    )
    group = task_queue.removeprefix("remedy-")
    return await start_remediation(
        client, original.payload, spec, group, search_attributes=search_attributes
    )


async def _start_input(client: Client, workflow_id: str) -> tuple[Any, str] | None:
    """The workflow's input (decoded, untyped) and task queue; None when it has none."""
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        started = event.workflow_execution_started_event_attributes
        if not started.input.payloads:
            return None
        raw = (await client.data_converter.decode(list(started.input.payloads)))[0]
        return raw, started.task_queue.name
    return None


async def _started_with(client: Client, run_id: str) -> tuple[RemediationInput, str]:
    """What the run was started with, and its task queue: its own workflow's input, or for a
    finding remediated in a batch (its run id is no workflow's), its batch's spec with its own
    payload."""
    try:
        found = await _start_input(client, run_id)
        if found is None:
            raise CannotRollBack(f"run {run_id} has no input to roll back from")
        return RemediationInput.model_validate(found[0]), found[1]
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        batch_id = await find_batch(client, run_id)
        if batch_id is None:
            raise
    found = await _start_input(client, batch_id)
    batch = BatchInput.model_validate(found[0]) if found else None
    member = next((m for m in batch.members if m.run_id == run_id), None) if batch else None
    if batch is None or member is None or found is None:
        raise CannotRollBack(f"run {run_id} is not in the input of its batch {batch_id}")
    return RemediationInput(payload=member.payload, spec=batch.spec), found[1]


class DecisionRefused(ValueError):
    """An approval or rejection the run refused (not waiting, a role that may not decide, the
    requester approving their own run), with the run's reason."""


async def decide(client: Client, run_id: str, decision: Decision) -> str:
    """Approve or reject the plan a run waits on (the `decide` update); "approved"/"rejected"."""
    from temporalio.client import (
        WorkflowUpdateFailedError,
        WorkflowUpdateRPCTimeoutOrCancelledError,
    )
    from temporalio.service import RPCError

    try:
        answer: str = await client.get_workflow_handle(run_id).execute_update(
            "decide", decision, result_type=str
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        raise DecisionRefused(str(getattr(cause, "message", cause) or exc)) from None
    except RPCError as exc:
        raise DecisionRefused(f"run {run_id} is not waiting for approval: {exc.message}") from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:  # no worker took it in time, or cancelled
        raise TimeoutError(f"run {run_id}: no answer to the decision in time") from None
    return answer


async def pending_approvals(client: Client) -> list[RunStatus]:
    """The runs waiting for a decision, each with its plan (the search attribute finds them)."""
    query = f"{sa.REMEDIATION_STATUS.name} = '{RunState.AWAITING_APPROVAL.value}'"
    found = []
    async for execution in client.list_workflows(query):
        status = await get_status(client, execution.id)
        if status.state == RunState.AWAITING_APPROVAL:  # not decided meanwhile
            found.append(status)
    return found
