"""Triage: what Remedy would do with each finding of a file, offline (no hub, no Temporal).

Per finding: its format, control ids, resource, account, region, status, and the job that would fix
it or why none; then the totals (findings, actionable, fixable). A finding is *fixable* when it is
actionable (FAILED / WARNING, active), a built-in job answers to one of its ids, and the VSS payload
built from it passes the finding contract (an Azure finding must name its resource group, ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from remedy.intake.detect import Read
from remedy.intake.matching import JobIndex, no_job_reason, telling_id
from remedy.payload_shape import PayloadError


@dataclass(frozen=True)
class Row:
    index: int
    format: str | None
    finding_id: str | None
    #: the id a person knows it by, then every id it names
    control: str | None = None
    controls: list[str] = field(default_factory=list)
    resource: str | None = None
    account: str | None = None
    region: str | None = None
    status: str | None = None
    disposition: str = "refused"
    job: str | None = None
    fixable: bool = False
    reason: str = ""


@dataclass
class Totals:
    findings: int = 0
    actionable: int = 0
    fixable: int = 0
    refused: int = 0
    by_job: dict[str, int] = field(default_factory=dict)


def _status(read: Read) -> str | None:
    finding = read.finding
    if finding is None:
        return None
    parts = [finding.compliance or "-", finding.workflow]
    if finding.record_state != "ACTIVE":
        parts.append(finding.record_state)
    return "/".join(parts)


def triage_one(read: Read, index: JobIndex) -> Row:
    finding = read.finding
    if finding is None:
        error = read.error or PayloadError("", "unreadable")
        return Row(read.index, read.format, read.stated_id, reason=f"refused: {error}")
    disposition, why = finding.disposition
    row = Row(
        index=read.index,
        format=finding.format,
        finding_id=finding.source_id,
        control=str(telling_id(finding) or "") or None,
        controls=[str(c) for c in finding.controls],
        resource=finding.resource_id,
        account=finding.account_id,
        region=finding.region,
        status=_status(read),
        disposition=disposition,
    )
    jobs = index.matching_jobs(finding)
    job = jobs[0].name if jobs else None
    if disposition != "act":
        return _with(row, job=job, reason=why)
    if not jobs:
        return _with(row, reason=no_job_reason(finding))
    try:
        finding.finding()  # the contract's verdict on the payload the job would receive
    except PayloadError as exc:
        return _with(row, job=job, reason=f"{job} answers to it, but the finding cannot run: {exc}")
    return _with(row, job=job, fixable=True, reason=f"{job} would fix it")


def _with(row: Row, **changes: Any) -> Row:
    return Row(**{**asdict(row), **changes})


def triage(reads: Iterable[Read], index: JobIndex) -> tuple[list[Row], Totals]:
    rows = [triage_one(read, index) for read in reads]
    totals = Totals(findings=len(rows))
    for row in rows:
        totals.refused += row.disposition == "refused"
        totals.actionable += row.disposition == "act"
        if row.fixable and row.job:
            totals.fixable += 1
            totals.by_job[row.job] = totals.by_job.get(row.job, 0) + 1
    return rows, totals
