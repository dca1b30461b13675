"""The write-back step: after notify, the run's outcome goes back to its Security Hub finding.

As AWS's Automated Security Response does: a fixed finding is set RESOLVED with a note naming
the run; one that was not fixed but has a ticket filed is set NOTIFIED; otherwise only a note
says what happened. Only for runs whose action asks for it and whose finding came from Security
Hub (the hub sets `spec.write_back`). Like notify, it never changes the run's verdict. The
activity signs with the run's assumed credentials in the worker; none enter the history.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.retry_policies import INFRA_RETRY
from workflows.retry_policies import why as _why
from workflows.run_book import RunBook

with workflow.unsafe.imports_passed_through():
    from remedy.types import (
        AccountRef,
        RemediationInput,
        RunState,
        StepState,
        StepStatus,
        WriteBackInput,
        WriteBackResult,
    )

#: BatchUpdateFindings takes a note of at most 512 characters
#: (https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_NoteUpdate.html)
NOTE_MAX = 512
FIXED = (RunState.SUCCEEDED, RunState.SUCCEEDED_WITH_ERRORS)


def write_back_step(request: RemediationInput) -> list[StepStatus]:
    """The step the status lists, when the run writes back."""
    wanted = request.spec.write_back is not None and request.spec.mode != "plan"
    return [StepStatus(name="write back", kind="write_back")] if wanted else []


class WriteBack(RunBook):
    def __init__(self) -> None:
        super().__init__()
        #: the validated finding's account (None until validated: nothing to write back with)
        self._account: AccountRef | None = None
        #: the ticket the notification filed, if any
        self._ticket: str | None = None

    def _outcome(self) -> tuple[Literal["RESOLVED", "NOTIFIED"] | None, str]:
        """Workflow.Status to set and the note, from the run as it ended."""
        status = self._status
        state = status.state.value if status.state else "ended"
        if status.state in FIXED:
            return "RESOLVED", f"Remediated by Remedy run {status.run_id}: {status.message}"
        note = f"Remedy run {status.run_id} {state}: {status.message}"
        if self._ticket:
            return "NOTIFIED", f"{note} (ticket {self._ticket})"
        return None, note

    async def _write_back(self, request: RemediationInput) -> None:
        target = request.spec.write_back
        if target is None or request.spec.mode == "plan":  # a plan changes no finding either
            return
        step = self._begin(self._step("write_back"))
        if self._account is None:
            self._end(step, StepState.SKIPPED, "the finding was not validated: nothing written")
            self._status.current_step = None
            return
        workflow_status, note = self._outcome()
        try:
            result = await workflow.execute_activity(
                "write_back_finding",
                WriteBackInput(
                    account=self._account,
                    run_id=self._status.run_id,
                    finding=target,
                    workflow_status=workflow_status,
                    note=note[:NOTE_MAX],
                ),
                result_type=WriteBackResult,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=INFRA_RETRY,
            )
        except ActivityError as error:
            message = f"the Security Hub finding was not updated: {_why(error)[0]}"
            self._end(step, StepState.FAILED, message)
            self._status.current_step = None
            return
        self._end(
            step, StepState.SUCCEEDED if result.updated else StepState.SKIPPED, result.message
        )
        self._status.current_step = None
