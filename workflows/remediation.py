"""RemediationWorkflow: validate → assume role → run job(s) → tag the resource.

Deterministic code only: every I/O happens in activities on the worker group's task queue.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    RetryState,
)
from temporalio.workflow import ActivityCancellationType

from workflows.approval import Approval, approval_steps
from workflows.grace import grace_step
from workflows.pinned_code import PinnedCode
from workflows.retry_policies import (
    INFRA_RETRY,
    JOB_HEARTBEAT_TIMEOUT,
    NOTIFY_RETRY,
    VALIDATE_RETRY,
)
from workflows.retry_policies import why as _why
from workflows.run_book import StepFailed
from workflows.run_input import (
    NO_INPUT,
    InvalidInput,
    read_input,
    wants_search_attributes,
)
from workflows.run_summary import (
    cancelled_summary,
    chain_summary,
    plan_summary,
    rollback_summary,
)
from workflows.write_back import write_back_step

with workflow.unsafe.imports_passed_through():
    from remedy import search_attributes as sa
    from remedy.types import (
        TRANSIENT_FAILURE,
        AssumeRoleInput,
        AssumeRoleResult,
        JobResult,
        JobStep,
        NotifyInput,
        NotifyResult,
        OptOutInput,
        OptOutResult,
        RemediationInput,
        RunJobInput,
        RunState,
        RunStatus,
        StepState,
        StepStatus,
        TagInput,
        TagResult,
        ValidatedFinding,
        ValidateInput,
    )


@workflow.defn(name="RemediationWorkflow")
class RemediationWorkflow(Approval):
    """Remediates one finding with one job or an ordered chain of jobs.

    Guarantees:
    - Validation (payload, jobs known to the worker, parameters) happens before any cloud call;
      a finding that fails it fails the run at once, with the field at fault named.
    - Assume role runs once per run and returns only the identity and expiry; the credentials stay
      in the worker's memory (a worker that takes over a step assumes the role again).
    - Each job step runs in order; the chain stops at the first step that fails. A step is retried
      per its retry settings (default 3 attempts) on a non-zero exit or a timeout; a lost worker
      is detected by the missing heartbeat and the step moves to another worker. A failure that
      looks transient (cloud unreachable, throttled, 5xx) is retried with the same backoff for
      the step's transient window (default 10 min) without using up those attempts.
    - A job with a `verify.py` is followed by a verify step; a resource still non-compliant after
      the step's attempts fails the run (a job's claim of success is not taken on trust).
    - Tagging never fails a run: an untaggable resource is skipped with a message.
    - Notification (Jira, webhook), when configured, runs after the chain whether it succeeded or
      failed, is retried with backoff, and never changes the run's verdict: the result's
      `notification` says which ticket was filed, or why none could be.
    - "Already compliant" is said only of jobs that report their changes (Remedy's own); a
      foreign VSS job that exits 0 silently is reported as "job exited 0; it reports no changes".
    - A job that exits 0 but logs errors (ERROR lines, a traceback) makes the run
      "succeeded_with_errors", not plain success.
    - The `status` query answers at any time, during and after the run, with every step's state,
      attempts, times, exit code and log tail. The result is the final status; a failed run fails
      the workflow with the status attached, so the Temporal UI shows it as failed.
    - Any input ends the run: `run` takes its argument raw (`RawValue`) and checks it here
      against RemediationInput, so an input that does not decode or fit (a job name with a
      slash, no `spec`, `step` for `steps`, an unknown key, no argument at all) fails the run at
      once with a non-retryable `InvalidInput` error naming each field, the `status` query says
      the same, and `RemediationStatus` is `failed`. Had the SDK decoded it, the failure would
      be the workflow task's, which Temporal retries forever while the run looks open. Histories
      stay replayable: the same payload arrives, now decoded one step later, and the commands
      are the same. (Two or more arguments are decoded by the SDK itself; a failure there still
      fails the task, which `remedy status` and the hub report as `stuck`.)
    - A cancel stops the run where it is: a running job's process group is killed within a few
      seconds (the step heartbeats every second and waits for the job to be stopped), the step
      is `cancelled` with the changes the job printed before it stopped, nothing later runs
      but the notification (worded as a cancel), and the workflow ends as cancelled. (No
      `workflow.patched` marker guards this: its payload cannot be sealed by the payload
      codec. So a run whose cancel was handled by the earlier code, which reported it as a
      failed step, no longer replays: a query on it fails and `remedy status` reads its stored
      result instead. Runs not cancelled replay unchanged, and a cancel arriving after the
      deployment is handled the new way: tests/test_replay.py.)
    """

    def __init__(self) -> None:
        super().__init__()
        self._job_steps: list[StepStatus] = []
        self._verify_steps: dict[int, StepStatus] = {}
        #: a rollback run's checks that a step's before state is back (its job's plan, again)
        self._restore_checks: dict[int, StepStatus] = {}
        #: jobs that exited 0 without saying what they change (foreign VSS jobs, mostly)
        self._silent_jobs: list[str] = []
        self._finding: ValidatedFinding | None = None
        self._noticed = False  # a notice went out before the end (workflows/grace.py, approval.py)

    @workflow.query
    def status(self) -> RunStatus:
        return self._status

    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> RunStatus:
        try:
            request = read_input(raw)
        except InvalidInput as invalid:
            self._refuse(str(invalid), wants_search_attributes(raw))
        spec = request.spec
        verb = {"plan": "plan", "rollback": "roll back"}.get(spec.mode, "job")
        self._job_steps = [StepStatus(name=f"{verb} {s.job}", kind="job") for s in spec.steps]
        self._status = RunStatus(
            run_id=workflow.info().workflow_id,
            remediation=spec.display_name(),
            started_at=workflow.now(),
            mode=spec.mode,
            rollback_of=spec.rollback_of,
            steps=[
                StepStatus(name="validate", kind="validate"),
                StepStatus(name="assume role", kind="assume_role"),
                *grace_step(request),
                *approval_steps(request),
                *self._job_steps,
                StepStatus(name="tag resource", kind="tag"),
                *([StepStatus(name="notify", kind="notify")] if _notifies(request) else []),
                *write_back_step(request),
            ],
        )
        payload = request.payload  # completed by validation, for the notification
        try:
            finding = await self._validate(request)
            payload = finding.payload
            self._finding = finding
            if finding.opted_out:  # its opt-out tag, or an excluded account or region
                self._skip_the_rest("left alone: " + finding.opted_out.split(":")[0])
                self._finish(RunState.SKIPPED, finding.opted_out, request)
                return self._status
            await self._assume_role(finding)
            self._account = finding.account  # reachable: the write-back may use it
            resolved = await self._grace(request)  # when the spec gives a grace period
            if resolved is not None:
                self._skip_the_rest("the finding was resolved during the grace period")
                self._finish(RunState.SKIPPED, resolved, request)
                await self._close_notice(request, payload)
                return self._status
            opted_out = await self._read_opt_out(request, finding)  # tagged since the scan?
            if opted_out is not None:
                self._skip_the_rest("left alone: the resource opted out")
                self._finish(RunState.SKIPPED, opted_out, request)
                await self._close_notice(request, payload)
                return self._status
            await self._approve(request, finding)  # when the spec asks for approval
            for index, job_step in enumerate(spec.steps):
                await self._run_job(self._job_steps[index], job_step, finding)
                if index in self._verify_steps:
                    await self._run_job(self._verify_steps[index], job_step, finding, verify=True)
                if index in self._restore_checks:  # a rollback: is the before state back?
                    await self._check_restored(index, job_step, finding)
            await self._tag(request, finding)
        except asyncio.CancelledError:
            self._finish(
                RunState.CANCELLED, cancelled_summary(self._status, workflow.now()), request
            )
            await self._notify(request, payload)
            await self._write_back(request)
            raise
        except StepFailed as failed:
            reason = failed.reason + await self._undo_on_failure(request)
            self._finish(RunState.FAILED, reason, request)
            await self._notify(request, payload)
            await self._write_back(request)
            raise ApplicationError(
                reason,
                self._status.model_dump(mode="json"),
                type="RemediationFailed",
                non_retryable=True,
            ) from None
        summary = chain_summary(self._status, self._silent_jobs)
        if spec.mode == "plan":
            summary = plan_summary(self._status)
        elif spec.mode == "rollback":
            summary = rollback_summary(self._status)
        noisy = [s for s in self._status.steps if s.errors_logged]
        state = RunState.SUCCEEDED_WITH_ERRORS if noisy else RunState.SUCCEEDED
        if noisy:
            summary = (
                f"succeeded with errors: {', '.join(s.name for s in noisy)} exited 0 but logged "
                f"{sum(s.errors_logged for s in noisy)} error line(s); check the log before "
                f"trusting the fix ({summary})"
            )
        self._finish(state, summary, request)
        await self._notify(request, payload)
        await self._write_back(request)
        return self._status

    # -- steps ----------------------------------------------------------------------------------

    async def _validate(self, request: RemediationInput) -> ValidatedFinding:
        step = self._begin(self._step("validate"))
        try:
            # A local activity: pure CPU on the worker that runs this workflow, no round trip
            # through the server's task queues, and nothing here worth a retry of its own.
            finding: ValidatedFinding = await workflow.execute_local_activity(
                "validate_finding",
                ValidateInput(payload=request.payload, spec=request.spec),
                result_type=ValidatedFinding,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=VALIDATE_RETRY,
            )
        except (ActivityError, ApplicationError) as error:  # a local activity's comes unwrapped
            self._raise_if_cancelled(step, error)
            raise self._fail(step, f"the finding cannot be remediated: {_why(error)[0]}") from None
        status = self._status
        status.finding_id, status.resource = finding.finding_id, finding.object_id
        status.rule_id, status.account_id = finding.rule_id, finding.account.account_id
        status.code_version, status.job_checksums = finding.code_version, finding.job_checksums
        already = workflow.info().typed_search_attributes.get(sa.FINDING_ID)
        if request.search_attributes and already != finding.finding_id:  # not set at start
            workflow.upsert_search_attributes(
                [
                    sa.FINDING_ID.value_set(finding.finding_id),
                    sa.RULE_ID.value_set(finding.rule_id or ""),
                    sa.JOB.value_set([s.job for s in request.spec.steps]),
                    sa.CLOUD_ACCOUNT.value_set(finding.account.account_id),
                    sa.PROVIDER.value_set(finding.account.provider),
                    sa.REMEDIATION_STATUS.value_set(RunState.RUNNING.value),
                ]
            )
        mode = request.spec.mode
        for index, job_step in enumerate(request.spec.steps):
            # verify after the job it checks (a plan changes nothing: nothing to verify)
            if mode == "remediate" and job_step.verify and job_step.job in finding.verifiable:
                verify = StepStatus(name=f"verify {job_step.job}", kind="verify")
                self._verify_steps[index] = verify
                steps = self._status.steps
                steps.insert(steps.index(self._job_steps[index]) + 1, verify)
            # a rollback checks after each step that its before state is back
            elif mode == "rollback" and job_step.undoes and job_step.job in finding.plannable:
                check = StepStatus(name=f"check {job_step.job} is as before", kind="verify")
                self._restore_checks[index] = check
                steps = self._status.steps
                steps.insert(steps.index(self._job_steps[index]) + 1, check)
        self._end(step, StepState.SUCCEEDED, f"finding {finding.finding_id} on {finding.object_id}")
        return finding

    async def _assume_role(self, finding: ValidatedFinding) -> None:
        step = self._begin(self._step("assume_role"))
        try:
            who = await workflow.execute_activity(
                "assume_role",
                AssumeRoleInput(account=finding.account, run_id=self._status.run_id),
                result_type=AssumeRoleResult,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=INFRA_RETRY,
            )
        except ActivityError as error:
            self._raise_if_cancelled(step, error)
            raise self._fail(step, _why(error)[0]) from None
        expiry = f" until {who.expires_at.isoformat()}" if who.expires_at else ""
        self._end(step, StepState.SUCCEEDED, f"acting as {who.identity}{expiry}")

    async def _run_job(
        self,
        step: StepStatus,
        job_step: JobStep,
        finding: ValidatedFinding,
        verify: bool = False,
        mode: str | None = None,
    ) -> None:
        """Run a job step, or (`verify`) the job's check that the resource now complies; `mode`:
        the job's mode when not the run's (an approval's plan steps)."""
        self._begin(step)
        mode = "remediate" if verify else (mode or self._status.mode)
        if mode == "rollback" and not job_step.records:
            self._end(step, StepState.SKIPPED, "nothing to undo: this step changed nothing")
            return
        retry = job_step.retry
        request = RunJobInput(
            job=job_step.job,
            parameters=job_step.parameters,
            payload=finding.payload,
            account=finding.account,
            run_id=self._status.run_id,
            timeout_s=job_step.timeout_s,
            verify=verify,
            **({"mode": mode, "records": job_step.records} if mode != "remediate" else {}),
        )
        policy = RetryPolicy(
            initial_interval=timedelta(seconds=retry.initial_interval_s),
            backoff_coefficient=retry.backoff,
            maximum_interval=timedelta(seconds=retry.max_interval_s),
            maximum_attempts=retry.max_attempts,
            # handed back here: retried below, for the transient window, without using attempts
            non_retryable_error_types=[TRANSIENT_FAILURE],
        )
        transient_until = workflow.now() + timedelta(seconds=retry.transient_window_s)
        pause = retry.initial_interval_s
        earlier = 0  # attempts made by earlier executions of this step (transient failures)
        pinned = PinnedCode(finding, workflow.info().task_queue, workflow.now())
        if pinned.version:
            step.message = pinned.queued()
        while True:
            try:
                result = await workflow.execute_activity(
                    "run_job",
                    request,
                    result_type=JobResult,
                    # only workers serving the job code the run was validated with poll it
                    task_queue=pinned.task_queue,
                    schedule_to_start_timeout=pinned.probe(workflow.now()),
                    start_to_close_timeout=timedelta(seconds=job_step.timeout_s + 60),
                    heartbeat_timeout=JOB_HEARTBEAT_TIMEOUT,
                    retry_policy=policy,
                    # a cancel waits for the job to be stopped, and hears what it changed
                    cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                )
                break
            except ActivityError as error:
                if pinned.unserved(error):  # no worker with its version took it: wait, or fail
                    if workflow.now() >= pinned.deadline:
                        raise self._fail(step, pinned.gave_up()) from None
                    step.message = pinned.waiting()
                    continue
                reason, details = _why(error)
                # what a failed or stopped job changed can still be undone: keep its records
                step.records = [r for r in details.get("records") or [] if isinstance(r, dict)]
                if self._cancel_requested(error):
                    step.changes = [str(c) for c in details.get("changes") or []]
                    step.exit_code = details.get("exit_code")
                    step.log_tail = str(details.get("log_tail", step.log_tail))
                self._raise_if_cancelled(step, error)
                exhausted = error.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED
                made = int(details.get("attempt") or (retry.max_attempts if exhausted else 1))
                step.attempts = earlier + made
                step.exit_code = details.get("exit_code")
                step.log_tail = str(details.get("log_tail", ""))
                sign = details.get("transient")
                if sign and workflow.now() + timedelta(seconds=pause) <= transient_until:
                    earlier += made
                    step.message = (
                        f"waiting {pause:g} s to retry: {sign}; transient failures are retried "
                        f"until {transient_until.strftime('%H:%M:%SZ')}"
                    )
                    await workflow.sleep(timedelta(seconds=pause))
                    pause = min(pause * retry.backoff, retry.max_interval_s)
                    continue
                if sign:
                    reason += (
                        f" ({sign}; still failing after {retry.transient_window_s:g} s of retries)"
                    )
                raise self._fail(step, reason) from None
        step.attempts, step.exit_code = earlier + result.attempt, result.exit_code
        step.log_tail, step.errors_logged = result.log_tail, result.errors_logged
        if verify:
            self._end(
                step, StepState.SUCCEEDED, f"the resource complies ({result.duration_s:.1f} s)"
            )
            if self._cancelled_meanwhile():
                raise asyncio.CancelledError()
            return
        step.changes, step.reports_changes = result.changes, result.reports_changes
        step.records = result.records
        if not result.reports_changes:
            self._silent_jobs.append(job_step.job)
        if result.changes and mode == "plan":
            done = f"{len(result.changes)} change(s) planned, none made"
        elif result.changes:
            done = f"{len(result.changes)} change(s)"
        else:
            done = "no change needed" if result.reports_changes else "it reports no changes"
        done += "".join(f"; {warning}" for warning in result.warnings)
        self._end(step, StepState.SUCCEEDED, f"exit 0 in {result.duration_s:.1f} s: {done}")
        if self._cancelled_meanwhile():  # the job ended just as the cancel came
            raise asyncio.CancelledError()

    async def _undo_on_failure(self, request: RemediationInput) -> str:
        """`on_failure: rollback`: undo the chain's steps that succeeded, last first, from their
        change records; what the run's message adds about it."""
        spec, finding = request.spec, self._finding
        if spec.on_failure != "rollback" or spec.mode != "remediate" or finding is None:
            return ""
        done = [
            (index, step)
            for index, step in enumerate(self._job_steps)
            if step.state == StepState.SUCCEEDED and step.records
        ]
        if not done:
            return "; nothing to roll back"
        undone, failed = [], []
        tag = self._status.steps.index(self._step("tag"))
        for index, step in reversed(done):
            job_step = spec.steps[index]
            undo = StepStatus(name=f"roll back {job_step.job}", kind="rollback")
            self._status.steps.insert(tag, undo)
            tag += 1
            try:
                await self._run_job(
                    undo,
                    job_step.model_copy(update={"records": step.records}),
                    finding,
                    mode="rollback",
                )
                undone.append(job_step.job)
            except StepFailed as error:
                failed.append(f"{job_step.job} ({error.reason})")
        said = f"; rolled back {', '.join(undone)}" if undone else ""
        return said + (f"; could not roll back {', '.join(failed)}" if failed else "")

    async def _check_restored(
        self, index: int, job_step: JobStep, finding: ValidatedFinding
    ) -> None:
        """After step `index`'s rollback: the job plans again, and its plan must be the changes
        the run it undoes made (the before state is back, so the fix would be the same again)."""
        step, job = self._restore_checks[index], self._job_steps[index]
        if job.state == StepState.SKIPPED:  # nothing was undone: nothing to check
            self._end(step, StepState.SKIPPED, job.message)
            return
        await self._run_job(step, job_step, finding, mode="plan")
        planned, made = sorted(step.changes), sorted(job_step.undoes)
        step.changes = []  # a check changes nothing: its plan is not a change of this run
        if planned != made:
            raise self._fail(
                step,
                f"the before state is not back: {job_step.job} would now change "
                f"{planned or 'nothing'}, where the run it undoes changed {made}",
            )
        self._end(step, StepState.SUCCEEDED, f"as before the run: {len(made)} change(s) undone")

    async def _read_opt_out(
        self, request: RemediationInput, finding: ValidatedFinding
    ) -> str | None:
        """The resource's tags read live, right before anything could change it (the finding's
        were checked at validation, as old as the scan): why it opted out, or None. A read that
        fails or a type that cannot be read leaves the finding's word standing
        (activities/opt_out.py)."""
        spec = request.spec
        if spec.mode != "remediate" or not spec.skip_tag or not workflow.patched("live-opt-out"):
            return None
        try:
            # local: a read on this worker with the run's credentials, no task-queue round trip
            result: OptOutResult = await workflow.execute_local_activity(
                "read_opt_out",
                OptOutInput(
                    account=finding.account,
                    resource_id=finding.object_id,
                    resource_type=finding.resource_type,
                    skip_tag=spec.skip_tag,
                    run_id=self._status.run_id,
                ),
                result_type=OptOutResult,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=VALIDATE_RETRY,
            )
        except (ActivityError, ApplicationError) as error:
            if self._cancel_requested(error):
                raise asyncio.CancelledError() from None
            return None  # unreadable: the finding's tags, checked at validation, stand
        return result.opted_out

    async def _close_notice(self, request: RemediationInput, payload: dict[str, Any]) -> None:
        """A run that skips after a notice (its grace period began) says how it ended."""
        if self._noticed:
            await self._notify(request, payload)

    async def _tag(self, request: RemediationInput, finding: ValidatedFinding) -> None:
        step = self._begin(self._step("tag"))
        if not request.spec.tags.enabled:
            self._end(step, StepState.SKIPPED, "tagging is off for this remediation")
            return
        if request.spec.mode == "plan":
            self._end(step, StepState.SKIPPED, "a plan run changes nothing: nothing to tag")
            return
        now = workflow.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        tags = {
            "remediated-by": "remedy",
            "remediated-at": now,
            "remediation-run-id": self._status.run_id[:256],
            "remediation-job": request.spec.display_name()[:256],
            **request.spec.tags.extra,
        }
        if request.spec.mode == "rollback":
            tags = {
                "remediation-rolled-back-at": now,
                "remediation-rollback-run-id": self._status.run_id[:256],
                **request.spec.tags.extra,
            }
        try:
            result = await workflow.execute_activity(
                "tag_resource",
                TagInput(
                    account=finding.account,
                    resource_id=finding.object_id,
                    resource_type=finding.resource_type,
                    tags=tags,
                    run_id=self._status.run_id,
                ),
                result_type=TagResult,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=INFRA_RETRY,
            )
        except ActivityError as error:
            self._raise_if_cancelled(step, error)
            self._end(step, StepState.FAILED, f"tagging failed, the fix stands: {_why(error)[0]}")
            return
        self._end(step, StepState.SUCCEEDED if result.tagged else StepState.SKIPPED, result.message)

    async def _notify(self, request: RemediationInput, payload: dict[str, Any]) -> None:
        """File or update the ticket / call the webhook. Never changes the run's verdict."""
        if not _notifies(request):
            return
        step = self._begin(self._step("notify"))
        try:
            result = await workflow.execute_activity(
                "notify",
                NotifyInput(status=self._status, settings=request.spec.notify, payload=payload),
                result_type=NotifyResult,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=dataclasses.replace(
                    NOTIFY_RETRY, maximum_attempts=request.spec.notify.max_attempts
                ),
            )
        except ActivityError as error:
            self._status.notification = f"no notification could be made: {_why(error)[0]}"
            self._end(step, StepState.FAILED, self._status.notification)
            self._status.current_step = None
            return
        self._status.notification = result.message
        self._ticket = result.jira_issue
        self._end(step, StepState.SUCCEEDED, result.message)
        self._status.current_step = None

    async def _notice(self, request: RemediationInput, stage: str) -> None:
        """A notification before the run ends (the grace period, a plan awaiting a decision,
        the decision): to the run's Jira issue and the webhook. It never fails the run; what it
        achieved is the run's `notification` until the report replaces it."""
        if not _notifies(request) or not workflow.patched("notices-before-the-run-ends"):
            return
        payload = self._finding.payload if self._finding else request.payload
        self._noticed = True
        try:
            result = await workflow.execute_activity(
                "notify",
                NotifyInput(
                    status=self._status, settings=request.spec.notify, payload=payload, stage=stage
                ),
                result_type=NotifyResult,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=dataclasses.replace(
                    NOTIFY_RETRY, maximum_attempts=request.spec.notify.max_attempts
                ),
            )
        except ActivityError as error:
            self._status.notification = f"no notice could be made ({stage}): {_why(error)[0]}"
            return
        self._status.notification = result.message
        self._ticket = result.jira_issue or self._ticket


def _notifies(request: RemediationInput) -> bool:
    """A plan run tells nobody: it changed nothing (its plan is in its status)."""
    return request.spec.notify.wanted() and request.spec.mode != "plan"
