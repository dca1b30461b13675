"""Claiming a run, and the finding's status that follows from its runs.

Both ingest (auto runs, `hub/ingest.py`) and manual triggers (`hub/runs.py`) claim runs here, so
neither of those modules needs the other's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.models import Finding, Remediation, Run, utcnow
from hub.run_states import SUCCESSFUL, HubRunState, finding_status
from remedy.starter import run_id_for


@dataclass
class RunToStart:
    run_id: str
    action_id: int
    finding_id: str
    group_id: str
    payload: dict[str, Any]


def claim_run(
    session: Session,
    finding: Finding,
    action: Remediation,
    *,
    trigger: str,
    by: str,
    mode: str = "remediate",
) -> tuple[Run, bool]:
    """The run of (finding, action) in this mode (remediate or plan): claimed now as `pending`
    (True), or the one that exists."""
    for _ in range(2):
        run = session.scalar(
            select(Run).where(
                Run.finding_id == finding.id, Run.remediation_id == action.id, Run.mode == mode
            )
        )
        if run is not None:
            return run, False
        now = utcnow()
        run = Run(
            id=run_id_for(finding.id, action.name, mode),
            mode=mode,
            finding_id=finding.id,
            remediation_id=action.id,
            group_id=action.group_id,
            trigger=trigger,
            triggered_by=by,
            status=HubRunState.PENDING,
            message="starting",
            start_attempts=1,
            created_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(run)
            return run, True
        except IntegrityError:
            continue  # another hub claimed it a moment ago: use its run
    raise RuntimeError(f"the run of finding {finding.id} by action {action.id} is unreadable")


def follow_runs(session: Session, finding: Finding) -> None:
    """The finding's status from its runs (`hub.run_states.finding_status`; its plan runs left
    out, an undone remediation makes it open again). A suppressed finding stays so, and so does
    one the source resolved (its word is the last)."""
    if finding.status in ("suppressed", "resolved"):
        return
    runs = session.scalars(
        select(Run).where(Run.finding_id == finding.id).order_by(Run.updated_at.desc())
    ).all()
    follow(finding, runs)


def follow(finding: Finding, runs: Sequence[Run]) -> None:
    """`follow_runs` with the finding's runs read already, the last updated first."""
    if finding.status in ("suppressed", "resolved"):
        return
    runs = [r for r in runs if r.mode != "plan"]  # a plan changes nothing about the finding
    if runs and runs[0].mode == "rollback" and runs[0].status in SUCCESSFUL:
        finding.status = "open"  # its remediation was undone: the problem is back
        return
    finding.status = finding_status([r.status for r in runs])
