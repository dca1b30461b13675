"""How the workflow's activities are retried and timed, and how their failures read.

Deterministic code, imported by the workflow: constants and a pure function only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

#: Throttling, 5xx and connection errors: retried with backoff for about ten minutes, at most
#: 10 s apart so a step resumes soon after the cloud is back. Non-retryable errors (validation,
#: AccessDenied, unknown job) are raised as such by the activities and stop at once.
INFRA_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=64,
)
#: Validation is CPU only: a failure other than a clear refusal is a bug, worth two more tries.
VALIDATE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
#: Jira or a webhook down: retried with backoff for about five minutes, then the run reports it.
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=8,
)
#: A job heartbeats every second; a worker that dies mid-job is noticed within this.
JOB_HEARTBEAT_TIMEOUT = timedelta(seconds=30)


def why(error: BaseException) -> tuple[str, dict[str, Any]]:
    """The plain reason an activity failed, and its details (a JobFailure) when it has them."""
    cause = error.cause if isinstance(error, ActivityError) and error.cause else error
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        return cause.message, details
    if isinstance(cause, TimeoutError):
        return (
            f"the step timed out ({cause.type.name if cause.type else 'timeout'}): the worker "
            "running it stopped answering",
            {},
        )
    return str(cause) or type(cause).__name__, {}
