"""What a run's message says it did: pure functions of its status (deterministic)."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from remedy.types import RunStatus, StepState


def chain_summary(status: RunStatus, silent_jobs: list[str]) -> str:
    """What the chain did. "Already compliant" only when every job would have said otherwise:
    a job that does not report its changes (a foreign VSS job) may have fixed the resource."""
    changes = status.changes_made()
    if changes:
        return f"{len(changes)} change(s) made"
    if silent_jobs:
        return f"job exited 0; it reports no changes ({', '.join(silent_jobs)})"
    return "already compliant: no change made"


def plan_summary(status: RunStatus) -> str:
    """What a plan run found: the changes a remediation would make (none was made)."""
    changes = [c for s in status.steps for c in s.changes]
    if not changes:
        return "plan: already compliant, a remediation would change nothing"
    return f"plan: {len(changes)} change(s) would be made, none made: {'; '.join(changes)}"


def rollback_summary(status: RunStatus) -> str:
    """What a rollback run undid."""
    changes = [c for s in status.steps for c in s.changes]
    undone = f"rolled back {status.rollback_of}" if status.rollback_of else "rolled back"
    if not changes:
        return f"{undone}: nothing to undo"
    return f"{undone}: {len(changes)} change(s) undone"


def cancelled_summary(status: RunStatus, now: datetime) -> str:
    """Close the steps of a cancelled run and say what it did before it stopped: its changes are
    real, so they are named (a cancel undoes nothing)."""
    for step in status.steps:
        if step.state == StepState.RUNNING:  # cancelled between two calls (a backoff sleep)
            step.state, step.ended_at = StepState.CANCELLED, now
            step.message = step.message or "cancelled while it waited"
        elif step.state == StepState.PENDING and step.kind != "notify":
            step.state = StepState.SKIPPED
    changes = status.changes_made()
    where = next((s.name for s in status.steps if s.state == StepState.CANCELLED), None)
    text = "the run was cancelled" + (f" during {where}" if where else "")
    if changes:
        return f"{text}; {len(changes)} change(s) made before it stopped: {'; '.join(changes)}"
    return f"{text}; no change was made"
