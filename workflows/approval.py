"""The approval gate of a run (deterministic): plan, wait for a person's decision, re-plan.

A run whose spec asks for approval (`RemediationSpec.approval`) runs each job in plan mode after
assuming the role, shows the plan (`status.plan`, state `awaiting_approval`, the
`RemediationStatus` search attribute too) and waits, durably, for the `decide` update. Its
validator admits only an Analyst or Admin, and never the run's own requester when the spec says
so. An approval applies the plan that was shown: the jobs plan again first, and if the plan
differs (the resource changed in between) the run asks again with the new plan. A rejection,
or no decision before the plan expires, fails the run with who, when and why; nothing changed.
Every decision is kept in `status.decisions`. With notification settings, the plan waiting is
a notice (the Jira issue is filed with the plan) and so is each decision (a comment on it).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.grace import Grace

with workflow.unsafe.imports_passed_through():
    from remedy import search_attributes as sa
    from remedy.types import (
        APPROVER_ROLES,
        ApprovalSettings,
        Decision,
        JobStep,
        RemediationInput,
        RunState,
        StepState,
        StepStatus,
        ValidatedFinding,
    )


def approval_steps(request: RemediationInput) -> list[StepStatus]:
    """The plan steps and the approval step the status lists, when the run asks for approval."""
    if not _asks(request):
        return []
    plans = [StepStatus(name=f"plan {s.job}", kind="plan") for s in request.spec.steps]
    return [*plans, StepStatus(name="approval", kind="approval")]


def _asks(request: RemediationInput) -> bool:
    approval = request.spec.approval
    return approval is not None and approval.required and request.spec.mode == "remediate"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"


class Approval(Grace):
    def __init__(self) -> None:
        super().__init__()
        self._approval: ApprovalSettings | None = None
        self._awaiting = False
        self._decision: Decision | None = None

    async def _run_job(
        self,
        step: StepStatus,
        job_step: JobStep,
        finding: ValidatedFinding,
        verify: bool = False,
        mode: str | None = None,
    ) -> None:
        raise NotImplementedError  # RemediationWorkflow's

    @workflow.update
    async def decide(self, decision: Decision) -> str:
        """Approve or reject the plan the run waits on (the hub names `by` and `role`)."""
        decision.at = workflow.now()
        self._status.decisions.append(decision)
        self._decision = decision
        return "approved" if decision.approve else "rejected"

    @decide.validator
    def _admit(self, decision: Decision) -> None:
        """Refused before it reaches the history: the run is not waiting, the role may not
        decide, or the requester approves their own run."""
        if not self._awaiting or self._approval is None:
            raise ValueError(
                f"run {self._status.run_id} is not waiting for approval (it is {self._status.state})"
            )
        if decision.role not in APPROVER_ROLES:
            raise ValueError(
                f"{decision.by} is a {decision.role}: only an {' or an '.join(APPROVER_ROLES)} "
                "may approve or reject a run"
            )
        asked = self._approval.requester
        if decision.approve and self._approval.forbid_self and asked and decision.by == asked:
            raise ValueError(
                f"{decision.by} asked for this run: someone else must approve it "
                "(its action forbids approving one's own runs)"
            )

    async def _approve(self, request: RemediationInput, finding: ValidatedFinding) -> None:
        """Plan, then wait for an approval of that exact plan; StepFailed when rejected or
        expired. Returns once the approved plan is still the plan (or there is nothing to do)."""
        if not _asks(request):
            return
        settings = request.spec.approval
        assert settings is not None
        self._approval = settings
        plans = [s for s in self._status.steps if s.kind == "plan"]
        step = self._step("approval")
        approved: list[str] | None = None
        while True:
            for plan_step, job_step in zip(plans, request.spec.steps, strict=True):
                plan_step.changes, plan_step.records = [], []
                await self._run_job(plan_step, job_step, finding, mode="plan")
            plan = [c for s in plans for c in s.changes]
            if approved is not None and plan == approved:
                last = self._status.decisions[-1]
                said = f": {last.comment}" if last.comment else ""
                self._end(step, StepState.SUCCEEDED, f"approved by {last.by} ({last.role}){said}")
                return
            if not plan:
                self._end(step, StepState.SKIPPED, "the plan changes nothing: no approval needed")
                return
            again = approved is not None
            self._status.plan = plan
            decision = await self._wait_for_decision(request, settings, step, again)
            if not decision.approve:
                said = f": {decision.comment}" if decision.comment else ""
                raise self._fail(step, f"rejected by {decision.by} ({decision.role}){said}")
            approved = plan

    async def _wait_for_decision(
        self, request: RemediationInput, settings: ApprovalSettings, step: StepStatus, again: bool
    ) -> Decision:
        self._begin(step)
        expires = workflow.now() + timedelta(seconds=settings.expires_s)
        self._status.approval_expires_at = expires
        why = "the resource changed since the plan was approved: " if again else ""
        step.message = (
            f"{why}waiting for an Analyst or Admin to approve the plan "
            f"({len(self._status.plan)} change(s)) until {expires.strftime('%Y-%m-%d %H:%M:%SZ')}"
        )
        self._set_state(RunState.AWAITING_APPROVAL, request)
        self._decision, self._awaiting = None, True
        asked = len(self._status.decisions) + 1  # the plan is asked about again after a change
        await self._notice(request, f"approval-{asked}")  # the ticket shows the plan
        try:
            await workflow.wait_condition(
                lambda: self._decision is not None,
                timeout=max(expires - workflow.now(), timedelta(seconds=1)),
            )
        except TimeoutError:
            self._awaiting = False
            raise self._fail(
                step,
                f"expired: nobody approved or rejected the plan within "
                f"{_hours(settings.expires_s)}; nothing was changed",
            ) from None
        finally:
            self._awaiting = False
        self._set_state(RunState.RUNNING, request)
        decision = self._decision
        assert decision is not None
        await self._notice(request, f"decision-{len(self._status.decisions)}")  # who, when, why
        return decision

    def _set_state(self, state: RunState, request: RemediationInput) -> None:
        self._status.state = state
        if request.search_attributes:
            workflow.upsert_search_attributes([sa.REMEDIATION_STATUS.value_set(state.value)])
