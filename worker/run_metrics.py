"""Interceptors that count runs and time steps, without a line of metrics in workflow code.

Runs are counted inside the workflow sandbox through `workflow.metric_meter()`, which records
nothing while a history replays: a run is counted once however often a worker replays it. The
counts reach `GET /metrics` through the SDK metrics bridge (worker/sdk_metrics.py). Step
timings are taken around each activity attempt, outside the sandbox, into remedy/metrics.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RawValue
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

with workflow.unsafe.imports_passed_through():
    from remedy.finding import read_finding
    from remedy.metrics import QUEUE_WAIT, STEP_DURATION
    from remedy.types import RunJobInput
    from workflows.run_input import read_input

RUNS_STARTED = "remedy_runs_started"
RUNS_FINISHED = "remedy_runs_finished"
UNKNOWN = "unknown"
REMEDIATION_WORKFLOW = "RemediationWorkflow"


def run_labels(args: Any) -> dict[str, str]:
    """job (a chain's jobs joined by "+"), provider and account of a run, from its raw input;
    "unknown" where the input does not say (it is refused then)."""
    labels = {"job": UNKNOWN, "provider": UNKNOWN, "account": UNKNOWN}
    if not args or not isinstance(args[0], RawValue):
        return labels
    try:
        request = read_input(args[0])
    except Exception:  # a bad input: the run fails at once, counted as unknown
        return labels
    labels["job"] = "+".join(step.job for step in request.spec.steps) or UNKNOWN
    try:
        finding = read_finding(request.payload)
    except Exception:  # an unreadable finding: its run fails at validation
        return labels
    labels.update(provider=str(finding.provider), account=finding.account_id)
    return labels


class _CountRuns(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        # by name: the sandbox runs its own copy of the workflow's class
        if workflow.info().workflow_type != REMEDIATION_WORKFLOW:
            return await super().execute_workflow(input)
        labels = run_labels(input.args)
        meter = workflow.metric_meter()
        meter.create_counter(RUNS_STARTED, "Remediation runs started").add(1, labels)
        finished = meter.create_counter(
            RUNS_FINISHED, "Remediation runs ended, by outcome (the run's final state)"
        )
        try:
            result = await super().execute_workflow(input)
        except asyncio.CancelledError:
            finished.add(1, {**labels, "outcome": "cancelled"})
            raise
        except Exception:
            finished.add(1, {**labels, "outcome": _final_state("failed")})
            raise
        finished.add(1, {**labels, "outcome": _final_state("succeeded")})
        return result


def _final_state(otherwise: str) -> str:
    state = getattr(workflow.instance().status(), "state", None)
    if state is None or state in ("running", "awaiting_approval"):
        return otherwise
    return str(state)


class _TimeSteps(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        scheduled = info.current_attempt_scheduled_time
        if not info.is_local and scheduled is not None:
            wait = (info.started_time - scheduled).total_seconds()
            QUEUE_WAIT.labels(info.activity_type).observe(max(wait, 0.0))
        job = _job_of(input.args)
        started = time.monotonic()
        try:
            return await super().execute_activity(input)
        finally:
            STEP_DURATION.labels(info.activity_type, job).observe(time.monotonic() - started)


def _job_of(args: Any) -> str:
    first = args[0] if args else None
    if isinstance(first, RunJobInput):
        return first.job
    if isinstance(first, Mapping) and isinstance(first.get("job"), str):
        return str(first["job"])
    return ""


class RunMetrics(Interceptor):
    """Pass to the Worker's `interceptors`: runs counted, steps timed, queue waits measured."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TimeSteps(next)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _CountRuns
