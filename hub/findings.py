"""Ingest findings (deduplicated by finding id) and match them against published actions.

Findings come in any format intake reads (remedy/intake: ASFF, OCSF, VSS; wrappers opened); each
is stored as the VSS payload built from it, with the original document beside it. The source's
lifecycle is followed: FAILED / WARNING findings are acted on; a PASSED one resolves the
resource's open finding; SUPPRESSED, RESOLVED and ARCHIVED ones are recorded, never acted on.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import start_queue
from hub.claims import RunToStart, claim_run, follow_runs
from hub.errors import ApiError, check_storable, not_found
from hub.groups import group_account_ids
from hub.models import CloudAccount, Finding, Remediation, Run, WorkerGroup, utcnow
from hub.schemas import LEVEL_RANK, Criteria, FindingDetail, FindingOut, FindingStatus, IngestItem
from remedy.finding import PayloadError
from remedy.intake import NormalisedFinding, Read, read_all
from remedy.intake.normalised import control_ids

MAX_BATCH = 1000


@dataclass
class Facts:
    """What the hub reads from a finding to store and match it."""

    finding_id: str
    provider: str
    account_id: str
    rule_id: str | None
    rule_name: str | None
    level: str | None
    risk_score: float | None
    region: str | None
    object_id: str
    cloud_tags: dict[str, str]
    #: every control id the source names (bare: `EC2.13`, `4.1`, a Prowler check id)
    controls: tuple[str, ...] = ()


def read_finding(session: Session, normalised: NormalisedFinding) -> Facts:
    """Read the finding's VSS payload with the finding contract, once, and keep its facts;
    PayloadError if bad.

    An AWS finding without a role is taken: the role comes from the account's registration when a
    run starts. A registered account's role is the one a run would use, so it is the one checked.
    """
    payload = normalised.vss_payload()
    try:
        check_storable(payload, "payload")
        check_storable(normalised.original, "payload")
    except ApiError as exc:
        raise PayloadError(
            str(exc.field).removeprefix("payload."), exc.error.split(": ", 1)[-1]
        ) from None
    known = session.get(CloudAccount, normalised.account_id[:64])
    finding = normalised.finding(role_arn=known.role_arn if known else None)
    # ids may hold '/' (an ASFF Id is an ARN): the API takes them as `{finding_id:path}`
    if len(finding.finding_id) > 200 or any(
        ord(c) < 32 or ord(c) == 127 for c in finding.finding_id
    ):
        raise PayloadError(
            "notificationInfo.FindingInfo.FindingId"
            if normalised.format == "vss"
            else {"asff": "Id", "ocsf": "finding_info.uid"}[normalised.format],
            "must be at most 200 characters, without control characters",
        )

    def text(value: str | None, limit: int) -> str | None:
        return None if value is None else value[:limit]

    score = finding.risk_score
    return Facts(
        finding_id=finding.finding_id,
        provider=finding.provider,
        account_id=finding.account_id[:64],
        rule_id=text(finding.rule_id, 200),
        rule_name=text(finding.rule_name, 200),
        level=text(finding.level, 50),
        # a score given as text ("nan" too) is read as a number; only a finite one is kept
        risk_score=score if score is not None and math.isfinite(score) else None,
        region=text(finding.region, 100),
        object_id=finding.object_id[:2048],
        cloud_tags=finding.cloud_tags,
        controls=tuple(control_ids(payload)),
    )


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


def facts_of(finding: Finding) -> Facts:
    details = (finding.payload.get("notificationInfo") or {}).get("FindingInfo") or {}
    tags = details.get("CloudTags") or {}
    return Facts(
        finding_id=finding.id,
        provider=finding.provider,
        account_id=finding.account_id,
        rule_id=finding.rule_id,
        rule_name=finding.rule_name,
        level=finding.level,
        risk_score=finding.risk_score,
        region=finding.region,
        object_id=finding.object_id,
        cloud_tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
        controls=tuple(control_ids(finding.payload)),
    )


def mismatch(
    facts: Facts, action: Remediation, group_accounts: set[str], *, criteria: bool = True
) -> str | None:
    """Why the action does not take this finding (None: it does)."""
    if facts.provider != action.provider:
        return f"the finding is from {facts.provider}, the action is for {action.provider}"
    rules = set(action.rule_ids)
    if not rules & {facts.rule_id, facts.rule_name, *facts.controls}:
        return f"the finding's rule {facts.rule_id or facts.rule_name!r} is not one of the action's"
    if facts.account_id not in group_accounts:
        return f"account {facts.account_id} is not associated with worker group {action.group_id}"
    if action.account_ids and facts.account_id not in action.account_ids:
        return f"account {facts.account_id} is not one of the action's accounts"
    if not criteria:
        return None
    wanted = Criteria.model_validate(action.criteria)
    if wanted.regions and facts.region not in wanted.regions:
        return f"region {facts.region} is not one of {', '.join(wanted.regions)}"
    for key, value in wanted.cloud_tags.items():
        if key not in facts.cloud_tags or value not in ("*", facts.cloud_tags[key]):
            return f"the resource does not carry the tag {key}={value}"
    if wanted.min_risk_score is not None and (
        facts.risk_score is None or facts.risk_score < wanted.min_risk_score
    ):
        return f"risk score {facts.risk_score} is below {wanted.min_risk_score:g}"
    if (
        wanted.min_level is not None
        and LEVEL_RANK.get((facts.level or "").lower(), 0) < LEVEL_RANK[wanted.min_level.lower()]
    ):
        return f"level {facts.level} is below {wanted.min_level}"
    return None


@dataclass
class Ingested:
    items: list[IngestItem]
    to_start: list[RunToStart]


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
    of accounts associated with this worker group (what its workers pulled)."""
    reads = read_all(documents, forced)
    if not reads:
        raise ApiError(422, "no findings in the request", "send one finding or a list of them")
    if len(reads) > MAX_BATCH:
        raise ApiError(
            422,
            f"{len(reads)} findings in one request; the limit is {MAX_BATCH}",
            "send them in batches",
        )
    published = list(
        session.scalars(select(Remediation).where(Remediation.status == "published")).all()
    )
    groups = {g.id: g for g in session.scalars(select(WorkerGroup)).all()}
    accounts = {g: group_account_ids(session, g) for g in groups}
    items: list[IngestItem] = []
    to_start: list[RunToStart] = []
    for read in reads:
        try:
            if read.finding is None:
                raise read.error or PayloadError("", "not a finding")
            facts = read_finding(session, read.finding)
            if only_group is not None and facts.account_id not in accounts.get(only_group, set()):
                raise PayloadError(
                    "account",
                    f"account {facts.account_id} is not associated with worker group {only_group}",
                )
        except PayloadError as exc:
            items.append(_rejected(read, exc))
            continue
        normalised = read.finding
        original = None if normalised.format == "vss" else normalised.original
        finding, created = _store(session, facts, normalised.vss_payload(), original)
        disposition, why = normalised.disposition
        item = IngestItem(
            index=read.index,
            finding_id=finding.id,
            result="created" if created else "updated",
            format=normalised.format,
            note=None if disposition == "act" else why,
        )
        _follow_source(session, finding, normalised)
        for action in published:
            if mismatch(facts, action, accounts.get(action.group_id, set())) is None:
                item.matched.append(action.id)
                if disposition == "act":
                    claimed = _auto_run(session, finding, action, groups.get(action.group_id))
                    item.queued += [c.run_id for c in claimed]
                    to_start += claimed
        item.runs = list(
            session.scalars(select(Run.id).where(Run.finding_id == finding.id).order_by(Run.id))
        )
        follow_runs(session, finding)
        item.status = cast(FindingStatus, finding.status)
        items.append(item)
    return Ingested(items, to_start)


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


