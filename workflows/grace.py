"""The grace period of a run (deterministic): wait before changing anything, unless resolved.

A spec with `grace_s` makes the run wait that long, durably, after assuming the role and before
any approval or job; its notification settings get a notice first (the Jira issue says when the
run will act and how to stop it). A `resolve` signal meanwhile (the hub sends it when the finding's source
resolves it, e.g. a PASSED Security Hub finding; a person can with `temporal workflow signal`)
ends the run `skipped` with the reason; nothing changed. A resource a person fixed meanwhile
needs no signal: the jobs find it compliant and change nothing.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.write_back import WriteBack

with workflow.unsafe.imports_passed_through():
    from remedy.types import RemediationInput, StepState, StepStatus


def grace_step(request: RemediationInput) -> list[StepStatus]:
    """The grace step the status lists, when the spec gives a grace period."""
    if request.spec.grace_s > 0 and request.spec.mode == "remediate":
        return [StepStatus(name="grace period", kind="grace")]
    return []


class Grace(WriteBack):
    def __init__(self) -> None:
        super().__init__()
        self._resolved: str | None = None

    @workflow.signal
    def resolve(self, reason: str) -> None:
        """The finding was resolved at its source: a run still in its grace period skips."""
        if self._resolved is None:
            self._resolved = reason or "resolved"

    async def _grace(self, request: RemediationInput) -> str | None:
        """Wait out the grace period; the reason when the finding was resolved meanwhile."""
        if not grace_step(request):
            return None
        step = self._begin(self._step("grace"))
        until = workflow.now() + timedelta(seconds=request.spec.grace_s)
        step.message = (
            f"nothing changes before {until.strftime('%Y-%m-%d %H:%M:%SZ')}; "
            "a resolved finding ends the run before then"
        )
        await self._notice(request, "grace")  # the ticket says when it will act, and how to stop it
        try:
            await workflow.wait_condition(
                lambda: self._resolved is not None,
                timeout=max(until - workflow.now(), timedelta(seconds=1)),
            )
        except TimeoutError:
            self._end(step, StepState.SUCCEEDED, "the grace period passed: remediating")
            return None
        reason = f"the finding was resolved during the grace period ({self._resolved}): nothing was changed"
        self._end(step, StepState.SUCCEEDED, reason)
        return reason

    async def _notice(self, request: RemediationInput, stage: str) -> None:
        raise NotImplementedError  # RemediationWorkflow's: a notification before the run ends

    def _skip_the_rest(self, why: str) -> None:
        for step in self._status.steps:
            if step.state == StepState.PENDING:
                step.state, step.message = StepState.SKIPPED, why
