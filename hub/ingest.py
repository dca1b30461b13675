"""Ingest findings: store each (deduplicated by finding id), match it, claim and queue its runs.

Findings come in any format intake reads (remedy/intake: ASFF, OCSF, VSS; wrappers opened); each
is stored as the VSS payload built from it, with the original document beside it. The source's
lifecycle is followed: FAILED / WARNING findings are acted on; a PASSED one resolves the
resource's open finding; SUPPRESSED, RESOLVED and ARCHIVED ones are recorded, never acted on.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from hub import bulk, start_queue
from hub.claims import RunToStart, claim_run, follow, follow_runs
from hub.errors import ApiError
from hub.findings import Facts, mismatch, read_finding
from hub.groups import group_account_ids
from hub.models import CloudAccount, Finding, Remediation, Run, WorkerGroup, utcnow
from hub.schemas import FindingStatus, IngestItem, IngestResult
from remedy.finding import PayloadError
from remedy.intake import NormalisedFinding, Read, read_all
from remedy.starter import run_id_for

MAX_BATCH = 1000


def _store(
    session: Session, facts: Facts, payload: dict[str, Any], original: dict[str, Any] | None
) -> tuple[Finding, bool]:
    now = utcnow()
    for _ in range(2):  # another hub may insert the same finding at the same moment
        finding = session.get(Finding, facts.finding_id)
        if finding is not None:
            # in SQL, not in Python: concurrent deliveries must not overwrite each other's count
            finding.times_seen = Finding.times_seen + 1
            created = False
            break
        finding = Finding(id=facts.finding_id, first_seen=now, times_seen=1, status="open")
        try:
            with session.begin_nested():
                _fill(finding, facts, payload, original, now)
                session.add(finding)
            return finding, True
        except IntegrityError:
            continue
    else:
        raise RuntimeError(f"finding {facts.finding_id} could be neither inserted nor read")
    _fill(finding, facts, payload, original, now)
    return finding, created


def _fill(
    finding: Finding,
    facts: Facts,
    payload: dict[str, Any],
    original: dict[str, Any] | None,
    now: Any,
) -> None:
    finding.provider = facts.provider
    finding.account_id = facts.account_id
    finding.rule_id = facts.rule_id
    finding.rule_name = facts.rule_name
    finding.level = facts.level
    finding.risk_score = facts.risk_score
    finding.region = facts.region
    finding.object_id = facts.object_id
    finding.payload = copy.deepcopy(payload)
    finding.original = None if original is None else copy.deepcopy(original)
    finding.last_seen = now


@dataclass
class Ingested:
    items: list[IngestItem]
    to_start: list[RunToStart]

    def answer(self) -> IngestResult:
        """What POST /findings (and /worker/findings) answers: the runs are queued in the store
        with their claims, and started without waiting."""
        accepted = sum(1 for i in self.items if i.result != "rejected")
        queued = len(self.to_start)
        return IngestResult(
            accepted=accepted,
            rejected=len(self.items) - accepted,
            items=self.items,
            queued=queued,
            runs="queued" if queued else "none",
        )


def ingest(
    session: Session,
    documents: Any,
    forced: str | None = None,
    *,
    only_group: str | None = None,
) -> Ingested:
    """Store each finding, match it, and claim an auto run per (finding, auto action) for the
    findings the source says to act on. `documents`: findings in any format intake reads, and
    wrappers of them; `forced`: read every one as that format; `only_group`: take only findings
    of accounts associated with this worker group (what its workers pulled).

    The findings are written in runs of distinct ids with one statement per table (`hub/bulk.py`);
    a finding seen twice in the request starts a new run, so the second sighting sees the
    first, and a PASSED one, which closes other findings, takes the per-row path on its own:
    every answer is the one the findings taken one by one would give."""
    reads = read_all(documents, forced)
    if not reads:
        raise ApiError(422, "no findings in the request", "send one finding or a list of them")
    if len(reads) > MAX_BATCH:
        raise ApiError(
            422,
            f"{len(reads)} findings in one request; the limit is {MAX_BATCH}",
            "send them in batches",
        )
    context = _Context(session)
    ids = {r.finding.account_id[:64] for r in reads if r.finding is not None}
    known = {a.id: a for a in session.scalars(select(CloudAccount).where(CloudAccount.id.in_(ids)))}
    items: list[IngestItem] = []
    chunk: list[tuple[Read, Facts, int]] = []
    for read in reads:
        try:
            if read.finding is None:
                raise read.error or PayloadError("", "not a finding")
            facts = read_finding(session, read.finding, known)
            if only_group is not None and facts.account_id not in context.accounts.get(
                only_group, set()
            ):
                raise PayloadError(
                    "account",
                    f"account {facts.account_id} is not associated with worker group {only_group}",
                )
        except PayloadError as exc:
            items.append(_rejected(read, exc))
            continue
        alone = read.finding.disposition[0] == "close" or not bulk.supported(session)
        if alone or any(facts.finding_id == f.finding_id for _, f, _ in chunk):
            _ingest_chunk(context, chunk, items)
            chunk = []
        items.append(IngestItem(index=read.index, finding_id=facts.finding_id, result="created"))
        if alone:
            items[-1] = _ingest_one(context, read, facts)
        else:
            chunk.append((read, facts, len(items) - 1))
    _ingest_chunk(context, chunk, items)
    return Ingested(items, context.to_start)


class _Context:
    """What matching a batch reads once: published actions, groups and their accounts."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.published = list(
            session.scalars(select(Remediation).where(Remediation.status == "published")).all()
        )
        self.groups = {g.id: g for g in session.scalars(select(WorkerGroup)).all()}
        self.accounts = {g: group_account_ids(session, g) for g in self.groups}
        self.to_start: list[RunToStart] = []

    def matches(self, facts: Facts) -> list[Remediation]:
        return [
            action
            for action in self.published
            if mismatch(facts, action, self.accounts.get(action.group_id, set())) is None
        ]