def _auto_run(
    session: Session, finding: Finding, action: Remediation, group: WorkerGroup | None
) -> list[RunToStart]:
    """The run a matching auto-remediating action claims (none if claimed before or held off)."""
    if not action.auto_remediate or finding.status == "suppressed" or group is None:
        return []
    if not group.enabled:
        return []  # a disabled group takes no new runs; the match is still reported
    run, claimed = claim_run(session, finding, action, trigger="auto", by="auto-remediation")
    if not claimed:
        return []
    start_queue.enqueue(session, run.id)  # in the claim's transaction: a claimed run is never lost
    payload = {**finding.payload, "autoRemediate": True}
    return [RunToStart(run.id, action.id, finding.id, group.id, payload)]


def get_finding(session: Session, finding_id: str) -> Finding:
    finding = session.get(Finding, finding_id)
    if finding is None:
        raise not_found("finding", finding_id, "/findings")
    return finding


def finding_detail(session: Session, finding: Finding) -> FindingDetail:
    return FindingDetail(
        **finding_out(session, finding).model_dump(),
        payload=copy.deepcopy(finding.payload),
        original=copy.deepcopy(finding.original),
    )


def finding_out(session: Session, finding: Finding) -> FindingOut:
    runs = list(
        session.scalars(select(Run.id).where(Run.finding_id == finding.id).order_by(Run.id))
    )
    values: dict[str, Any] = {
        "id": finding.id,
        "status": finding.status,
        "provider": finding.provider,
        "account_id": finding.account_id,
        "rule_id": finding.rule_id,
        "rule_name": finding.rule_name,
        "level": finding.level,
        "risk_score": finding.risk_score,
        "region": finding.region,
        "object_id": finding.object_id,
        "first_seen": finding.first_seen,
        "last_seen": finding.last_seen,
        "times_seen": finding.times_seen,
        "runs": runs,
    }
    return FindingOut(**values)


def set_status(session: Session, finding_id: str, status: str) -> Finding:
    finding = get_finding(session, finding_id)
    finding.status = status
    if status == "open":
        follow_runs(session, finding)
    return finding
