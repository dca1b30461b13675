"""Each finding's own status inside a batch (workflows/batch.py), kept step by step.

A member's RunStatus reads like a one-finding run's: the same step names and kinds, its own
changes, log tail, exit code and message, so the hub, `remedy status` and a notification treat
it as any run. Deterministic code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from remedy.batch_types import (
        BatchInput,
        BatchStatus,
        BatchValidated,
        MemberResult,
        TagManyResult,
    )
    from remedy.types import RunState, RunStatus, StepState, StepStatus, ValidatedFinding

#: the steps that decide a member's verdict (tagging and notifying never fail a run)
_DECIDING = ("validate", "assume_role", "job", "verify")


class MemberBook:
    def __init__(self, status: BatchStatus) -> None:
        self.status = status
        self._run_ids: dict[int, str] = {}  # id(finding) -> run id
        self._findings: dict[str, ValidatedFinding] = {}
        self._payloads: dict[str, dict[str, Any]] = {}

    # -- opening ------------------------------------------------------------------------------

    def open(self, request: BatchInput, now: datetime) -> None:
        spec, step = request.spec, request.spec.steps[0]
        for member in request.members:
            self._payloads[member.run_id] = member.payload
            steps = [
                StepStatus(name="validate", kind="validate"),
                StepStatus(name="assume role", kind="assume_role"),
                StepStatus(name=f"job {step.job}", kind="job"),
                StepStatus(name="tag resource", kind="tag"),
            ]
            if spec.notify.wanted():
                steps.append(StepStatus(name="notify", kind="notify"))
            self.status.members.append(
                RunStatus(
                    run_id=member.run_id,
                    batch_id=self.status.batch_id,
                    remediation=spec.display_name(),
                    started_at=now,
                    message=f"in batch {self.status.batch_id} of {len(request.members)}",
                    steps=steps,
                )
            )

    def validated(
        self, validated: BatchValidated, verify: bool, now: datetime
    ) -> list[ValidatedFinding]:
        """Record each member's validation; the members to remediate."""
        active = []
        for status, finding, error in zip(
            self.status.members, validated.findings, validated.errors, strict=True
        ):
            step = _step(status, "validate")
            step.state, step.started_at, step.attempts = StepState.RUNNING, now, 1
            if finding is None:
                self._fail(status, step, f"the finding cannot be remediated: {error}", now)
                continue
            status.finding_id, status.resource = finding.finding_id, finding.object_id
            status.rule_id, status.account_id = finding.rule_id, finding.account.account_id
            status.code_version, status.job_checksums = finding.code_version, finding.job_checksums
            _end(
                step,
                StepState.SUCCEEDED,
                f"finding {finding.finding_id} on {finding.object_id}",
                now,
            )
            self._run_ids[id(finding)] = status.run_id
            self._findings[status.run_id] = finding
            self._payloads[status.run_id] = finding.payload
            if finding.opted_out:  # its opt-out tag in the finding, or an excluded account
                _leave_alone(status, "left alone: " + finding.opted_out.split(":")[0])
                _close(status, RunState.SKIPPED, finding.opted_out, now)
                continue
            job = _step(status, "job")
            if verify and job.name.removeprefix("job ") in finding.verifiable:
                check = StepStatus(name=f"verify {job.name.removeprefix('job ')}", kind="verify")
                status.steps.insert(status.steps.index(job) + 1, check)
            active.append(finding)
        return active

    def run_id_of(self, finding: ValidatedFinding) -> str:
        return self._run_ids[id(finding)]

    def _member(self, finding: ValidatedFinding) -> RunStatus:
        found = self.status.member(self.run_id_of(finding))
        assert found is not None
        return found

    def opted_out(self, finding: ValidatedFinding, reason: str, now: datetime) -> None:
        """Its live tags opt it out (read after the role was assumed): nothing more is done."""
        status = self._member(finding)
        _leave_alone(status, "left alone: the resource opted out")
        _close(status, RunState.SKIPPED, reason, now)

    # -- steps --------------------------------------------------------------------------------

    def begin(self, findings: list[ValidatedFinding], kind: str, now: datetime) -> None:
        for finding in findings:
            status = self._member(finding)
            step = _step(status, kind)
            step.state, step.started_at = StepState.RUNNING, now
            status.current_step = step.name

    def _active(self) -> list[RunStatus]:
        return [self._member(f) for f in self._findings.values() if not self._ended(f)]

    def _ended(self, finding: ValidatedFinding) -> bool:
        return self._member(finding).ended_at is not None

    def begin_all(self, kind: str, now: datetime) -> None:
        for status in self._active():
            step = _step(status, kind)
            step.state, step.started_at, step.attempts = StepState.RUNNING, now, 1
            status.current_step = step.name

    def end_all(self, kind: str, message: str, now: datetime) -> None:
        for status in self._active():
            _end(_step(status, kind), StepState.SUCCEEDED, message, now)

    def fail_all(self, kind: str, reason: str, now: datetime) -> None:
        for status in self._active():
            self._fail(status, _step(status, kind), reason, now)

    def attempted(
        self, finding: ValidatedFinding, kind: str, result: MemberResult, attempt: int
    ) -> None:
        step = _step(self._member(finding), kind)
        step.attempts, step.exit_code = attempt, result.exit_code
        step.log_tail, step.errors_logged = result.log_tail, result.errors_logged

    def succeed(
        self,
        finding: ValidatedFinding,
        kind: str,
        result: MemberResult,
        verify: bool,
        now: datetime,
    ) -> None:
        step = _step(self._member(finding), kind)
        if verify:
            _end(step, StepState.SUCCEEDED, "the resource complies (verified with its batch)", now)
            return
        step.changes, step.records = result.changes, result.records
        done = f"{len(result.changes)} change(s)" if result.changes else "no change needed"
        _end(step, StepState.SUCCEEDED, f"exit 0 in its batch's process: {done}", now)

    def fail(self, finding: ValidatedFinding, kind: str, reason: str, now: datetime) -> None:
        status = self._member(finding)
        self._fail(status, _step(status, kind), reason, now)

    def succeeded(self, finding: ValidatedFinding) -> bool:
        status = self._member(finding)
        return status.ended_at is None and all(
            s.state in (StepState.SUCCEEDED, StepState.PENDING, StepState.SKIPPED)
            for s in status.steps
            if s.kind in _DECIDING
        )

    def _fail(self, status: RunStatus, step: StepStatus, reason: str, now: datetime) -> None:
        _end(step, StepState.FAILED, reason, now)
        for later in status.steps:
            if later.state == StepState.PENDING and later.kind != "notify":
                later.state = StepState.SKIPPED
        _close(status, RunState.FAILED, f"{step.name} failed: {reason}", now)

    # -- tags ---------------------------------------------------------------------------------

    def end_tags(
        self, findings: list[ValidatedFinding], state: StepState, message: str, _: dict[str, str]
    ) -> None:
        for finding in findings:
            step = _step(self._member(finding), "tag")
            step.state, step.message = state, message

    def tagged(
        self, findings: list[ValidatedFinding], result: TagManyResult, now: datetime
    ) -> None:
        for finding in findings:
            step = _step(self._member(finding), "tag")
            ok = result.tagged.get(finding.object_id, False)
            message = result.messages.get(finding.object_id, "not tagged")
            _end(step, StepState.SUCCEEDED if ok else StepState.SKIPPED, message, now)

    # -- the end ------------------------------------------------------------------------------

    def finish_all(self, now: datetime) -> None:
        """Close every member still open: it went through (its steps say how)."""
        for status in self.status.members:
            if status.ended_at is not None:
                continue
            for step in status.steps:
                if step.state == StepState.PENDING and step.kind == "tag":
                    step.state = StepState.SKIPPED
            changes = status.changes_made()
            said = (
                f"{len(changes)} change(s) made" if changes else "already compliant: no change made"
            )
            noisy = [s for s in status.steps if s.errors_logged]
            state = RunState.SUCCEEDED_WITH_ERRORS if noisy else RunState.SUCCEEDED
            if noisy:
                said = (
                    f"succeeded with errors: {', '.join(s.name for s in noisy)} exited 0 but "
                    f"logged {sum(s.errors_logged for s in noisy)} error line(s) ({said})"
                )
            _close(status, state, f"{said} (batch {self.status.batch_id})", now)

    def verdict(self) -> tuple[RunState, str]:
        """The batch's word: how many of its findings ended how."""
        counts: dict[str, int] = {}
        for status in self.status.members:
            counts[status.state.value] = counts.get(status.state.value, 0) + 1
        said = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        failed = counts.get(RunState.FAILED.value, 0)
        total = len(self.status.members)
        state = RunState.FAILED if failed == total else RunState.SUCCEEDED
        return state, f"{total} finding(s): {said}"

    def notifiable(self) -> list[tuple[RunStatus, dict[str, Any]]]:
        """The members a notification is owed (a skipped one changed nothing: none)."""
        return [
            (status, self._payloads[status.run_id])
            for status in self.status.members
            if status.state != RunState.SKIPPED
        ]

    def notified(self, status: RunStatus, said: str, now: datetime) -> None:
        status.notification = said
        step = next((s for s in status.steps if s.kind == "notify"), None)
        if step is not None:
            ok = not said.startswith("no notification")
            step.state = StepState.SUCCEEDED if ok else StepState.FAILED
            step.message, step.started_at, step.ended_at = said, now, now

    def notified_all(self, said: str, now: datetime) -> None:
        for status, _ in self.notifiable():
            self.notified(status, f"with its batch: {said}", now)

    def batch_report(self, now: datetime) -> tuple[RunStatus, dict[str, Any]]:
        """One run status standing for the whole batch (notify_per: batch), and a payload."""
        state, message = self.verdict()
        lines = [
            f"{m.resource or m.run_id}: {m.state.value}: {m.message}" for m in self.status.members
        ]
        first = self.status.members[0]
        report = RunStatus(
            run_id=self.status.batch_id,
            remediation=self.status.remediation,
            state=state,
            message=message + "\n" + "\n".join(lines)[:20_000],
            resource=f"{len(self.status.members)} resources",
            account_id=self.status.account_id,
            started_at=first.started_at,
            ended_at=now,
            steps=[
                StepStatus(
                    name="job",
                    kind="job",
                    state=StepState.SUCCEEDED,
                    changes=[
                        f"{m.resource}: {c}" for m in self.status.members for c in m.changes_made()
                    ],
                )
            ],
        )
        return report, self._payloads[first.run_id]


def _step(status: RunStatus, kind: str) -> StepStatus:
    return next(s for s in status.steps if s.kind == kind)


def _end(step: StepStatus, state: StepState, message: str, now: datetime) -> None:
    step.state, step.ended_at, step.message = state, now, message


def _leave_alone(status: RunStatus, why: str) -> None:
    """Every step not yet taken is skipped, saying why (a run left alone notifies no one)."""
    for step in status.steps:
        if step.state == StepState.PENDING:
            step.state, step.message = StepState.SKIPPED, why


def _close(status: RunStatus, state: RunState, message: str, now: datetime) -> None:
    status.state, status.message, status.ended_at = state, message, now
    status.current_step = None
