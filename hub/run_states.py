"""The one vocabulary of a run's state in the hub: the store's column, the API, the poller.

The workflow's own states (`remedy.types.RunState`) plus the two before it reports: claimed in
the store but not yet started (`pending`), started but not yet heard from (`submitted`). A StrEnum,
so the stored values are the plain strings they always were.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from remedy.types import RunState


class HubRunState(StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    SUCCEEDED = "succeeded"
    SUCCEEDED_WITH_ERRORS = "succeeded_with_errors"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    TERMINATED = "terminated"
    TIMED_OUT = "timed_out"
    STUCK = "stuck"

    @classmethod
    def of_workflow(cls, state: RunState | str) -> HubRunState:
        """The hub's name for a state the workflow reported."""
        return cls(RunState(state).value)


#: not ended: the poller follows these (and retries the starts of pending ones)
ACTIVE = (
    HubRunState.PENDING,
    HubRunState.SUBMITTED,
    HubRunState.RUNNING,
    HubRunState.AWAITING_APPROVAL,
    HubRunState.STUCK,
)
ENDED = (
    HubRunState.SUCCEEDED,
    HubRunState.SUCCEEDED_WITH_ERRORS,
    HubRunState.FAILED,
    HubRunState.CANCELLED,
    HubRunState.SKIPPED,
    HubRunState.TERMINATED,
    HubRunState.TIMED_OUT,
)
#: every job exited 0 (a job may have logged errors): the finding counts as remediated
SUCCESSFUL = (HubRunState.SUCCEEDED, HubRunState.SUCCEEDED_WITH_ERRORS)
#: ended without a fix: a manual trigger starts the run again
RESTARTABLE = (
    HubRunState.FAILED,
    HubRunState.CANCELLED,
    HubRunState.TERMINATED,
    HubRunState.TIMED_OUT,
)


def finding_status(runs: Sequence[HubRunState]) -> str:
    """A finding's status from its runs' states, the last updated first: `queued` while its
    open runs are all claimed but not started (pending: waiting for Temporal, the action's
    limits or its grace), `remediating` while one is started and open; then the latest run's
    outcome: `remediated` (every job exited 0), `open` again when the resource opted out
    (skipped), else `failed`. No run: `open`."""
    if not runs:
        return "open"
    active = [state for state in runs if state in ACTIVE]
    if active:
        return "queued" if all(s == HubRunState.PENDING for s in active) else "remediating"
    if runs[0] in SUCCESSFUL:
        return "remediated"
    if runs[0] == HubRunState.SKIPPED:
        return "open"
    return "failed"
