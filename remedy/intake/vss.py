"""The VSS / Tanzu hub payload, as today: read with the finding contract, passed on unchanged."""

from __future__ import annotations

from typing import Any

from remedy import finding as contract
from remedy.intake.normalised import ControlId, NormalisedFinding


def is_vss(document: dict[str, Any]) -> bool:
    return "notificationInfo" in document


def read(payload: dict[str, Any]) -> NormalisedFinding:
    """A VSS payload; PayloadError from the contract names the field at fault. A VSS finding is
    a violation: it is always acted on, as before intake knew other formats."""
    finding = contract.read_finding(payload)
    controls = [ControlId("vss", finding.rule_id)] if finding.rule_id else []
    if finding.rule_name and finding.rule_name != finding.rule_id:
        controls.append(ControlId("vss", finding.rule_name))
    return NormalisedFinding(
        format="vss",
        source_id=finding.finding_id,
        provider=finding.provider,
        account_id=finding.account_id,
        region=finding.region,
        resource_type=None,
        resource_id=finding.object_id,
        object_id=finding.object_id,
        controls=tuple(controls),
        compliance="FAILED",
        workflow="NEW",
        record_state="ACTIVE",
        severity=finding.level.upper() if finding.level else None,
        risk_score=finding.risk_score,
        title=finding.rule_name,
        tags=dict(finding.cloud_tags),
        resource_group=finding.resource_group,
        original=payload,
    )