def _new_item(read: Read, finding: Finding, created: bool) -> IngestItem:
    assert read.finding is not None
    disposition, why = read.finding.disposition
    return IngestItem(
        index=read.index,
        finding_id=finding.id,
        result="created" if created else "updated",
        format=read.finding.format,
        note=None if disposition == "act" else why,
    )


def _ingest_one(context: _Context, read: Read, facts: Facts) -> IngestItem:
    """One finding, row by row (savepoints where a racing hub may win a row)."""
    session, normalised = context.session, read.finding
    assert normalised is not None
    original = None if normalised.format == "vss" else normalised.original
    finding, created = _store(session, facts, normalised.vss_payload(), original)
    item = _new_item(read, finding, created)
    _follow_source(session, finding, normalised)
    for action in context.matches(facts):
        item.matched.append(action.id)
        if normalised.disposition[0] == "act":
            claimed = _auto_run(session, finding, action, context.groups.get(action.group_id))
            item.queued += [c.run_id for c in claimed]
            context.to_start += claimed
    item.runs = list(
        session.scalars(select(Run.id).where(Run.finding_id == finding.id).order_by(Run.id))
    )
    follow_runs(session, finding)
    item.status = cast(FindingStatus, finding.status)
    return item


def _ingest_chunk(
    context: _Context, chunk: list[tuple[Read, Facts, int]], items: list[IngestItem]
) -> None:
    """Findings of distinct ids, none closing another, in a few statements: upsert them, read
    them and their runs back, claim and queue the new runs; `items[slot]` gets each answer."""
    if not chunk:
        return
    session, now = context.session, utcnow()
    session.flush()  # the statements below read and write rows the session may hold changed
    rows = []
    for read, facts, _ in chunk:
        assert read.finding is not None
        original = None if read.finding.format == "vss" else read.finding.original
        rows.append(_row(facts, read.finding.vss_payload(), original, now))
    created = bulk.upsert_findings(session, rows)
    ids = [facts.finding_id for _, facts, _ in chunk]
    found = (
        select(Finding)
        .where(Finding.id.in_(ids))
        .options(defer(Finding.original))  # kept as received; ingest reads only the payload
        .execution_options(populate_existing=True)
    )
    findings = {f.id: f for f in session.scalars(found)}
    wanted: list[tuple[Finding, Remediation, WorkerGroup]] = []
    for read, facts, slot in chunk:
        assert read.finding is not None
        finding = findings[facts.finding_id]
        item = items[slot] = _new_item(read, finding, created[finding.id])
        _follow_source(session, finding, read.finding)
        for action in context.matches(facts):
            item.matched.append(action.id)
            group = context.groups.get(action.group_id)
            if read.finding.disposition[0] == "act" and _may_claim(finding, action, group):
                assert group is not None
                wanted.append((finding, action, group))
    claims = {(f.id, a.id): run_id_for(f.id, a.name, _mode(a)) for f, a, _ in wanted}
    claimed = bulk.insert_runs(
        session,
        [(claims[f.id, a.id], f.id, a.id, g.id, _mode(a)) for f, a, g in wanted],
        trigger="auto",
        by="auto-remediation",
        message=start_queue.QUEUED_MESSAGE,
        now=now,
    )
    start_queue.enqueue_all(session, sorted(claimed))
    runs: dict[str, list[Run]] = {finding_id: [] for finding_id in ids}
    listed = select(Run).where(Run.finding_id.in_(ids)).order_by(Run.updated_at.desc())
    for run in session.scalars(listed.execution_options(populate_existing=True)):
        runs[run.finding_id].append(run)
    for finding, action, group in wanted:
        item = items[next(slot for _, facts, slot in chunk if facts.finding_id == finding.id)]
        if claims[finding.id, action.id] in claimed:
            payload = {**finding.payload, "autoRemediate": True}
            run_id = claims[finding.id, action.id]
            item.queued.append(run_id)
            context.to_start.append(RunToStart(run_id, action.id, finding.id, group.id, payload))
        elif not any(
            r.remediation_id == action.id and r.mode == _mode(action) for r in runs[finding.id]
        ):
            # the id is taken by a row the batch did not expect: settle it row by row
            claimed_now = _auto_run(session, finding, action, group)
            item.queued += [c.run_id for c in claimed_now]
            context.to_start += claimed_now
            runs[finding.id] = list(session.scalars(listed.where(Run.finding_id == finding.id)))
    for _, facts, slot in chunk:
        finding = findings[facts.finding_id]
        items[slot].runs = sorted(r.id for r in runs[finding.id])
        follow(finding, runs[finding.id])
        items[slot].status = cast(FindingStatus, finding.status)


