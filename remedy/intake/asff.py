"""AWS Security Finding Format (ASFF): Security Hub's findings, and Prowler's or Inspector's
when sent through Security Hub, read into a `NormalisedFinding`.

Every control id the finding gives is kept, each in its namespace: `Compliance.SecurityControlId`
and FSBP's `ProductFields.ControlId` (`securityhub:EC2.13`), a CIS benchmark's rule
(`cis-aws-1.2:4.1`, from GeneratorId, `ProductFields.RuleId` or a related requirement), PCI DSS's
(`pci-dss:PCI.EC2.5`), Prowler's check (`prowler:<check id>`, GeneratorId `prowler-<check>`), the
raw GeneratorId and each related requirement as given. A finding without a Compliance block
(Inspector, GuardDuty) has no compliance status: while active it is a problem to act on.
"""

from __future__ import annotations

import re
from typing import Any

from remedy.intake.fields import arn_resource, items, obj, tag_pairs, text
from remedy.intake.normalised import Compliance, ControlId, NormalisedFinding
from remedy.payload_shape import PayloadError, number

_CIS = re.compile(r"cis-aws-foundations-benchmark/v/(\d+\.\d+)\.\d+/(?:rule/)?([\w.]+)$")
_FSBP = re.compile(r"aws-foundational-security-best-practices/v/[\d.]+/([\w.-]+)$")
_PCI = re.compile(r"pci-dss/v/[\d.]+/([\w.-]+)$")
_CONTROL = re.compile(r"(?:^|/)security-control/([\w.-]+)$")
_CIS_REQUIREMENT = re.compile(r"^CIS AWS Foundations Benchmark v(\d+\.\d+)\.\d+/([\w.]+)$")
_COMPLIANCE: dict[str, Compliance] = {
    "FAILED": "FAILED",
    "WARNING": "WARNING",
    "PASSED": "PASSED",
    "NOT_AVAILABLE": "NOT_AVAILABLE",
}


def is_asff(document: dict[str, Any]) -> bool:
    return "SchemaVersion" in document and ("AwsAccountId" in document or "ProductArn" in document)


def _from_generator(generator: str) -> list[ControlId]:
    if generator.startswith("prowler-"):
        return [ControlId("prowler", generator.removeprefix("prowler-"))]
    if match := _CIS.search(generator):
        return [ControlId(f"cis-aws-{match.group(1)}", match.group(2))]
    if match := _PCI.search(generator):
        return [ControlId("pci-dss", match.group(1))]
    if match := _FSBP.search(generator) or _CONTROL.search(generator):
        return [ControlId("securityhub", match.group(1))]
    return []


def _controls(finding: dict[str, Any]) -> tuple[ControlId, ...]:
    compliance = obj(finding, "Compliance", "")
    fields = obj(finding, "ProductFields", "")
    found: list[ControlId] = []
    if control := text(compliance, "SecurityControlId", "Compliance."):
        found.append(ControlId("securityhub", control))
    if control := text(fields, "ControlId", "ProductFields."):
        found.append(ControlId("pci-dss" if control.startswith("PCI.") else "securityhub", control))
    generator = text(finding, "GeneratorId", "")
    found += _from_generator(generator)
    rule = text(fields, "RuleId", "ProductFields.")
    guide = text(fields, "StandardsGuideArn", "ProductFields.")
    if rule and (match := _CIS.search(f"{guide}/{rule}")):
        found.append(ControlId(f"cis-aws-{match.group(1)}", match.group(2)))
    for requirement in items(compliance, "RelatedRequirements", "Compliance."):
        if isinstance(requirement, str):
            if match := _CIS_REQUIREMENT.match(requirement):
                found.append(ControlId(f"cis-aws-{match.group(1)}", match.group(2)))
            found.append(ControlId("requirement", requirement))
    if generator:
        found.append(ControlId("generator", generator))
    return tuple(dict.fromkeys(found))  # in order, once each


def _object_id(resource: dict[str, Any], resource_id: str) -> str:
    details = obj(resource, "Details", "Resources[0].")
    group = details.get("AwsEc2SecurityGroup")
    if isinstance(group, dict) and isinstance(group.get("GroupId"), str):
        return str(group["GroupId"])
    return arn_resource(resource_id)


def read(finding: dict[str, Any]) -> NormalisedFinding:
    """One ASFF finding; PayloadError names the field at fault."""
    source_id = text(finding, "Id", "", required=True)
    account = text(finding, "AwsAccountId", "", required=True)
    resources = items(finding, "Resources", "")
    if not resources or not isinstance(resources[0], dict):
        raise PayloadError("Resources", "is missing: the finding must name its resource")
    resource: dict[str, Any] = resources[0]
    resource_id = text(resource, "Id", "Resources[0].", required=True)
    compliance = obj(finding, "Compliance", "")
    status = text(compliance, "Status", "Compliance.").upper()
    if status and status not in _COMPLIANCE:
        raise PayloadError(
            "Compliance.Status", f"must be PASSED, WARNING, FAILED or NOT_AVAILABLE, not {status!r}"
        )
    workflow = text(obj(finding, "Workflow", ""), "Status", "Workflow.") or text(
        finding, "WorkflowState", ""
    )
    severity = obj(finding, "Severity", "")
    score = severity.get("Normalized")
    try:
        risk = None if score is None else number(score)
    except ValueError as exc:
        raise PayloadError("Severity.Normalized", str(exc)) from None
    return NormalisedFinding(
        format="asff",
        source_id=source_id,
        provider="aws",
        account_id=account,
        region=text(finding, "Region", "") or text(resource, "Region", "Resources[0].") or None,
        resource_type=text(resource, "Type", "Resources[0].") or None,
        resource_id=resource_id,
        object_id=_object_id(resource, resource_id),
        controls=_controls(finding),
        compliance=_COMPLIANCE.get(status),
        workflow=(workflow or "NEW").upper(),
        record_state=(text(finding, "RecordState", "") or "ACTIVE").upper(),
        severity=text(severity, "Label", "Severity.").upper() or None,
        risk_score=risk,
        title=text(finding, "Title", "") or None,
        tags=tag_pairs(resource.get("Tags")),
        original=finding,
    )
