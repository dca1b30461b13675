"""BatchRemediationWorkflow: many findings of one job, account and region, fixed together.

validate each → assume role once → read the opt-out tags live → one job process for the batch →
one verify process → tag in as few calls as the services allow → notify per finding (or once
per batch). Deterministic code only; every I/O is an activity. Why one workflow per batch
holding each finding's state (and not a workflow per finding, nor child workflows):
docs/architecture.md, "Batches".
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.member_book import MemberBook
from workflows.pinned_code import PinnedCode
from workflows.retry_policies import (
    INFRA_RETRY,
    JOB_HEARTBEAT_TIMEOUT,
    NOTIFY_RETRY,
    VALIDATE_RETRY,
)
from workflows.retry_policies import why as _why
from workflows.run_input import NO_INPUT

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from remedy import search_attributes as sa
    from remedy.batch_types import (
        BatchInput,
        BatchJobInput,
        BatchJobMember,
        BatchJobResult,
        BatchStatus,
        BatchValidated,
        BatchValidateInput,
        MemberResult,
        OptOutManyInput,
        OptOutManyResult,
        TagManyInput,
        TagManyResult,
    )
    from remedy.types import (
        AssumeRoleInput,
        AssumeRoleResult,
        JobResult,
        NotifyInput,
        NotifyResult,
        RunJobInput,
        RunStatus,
        StepState,
        ValidatedFinding,
    )


_R = TypeVar("_R")


@workflow.defn(name="BatchRemediationWorkflow")
class BatchRemediationWorkflow:
    """Remediates up to MAX_BATCH_SIZE findings sharing one job, account and region.

    Guarantees (README, "Guarantees": batches):
    - Every finding keeps its own run id (the id a run of it alone would have), its own status
      (the `finding` query, and each member of `status`), result, log lines, changes, tag and
      notification. One finding's failure (bad input, a resource the job cannot fix, a verify
      that finds it still open) fails that finding alone; the others go on.
    - The opt-out tag is read live, as for one finding: each resource's tags, once for the
      batch after the role is assumed; a resource tagged since the scan is left alone (its run
      ends skipped), an unreadable one falls back to the finding's tags.
    - One role assumption, one job process for the batch (a job whose remedy.json says
      `"batch": true`; a VSS job runs one process per finding, as always), one verify process,
      one tagging activity. A finding that failed in a way worth a retry (a non-zero exit, a
      transient cloud error, the process ending before it) is retried with the others that did,
      in one process per attempt, up to the step's attempts; bad input is never retried.
    - A worker lost mid-batch: the job step's heartbeat stops, Temporal gives the step to another
      worker, which runs the batch again; jobs are idempotent, so a resource already fixed
      reports "no change needed" (its changes are in the first worker's log, shipped to the hub).
    - The batch's history holds a few events per step, not per finding: a batch of 100 (MAX_BATCH_SIZE) stays far
      inside Temporal's limits (docs/architecture.md, "Batches").
    """

    def __init__(self) -> None:
        self._status = BatchStatus(batch_id="", remediation="", job="")
        self._book = MemberBook(self._status)

    @workflow.query
    def status(self) -> BatchStatus:
        return self._status

    @workflow.query
    def finding(self, run_id: str) -> RunStatus:
        """One finding's own status, as a run of it alone would answer its `status` query."""
        found = self._status.member(run_id)
        if found is None:
            raise ApplicationError(f"run {run_id} is not in batch {self._status.batch_id}")
        return found

    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> BatchStatus:
        try:
            request = BatchInput.model_validate(
                workflow.payload_converter().from_payload(raw.payload)
            )
        except (ValidationError, ValueError, TypeError, RuntimeError) as exc:
            raise ApplicationError(
                f"the batch's input is not a BatchInput: {str(exc)[:2000]}",
                type="InvalidInput",
                non_retryable=True,
            ) from None
        spec, step = request.spec, request.spec.steps[0]
        book = self._book
        self._status.batch_id = workflow.info().workflow_id
        self._status.remediation = spec.display_name()
        self._status.job = step.job
        book.open(request, workflow.now())
        validated = await self._validate(request)
        # the findings live on in their validated form: the input's copy (and the raw one) would
        # only hold the worker's memory for as long as the batch runs
        request.members.clear()
        del raw
        active = book.validated(validated, step.verify, workflow.now())
        if active:
            first = active[0]
            self._status.account_id = first.account.account_id
            self._status.region = first.account.region
            if await self._assume_role(active):
                active = await self._read_opt_out(request, active)  # tagged since the scan?
                if active:
                    done = await self._run_jobs(request, active, validated.job_takes_batches)
                    await self._tag(request, done)
        book.finish_all(workflow.now())
        await self._notify(request)
        self._status.state, self._status.message = book.verdict()
        if request.search_attributes:
            workflow.upsert_search_attributes(
                [sa.REMEDIATION_STATUS.value_set(self._status.state.value)]
            )
        return self._status

    # -- steps ----------------------------------------------------------------------------------

    async def _validate(self, request: BatchInput) -> BatchValidated:
        self._status.steps.append("validate")
        try:
            validated: BatchValidated = await workflow.execute_local_activity(
                "validate_batch",
                BatchValidateInput(spec=request.spec, members=request.members),
                result_type=BatchValidated,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=VALIDATE_RETRY,
            )
        except (ActivityError, ApplicationError) as error:
            reason = f"the findings cannot be remediated: {_why(error)[0]}"
            return BatchValidated(
                findings=[None] * len(request.members),
                errors=[reason] * len(request.members),
                job_takes_batches=False,
            )
        return validated

    async def _assume_role(self, active: list[ValidatedFinding]) -> bool:
        self._status.steps.append("assume role")
        self._book.begin_all("assume_role", workflow.now())
        try:
            who = await workflow.execute_local_activity(  # the account's cached session, mostly
                "assume_role",
                AssumeRoleInput(account=active[0].account, run_id=self._status.batch_id),
                result_type=AssumeRoleResult,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=INFRA_RETRY,
            )
        except (ActivityError, ApplicationError) as error:  # a local activity's comes unwrapped
            self._book.fail_all("assume_role", _why(error)[0], workflow.now())
            return False
        expiry = f" until {who.expires_at.isoformat()}" if who.expires_at else ""
        self._book.end_all(
            "assume_role",
            f"acting as {who.identity}{expiry} (one session for batch {self._status.batch_id})",
            workflow.now(),
        )
        return True

    async def _read_opt_out(
        self, request: BatchInput, active: list[ValidatedFinding]
    ) -> list[ValidatedFinding]:
        """The resources' tags read live, once for the batch, right before its job (the findings'
        were checked at validation, as old as the scan): those not opted out. A read that fails
        leaves the findings' word standing (activities/batch_opt_out.py)."""
        skip_tag = request.spec.skip_tag
        if not skip_tag:
            return active
        try:
            # local: a read on this worker with the batch's session, no task-queue round trip
            result: OptOutManyResult = await workflow.execute_local_activity(
                "read_opt_out_many",
                OptOutManyInput(
                    account=active[0].account,
                    resources=[(f.object_id, f.resource_type) for f in active],
                    skip_tag=skip_tag,
                    run_id=self._status.batch_id,
                ),
                result_type=OptOutManyResult,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=VALIDATE_RETRY,
            )
        except (ActivityError, ApplicationError):
            return active  # unreadable: the findings' tags, checked at validation, stand
        left = []
        for finding in active:
            why = result.opted_out.get(finding.object_id)
            if why is None:
                left.append(finding)
            else:
                self._book.opted_out(finding, why, workflow.now())
        return left

    async def _run_jobs(
        self, request: BatchInput, active: list[ValidatedFinding], batches: bool
    ) -> list[ValidatedFinding]:
        """The job, then its verify, for the active members; those that succeeded."""
        step = request.spec.steps[0]
        fixed = await self._attempts(request, active, batches, verify=False)
        checked = [f for f in fixed if step.verify and step.job in f.verifiable]
        if checked:
            self._status.steps.append("verify")
            await self._attempts(request, checked, batches, verify=True)
        return [f for f in active if self._book.succeeded(f)]

    async def _attempts(
        self,
        request: BatchInput,
        members: list[ValidatedFinding],
        batches: bool,
        verify: bool,
    ) -> list[ValidatedFinding]:
        """Run the job (or its verify) for `members`, retrying the failures worth it with the
        step's backoff, each attempt one process for all of them; those that succeeded."""
        step = request.spec.steps[0]
        kind = "verify" if verify else "job"
        retry = step.retry
        book = self._book
        if not verify:
            self._status.steps.append(f"job {step.job}" + (" (one process)" if batches else ""))
        book.begin(members, kind, workflow.now())
        pending, done = list(members), []
        pause = retry.initial_interval_s
        used: dict[str, int] = {}  # processes each member's step took, lost ones included
        while pending:
            left = retry.max_attempts - max(used.get(book.run_id_of(f), 0) for f in pending)
            results = await self._one_attempt(request, pending, batches, verify, left)
            again = []
            for finding in pending:
                run_id = book.run_id_of(finding)
                result = results[run_id]
                made = used[run_id] = used.get(run_id, 0) + max(1, min(result.attempts, left))
                book.attempted(finding, kind, result, made)
                if result.exit_code == 0:
                    book.succeed(finding, kind, result, verify, workflow.now())
                    done.append(finding)
                elif made < retry.max_attempts and _worth_retrying(result, verify):
                    again.append(finding)
                else:
                    book.fail(finding, kind, result.reason, workflow.now())
            if not again:
                break
            pending = again
            await workflow.sleep(timedelta(seconds=pause))
            pause = min(pause * retry.backoff, retry.max_interval_s)
        return done

    async def _one_attempt(
        self,
        request: BatchInput,
        members: list[ValidatedFinding],
        batches: bool,
        verify: bool,
        attempts: int,
    ) -> dict[str, MemberResult]:
        """One attempt for every member: one batch process, or one process each (a VSS job);
        Temporal retries a process lost with its worker, up to the `attempts` the step has left
        (each member's result says how many processes it took)."""
        step = request.spec.steps[0]
        pinned = PinnedCode(members[0], workflow.info().task_queue, workflow.now())
        book = self._book
        timeout = timedelta(seconds=step.timeout_s + 60)
        policy = RetryPolicy(  # the process lost (a worker gone), or credentials unavailable
            initial_interval=timedelta(seconds=step.retry.initial_interval_s),
            maximum_attempts=max(1, attempts),
            non_retryable_error_types=["NotABatchJob", "UnknownJobError", "ParameterError"],
        )
        if batches:
            request_in = BatchJobInput(
                job=step.job,
                parameters=step.parameters,
                members=[
                    BatchJobMember(run_id=book.run_id_of(f), payload=f.payload) for f in members
                ],
                account=members[0].account,
                batch_id=self._status.batch_id,
                timeout_s=step.timeout_s,
                verify=verify,
            )
            try:
                result: BatchJobResult = await self._pinned(
                    pinned,
                    "run_batch_job",
                    request_in,
                    BatchJobResult,
                    timeout,
                    policy,
                )
            except (ActivityError, ApplicationError) as error:
                reason = _why(error)[0]
                return {
                    book.run_id_of(f): MemberResult(
                        run_id=book.run_id_of(f), exit_code=None, reason=reason, attempts=attempts
                    )
                    for f in members
                }
            return {
                m.run_id: m.model_copy(update={"attempts": result.attempt}) for m in result.members
            }

        async def one(finding: ValidatedFinding) -> MemberResult:
            run_id = book.run_id_of(finding)
            single = RunJobInput(
                job=step.job,
                parameters=step.parameters,
                payload=finding.payload,
                account=finding.account,
                run_id=run_id,
                timeout_s=step.timeout_s,
                verify=verify,
            )
            try:
                done: JobResult = await self._pinned(
                    pinned, "run_job", single, JobResult, timeout, policy
                )
            except (ActivityError, ApplicationError) as error:
                reason, details = _why(error)
                return MemberResult(
                    run_id=run_id,
                    exit_code=details.get("exit_code"),
                    attempts=int(details.get("attempt") or attempts),
                    reason=reason,
                    log_tail=str(details.get("log_tail", "")),
                    transient=details.get("transient"),
                )
            return MemberResult(
                run_id=run_id,
                exit_code=0,
                attempts=done.attempt,
                log_tail=done.log_tail,
                changes=done.changes,
                records=done.records,
                errors_logged=done.errors_logged,
            )

        answers = await asyncio.gather(*(one(f) for f in members))
        return {answer.run_id: answer for answer in answers}

    async def _pinned(
        self,
        pinned: PinnedCode,
        activity: str,
        argument: object,
        result_type: type[_R],
        timeout: timedelta,
        policy: RetryPolicy,
    ) -> _R:
        """An activity on the queue of the job code the batch was validated with, waiting (up to
        the code wait) for a worker serving it."""
        while True:
            try:
                answer: _R = await workflow.execute_activity(
                    activity,
                    argument,
                    result_type=result_type,
                    task_queue=pinned.task_queue,
                    schedule_to_start_timeout=pinned.probe(workflow.now()),
                    start_to_close_timeout=timeout,
                    heartbeat_timeout=JOB_HEARTBEAT_TIMEOUT,
                    retry_policy=policy,
                )
                return answer
            except ActivityError as error:
                if not pinned.unserved(error):
                    raise
                if workflow.now() >= pinned.deadline:
                    raise ApplicationError(pinned.gave_up(), non_retryable=True) from None

    async def _tag(self, request: BatchInput, fixed: list[ValidatedFinding]) -> None:
        book = self._book
        spec = request.spec
        if not fixed:
            return
        if not spec.tags.enabled:
            book.end_tags(fixed, StepState.SKIPPED, "tagging is off for this remediation", {})
            return
        self._status.steps.append("tag")
        book.begin(fixed, "tag", workflow.now())
        tags = {
            "remediated-by": "remedy",
            "remediated-at": workflow.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            # one value for the batch (tags must be alike for one call); `remedy status` on it
            # lists every finding, and each finding's run names the batch
            "remediation-run-id": self._status.batch_id[:256],
            "remediation-job": spec.display_name()[:256],
            **spec.tags.extra,
        }
        try:
            result: TagManyResult = await workflow.execute_activity(
                "tag_resources",
                TagManyInput(
                    account=fixed[0].account,
                    resources=[(f.object_id, f.resource_type) for f in fixed],
                    tags=tags,
                    run_id=self._status.batch_id,
                ),
                result_type=TagManyResult,
                start_to_close_timeout=timedelta(seconds=120),
                retry_policy=INFRA_RETRY,
            )
        except ActivityError as error:
            message = f"tagging failed, the fix stands: {_why(error)[0]}"
            book.end_tags(fixed, StepState.FAILED, message, {})
            return
        book.tagged(fixed, result, workflow.now())

    async def _notify(self, request: BatchInput) -> None:
        """Per finding (each its own ticket), or once for the batch; never changes a verdict."""
        settings = request.spec.notify
        if not settings.wanted():
            return
        policy = dataclasses.replace(NOTIFY_RETRY, maximum_attempts=settings.max_attempts)
        book = self._book

        async def send(status: RunStatus, payload: dict[str, object]) -> str:
            try:
                result: NotifyResult = await workflow.execute_activity(
                    "notify",
                    NotifyInput(status=status, settings=settings, payload=payload),
                    result_type=NotifyResult,
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=policy,
                )
            except ActivityError as error:
                return f"no notification could be made: {_why(error)[0]}"
            return result.message

        self._status.steps.append("notify")
        if request.notify_per == "batch":
            summary, payload = book.batch_report(workflow.now())
            said = await send(summary, payload)
            book.notified_all(said, workflow.now())
            return
        members = book.notifiable()
        said_each = await asyncio.gather(*(send(status, payload) for status, payload in members))
        for (status, _), said in zip(members, said_each, strict=True):
            book.notified(status, said, workflow.now())


def _worth_retrying(result: MemberResult, verify: bool) -> bool:
    """Bad input (exit 2) never; a verify's "still non-compliant" (exit 3) never: the job ran
    and exited 0, running it again would change nothing; anything else, while attempts last."""
    if result.exit_code == 2:
        return False
    return not (verify and result.exit_code == 3)
