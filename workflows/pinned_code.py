"""Where a run's job and verify steps go: the task queue of the job code version it was
validated with (docs/architecture.md, "Job code versions").

A worker serves each version of its job code on its own task queue
(`remedy.temporal.job_task_queue_for`), so a step never lands on a worker with other code. No
worker serving the version (all were upgraded, or it went offline): the step's schedule-to-start
timeout fires every `probe()`, the step says it is waiting, and the run fails with the reason
once `code_wait_s` has passed since the step was first queued.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio.exceptions import ActivityError, TimeoutError, TimeoutType

from remedy.types import ValidatedFinding

#: how often, at most, a waiting step checks again (a schedule-to-start timeout costs one task)
LONGEST_PROBE_S = 15.0


class PinnedCode:
    def __init__(self, finding: ValidatedFinding, group_queue: str, now: datetime) -> None:
        self.version = finding.code_version
        self.group_queue = group_queue
        #: None: validated by a worker from before versions (its steps use the group's queue)
        self.task_queue = f"{group_queue}-code-{self.version}" if self.version else group_queue
        self.wait_s = finding.code_wait_s
        self.deadline = now + timedelta(seconds=self.wait_s)

    def probe(self, now: datetime) -> timedelta | None:
        """The step's schedule-to-start timeout: a fraction of the wait left, at least a second."""
        if not self.version:
            return None
        left = (self.deadline - now).total_seconds()
        return timedelta(seconds=max(1.0, min(LONGEST_PROBE_S, self.wait_s / 4, left)))

    def unserved(self, error: ActivityError) -> bool:
        cause = error.cause
        return (
            self.version is not None
            and isinstance(cause, TimeoutError)
            and cause.type == TimeoutType.SCHEDULE_TO_START
        )

    def queued(self) -> str:
        return f"queued for a worker serving job code {self.version}" if self.version else ""

    def waiting(self) -> str:
        return (
            f"waiting for a worker serving job code {self.version}, the version this run was "
            f"validated with: no online worker of the group serves it now (workers poll "
            f"{self.task_queue}); the run fails at {self.deadline.strftime('%H:%M:%SZ')}"
        )

    def gave_up(self) -> str:
        return (
            f"no worker serving job code {self.version} (the version this run was validated "
            f"with) took the step within {self.wait_s:g} s: every worker of the group runs other "
            f"job code, or none is online. Start a worker with that job code, or run the "
            f"remediation again to validate it with the code the workers serve now "
            f"(the wait is the action's code_wait_s, or REMEDY_JOB_CODE_WAIT_S)"
        )
