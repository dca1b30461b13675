"""One normalised finding, whatever format it came in, and the VSS payload built from it.

Every reader (asff.py, ocsf.py, vss.py) produces a `NormalisedFinding`; from there on the hub, the
CLI and triage see one shape. Jobs of both VSS generations keep receiving a VSS payload: it is
built here (`vss_payload()`) and read with the one finding contract (remedy/finding.py), so no
second payload validator exists. Stdlib only, like the contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from remedy import finding as contract
from remedy.finding import Provider

Format = Literal["asff", "ocsf", "vss"]
FORMATS: tuple[Format, ...] = ("asff", "ocsf", "vss")
Compliance = Literal["FAILED", "WARNING", "PASSED", "NOT_AVAILABLE"]
Disposition = Literal["act", "close", "record"]

#: the key of the VSS payload that carries what intake read from the source (jobs ignore it)
SOURCE_KEY = "source"


@dataclass(frozen=True)
class ControlId:
    """A rule or control id as a source names it: `securityhub:EC2.13`, `cis-aws-1.2:4.1`,
    `prowler:<check id>`, `vss:<rule id>`, `generator:<GeneratorId>`, `requirement:<text>`."""

    namespace: str
    id: str

    def __str__(self) -> str:
        return f"{self.namespace}:{self.id}"


@dataclass(frozen=True)
class NormalisedFinding:
    format: Format
    #: the source's own id (an ASFF Id is an ARN, `/` included)
    source_id: str
    provider: Provider
    account_id: str
    region: str | None
    resource_type: str | None
    #: the resource as the source names it (an ARN, an Azure resource id, a name)
    resource_id: str
    #: what a job receives as ObjectId: the resource's own id or name (sg-..., a bucket name)
    object_id: str
    controls: tuple[ControlId, ...]
    #: None: the source states none (Inspector, GuardDuty: an active finding is a problem)
    compliance: Compliance | None
    workflow: str
    record_state: str
    severity: str | None
    risk_score: float | None = None
    title: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    #: Azure: the resource group (from the resource id)
    resource_group: str | None = None
    #: the document exactly as received
    original: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def disposition(self) -> tuple[Disposition, str]:
        """What Remedy does with it: act (run a fix), close (the resource's open finding), or
        record only; and why, in words."""
        if self.record_state == "ARCHIVED":
            return "record", "archived at the source: recorded, not acted on"
        if self.compliance == "PASSED":
            return "close", "passed: closes the resource's open finding"
        if self.workflow in ("SUPPRESSED", "RESOLVED"):
            return "record", f"{self.workflow.lower()} at the source: recorded, not acted on"
        if self.compliance == "NOT_AVAILABLE":
            return "record", "compliance not available at the source: nothing to fix"
        return "act", (self.compliance or "active").lower()

    @property
    def actionable(self) -> bool:
        return self.disposition[0] == "act"

    @property
    def rule_id(self) -> str | None:
        """The one id a VSS payload's RuleID carries: the most specific the source gives."""
        for namespace in ("vss", "securityhub", "prowler"):
            for control in self.controls:
                if control.namespace == namespace:
                    return control.id
        return self.controls[0].id if self.controls else None

    def summary(self) -> dict[str, Any]:
        """What intake read, kept in the VSS payload's `source` key (small; not the original)."""
        return {
            "format": self.format,
            "id": self.source_id,
            "controls": [str(c) for c in self.controls],
            "compliance": self.compliance,
            "workflow": self.workflow,
            "recordState": self.record_state,
            "severity": self.severity,
            "resourceType": self.resource_type,
            "resourceId": self.resource_id,
        }

    def vss_payload(self) -> dict[str, Any]:
        """The VSS payload jobs receive; a VSS finding's own payload is passed on unchanged."""
        if self.format == "vss":
            return self.original
        chain: dict[str, Any] = {"cloudAccountId": self.account_id, "properties": []}
        if self.resource_group:
            chain["properties"].append(
                {"name": "ResourceGroup", "type": "string", "stringV": self.resource_group}
            )
        details: dict[str, Any] = {
            "FindingId": self.source_id,
            "ObjectId": self.object_id,
            "ObjectChain": json.dumps(chain),
            "CloudTags": dict(self.tags),
        }
        if self.region:
            details["Region"] = self.region
        if self.risk_score is not None:
            details["RiskScore"] = self.risk_score
        info: dict[str, Any] = {"CloudAccountID": self.account_id, "FindingInfo": details}
        if self.rule_id:
            info["RuleID"] = self.rule_id
        if self.title:
            info["RuleName"] = self.title[:200]
        if self.severity:
            info["Level"] = self.severity.capitalize()
        account: dict[str, Any] = {"provider": self.provider}
        if self.provider == "azure":
            account["subscriptionId"] = self.account_id
        return {"notificationInfo": info, "cloudAccount": account, SOURCE_KEY: self.summary()}

    def finding(self, **kwargs: Any) -> contract.Finding:
        """The finding contract's reading of the VSS payload (PayloadError when it cannot run);
        `kwargs` as `remedy.finding.read_finding` takes them."""
        return contract.read_finding(self.vss_payload(), **kwargs)


def standards_and_type(payload: dict[str, Any]) -> tuple[list[str], str | None]:
    """The standards (the namespaces of its control ids: `securityhub`, `cis-aws-1.2`, `prowler`,
    ...) and the resource type a stored VSS payload's `source` names (none for a VSS finding)."""
    source = payload.get(SOURCE_KEY)
    if not isinstance(source, dict):
        return [], None
    controls = [c for c in source.get("controls") or [] if isinstance(c, str) and ":" in c]
    # `generator:` and `requirement:` ids are kept for matching, but they name no standard
    standards = sorted({c.split(":", 1)[0] for c in controls} - {"generator", "requirement"})
    kind = source.get("resourceType")
    return standards, kind if isinstance(kind, str) and kind else None


def control_ids(payload: dict[str, Any]) -> list[str]:
    """The bare control ids a stored VSS payload's `source` names (none for a VSS finding)."""
    source = payload.get(SOURCE_KEY)
    if not isinstance(source, dict):
        return []
    return [str(c).split(":", 1)[-1] for c in source.get("controls") or [] if isinstance(c, str)]
