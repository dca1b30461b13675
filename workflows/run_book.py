"""The run's status book: what the `status` query answers, kept step by step (deterministic).

RemediationWorkflow keeps its status through these methods: a step begins, ends, fails (the
steps after it are skipped) or is cancelled with the run; the run finishes with a state, which
the `RemediationStatus` search attribute repeats.
"""

from __future__ import annotations

import asyncio
from typing import NoReturn

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

from workflows.run_input import refused_status

with workflow.unsafe.imports_passed_through():
    from remedy import search_attributes as sa
    from remedy.types import RemediationInput, RunState, RunStatus, StepState, StepStatus


class StepFailed(Exception):
    """A step failed: the run fails with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RunBook:
    def __init__(self) -> None:
        self._status = RunStatus(run_id="", remediation="")

    def _step(self, kind: str) -> StepStatus:
        return next(s for s in self._status.steps if s.kind == kind)

    def _begin(self, step: StepStatus) -> StepStatus:
        step.state, step.started_at = StepState.RUNNING, workflow.now()
        step.attempts = max(step.attempts, 1)
        self._status.current_step = step.name
        return step

    def _end(self, step: StepStatus, state: StepState, message: str) -> None:
        step.state, step.ended_at, step.message = state, workflow.now(), message

    def _fail(self, step: StepStatus, reason: str) -> StepFailed:
        self._end(step, StepState.FAILED, reason)
        for later in self._status.steps:
            if later.state == StepState.PENDING and later.kind not in ("notify", "write_back"):
                later.state = StepState.SKIPPED
        return StepFailed(f"{step.name} failed: {reason}")

    def _cancelled_meanwhile(self) -> bool:
        return workflow.cancellation_reason() is not None

    def _cancel_requested(self, error: BaseException) -> bool:
        cause = error.cause if isinstance(error, ActivityError) else error
        return workflow.cancellation_reason() is not None or (
            cause is not None and is_cancelled_exception(cause)
        )

    def _raise_if_cancelled(self, step: StepStatus, error: BaseException) -> None:
        """A step ended by the run's cancel: it is `cancelled`, and so is the run."""
        if not self._cancel_requested(error):
            return
        kept = f"; it made {len(step.changes)} change(s) before it stopped" if step.changes else ""
        self._end(step, StepState.CANCELLED, f"cancelled while it ran{kept}")
        raise asyncio.CancelledError()

    def _refuse(self, why: str, search_attributes: bool) -> NoReturn:
        """End a run whose input cannot be run: failed, the query and the search attribute say so."""
        self._status = refused_status(workflow.info().workflow_id, why, workflow.now())
        if search_attributes:
            workflow.upsert_search_attributes(
                [sa.REMEDIATION_STATUS.value_set(RunState.FAILED.value)]
            )
        raise ApplicationError(
            self._status.message,
            self._status.model_dump(mode="json"),
            type="InvalidInput",
            non_retryable=True,
        )

    def _finish(self, state: RunState, message: str, request: RemediationInput) -> None:
        status = self._status
        status.state, status.message, status.ended_at = state, message, workflow.now()
        status.current_step = None
        if request.search_attributes:
            workflow.upsert_search_attributes([sa.REMEDIATION_STATUS.value_set(state.value)])
