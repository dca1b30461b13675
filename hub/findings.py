"""A finding's facts (read once with the finding contract) and what the hub shows of a finding;
whether an action takes a finding. Storing findings and claiming their runs: `hub/ingest.py`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.claims import follow_runs
from hub.errors import ApiError, check_storable, not_found
from hub.models import CloudAccount, Finding, Remediation, Run
from hub.schemas import LEVEL_RANK, Criteria, FindingDetail, FindingOut
from remedy.finding import PayloadError
from remedy.intake import NormalisedFinding
from remedy.intake.normalised import control_ids, standards_and_type


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
    #: the standards those ids come from (`securityhub`, `cis-aws-1.2`, `prowler`, ...)
    standards: tuple[str, ...] = ()
    #: the resource type as the source names it (ASFF `AwsEc2SecurityGroup`, OCSF's type)
    resource_type: str | None = None


def read_finding(
    session: Session,
    normalised: NormalisedFinding,
    accounts: Mapping[str, CloudAccount] | None = None,
) -> Facts:
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
    account_id = normalised.account_id[:64]
    known = accounts.get(account_id) if accounts is not None else None
    if accounts is None:
        known = session.get(CloudAccount, account_id)
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
        standards=tuple(standards_and_type(payload)[0]),
        resource_type=standards_and_type(payload)[1],
    )


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
        standards=tuple(standards_and_type(finding.payload)[0]),
        resource_type=standards_and_type(finding.payload)[1],
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
    if wanted.standards and not set(wanted.standards) & set(facts.standards):
        named = ", ".join(facts.standards) or "none"
        return f"the finding's standards ({named}) are not among {', '.join(wanted.standards)}"
    if wanted.resource_types and facts.resource_type not in wanted.resource_types:
        return (
            f"resource type {facts.resource_type} is not one of {', '.join(wanted.resource_types)}"
        )
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