def _row(
    facts: Facts, payload: dict[str, Any], original: dict[str, Any] | None, now: Any
) -> dict[str, Any]:
    """The columns `_fill` sets, as one row of a multi-row statement."""
    return {
        "id": facts.finding_id,
        "provider": facts.provider,
        "account_id": facts.account_id,
        "rule_id": facts.rule_id,
        "rule_name": facts.rule_name,
        "level": facts.level,
        "risk_score": facts.risk_score,
        "region": facts.region,
        "object_id": facts.object_id,
        "payload": payload,
        "original": original,
        "last_seen": now,
    }


def _rejected(read: Read, exc: PayloadError) -> IngestItem:
    return IngestItem(
        index=read.index,
        finding_id=read.stated_id,
        result="rejected",
        format=read.format,
        error=str(exc),
        fix="correct the finding: docs/hub.md gives the formats the hub reads and their fields",
        field=exc.field or None,
    )


def _follow_source(session: Session, finding: Finding, normalised: NormalisedFinding) -> None:
    """The source's word on the finding: PASSED resolves it, and the open findings of the same
    rule on the same resource; SUPPRESSED suppresses it; RESOLVED / ARCHIVED resolve it; a FAILED
    finding that was resolved is open again (a person's suppression stays)."""
    disposition, _ = normalised.disposition
    if disposition == "close":
        finding.status = "resolved"
        same = select(Finding).where(
            Finding.account_id == finding.account_id,
            Finding.object_id == finding.object_id,
            Finding.rule_id == finding.rule_id,
            Finding.status.in_(("open", "failed")),
            Finding.id != finding.id,
        )
        for other in session.scalars(same):
            other.status = "resolved"
    elif disposition == "record":
        if normalised.workflow == "SUPPRESSED":
            finding.status = "suppressed"
        elif normalised.workflow == "RESOLVED" or normalised.record_state == "ARCHIVED":
            finding.status = "resolved"
    elif finding.status == "resolved":
        finding.status = "open"


def _mode(action: Remediation) -> str:
    """The mode of an action's runs: a plan-only action's plan and change nothing."""
    return "plan" if action.run_mode == "plan-only" else "remediate"


def _may_claim(finding: Finding, action: Remediation, group: WorkerGroup | None) -> bool:
    """Whether a matching action claims an auto run: it auto-remediates, the finding is not
    suppressed, its group exists and is enabled (a disabled group takes no new runs; the match is
    still reported)."""
    return (
        action.auto_remediate
        and finding.status != "suppressed"
        and group is not None
        and group.enabled
    )


def _auto_run(
    session: Session, finding: Finding, action: Remediation, group: WorkerGroup | None
) -> list[RunToStart]:
    """The run a matching auto-remediating action claims (none if claimed before or held off)."""
    if not _may_claim(finding, action, group):
        return []
    assert group is not None
    run, claimed = claim_run(
        session, finding, action, trigger="auto", by="auto-remediation", mode=_mode(action)
    )
    if not claimed:
        return []
    start_queue.enqueue(session, run.id)  # in the claim's transaction: a claimed run is never lost
    payload = {**finding.payload, "autoRemediate": True}
    return [RunToStart(run.id, action.id, finding.id, group.id, payload)]
