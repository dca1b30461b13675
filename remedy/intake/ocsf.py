"""OCSF Detection Finding (2004) and Compliance Finding (2003), 1.x: Prowler's `json-ocsf` output
and Security Hub's OCSF findings, read into a `NormalisedFinding`.

Ids kept: Prowler's check (`metadata.event_code`, else the check inside `finding_info.uid`
`prowler-<provider>-<check>-<account>-...`), the compliance object's control (Security Hub's
`securityhub:EC2.13`) and requirements, and the benchmark ids Prowler lists in
`unmapped.compliance` (`CIS-1.4: ["4.1"]` -> `cis-aws-1.4:4.1`; any other framework as
`<framework>:<id>`). Compliance: status_code / compliance.status FAIL, WARNING, PASS; workflow:
`status` (New, In Progress, Suppressed, Resolved); an activity Close archives the record.
"""

from __future__ import annotations

import re
from typing import Any, cast

from remedy.finding import Provider
from remedy.intake.fields import arn_resource, azure_resource, items, obj, tag_pairs, text
from remedy.intake.normalised import Compliance, ControlId, NormalisedFinding
from remedy.payload_shape import PayloadError

FINDING_CLASSES = (2003, 2004)
_STATUS: dict[str, Compliance] = {
    "FAIL": "FAILED",
    "FAILED": "FAILED",
    "WARNING": "WARNING",
    "PASS": "PASSED",
    "PASSED": "PASSED",
    "MANUAL": "NOT_AVAILABLE",
    "NOT_AVAILABLE": "NOT_AVAILABLE",
    "UNKNOWN": "NOT_AVAILABLE",
}
_WORKFLOW = {"NEW": "NEW", "IN PROGRESS": "NOTIFIED", "SUPPRESSED": "SUPPRESSED"}
_CIS_KEY = re.compile(r"^CIS-(\d+\.\d+)$")


def is_ocsf(document: dict[str, Any]) -> bool:
    return document.get("class_uid") in FINDING_CLASSES or (
        "finding_info" in document and "metadata" in document
    )


def _controls(finding: dict[str, Any], provider: str) -> tuple[ControlId, ...]:
    metadata = obj(finding, "metadata", "")
    product = text(obj(metadata, "product", "metadata."), "name", "metadata.product.").lower()
    info = obj(finding, "finding_info", "")
    found: list[ControlId] = []
    check = text(metadata, "event_code", "metadata.")
    uid = text(info, "uid", "finding_info.")
    prefix = f"prowler-{provider}-"
    if not check and uid.startswith(prefix):
        account = text(obj(obj(finding, "cloud", ""), "account", "cloud."), "uid", "cloud.account.")
        check = uid.removeprefix(prefix).split(f"-{account}-", 1)[0] if account else ""
    if check and (product == "prowler" or uid.startswith("prowler-")):
        found.append(ControlId("prowler", check))
    compliance = obj(finding, "compliance", "")
    if control := text(compliance, "control", "compliance."):
        found.append(ControlId("securityhub" if "security hub" in product else "control", control))
    for requirement in items(compliance, "requirements", "compliance."):
        if isinstance(requirement, str):
            found.append(ControlId("requirement", requirement))
    frameworks = obj(obj(finding, "unmapped", ""), "compliance", "unmapped.")
    for framework, ids in frameworks.items():
        match = _CIS_KEY.match(str(framework))
        namespace = f"cis-{provider}-{match.group(1)}" if match else str(framework).lower()
        for value in ids if isinstance(ids, list) else [ids]:
            found.append(ControlId(namespace, str(value)))
    return tuple(dict.fromkeys(found))


def _compliance(finding: dict[str, Any]) -> Compliance | None:
    stated = text(obj(finding, "compliance", ""), "status", "compliance.") or text(
        finding, "status_code", ""
    )
    if not stated:
        return None
    status = _STATUS.get(stated.upper())
    if status is None:
        raise PayloadError("status_code", f"must be FAIL, WARNING or PASS, not {stated[:40]!r}")
    return status


def read(finding: dict[str, Any]) -> NormalisedFinding:
    """One OCSF finding; PayloadError names the field at fault."""
    cloud = obj(finding, "cloud", "")
    provider = text(cloud, "provider", "cloud.", required=True).lower()
    if provider not in ("aws", "azure"):
        raise PayloadError(
            "cloud.provider", f"is {provider!r}: Remedy remediates findings from aws and azure"
        )
    account = text(obj(cloud, "account", "cloud."), "uid", "cloud.account.", required=True)
    info = obj(finding, "finding_info", "")
    source_id = text(info, "uid", "finding_info.", required=True)
    resources = items(finding, "resources", "")
    if not resources or not isinstance(resources[0], dict):
        raise PayloadError("resources", "is missing: the finding must name its resource")
    resource: dict[str, Any] = resources[0]
    resource_id = text(resource, "uid", "resources[0].") or text(
        resource, "name", "resources[0].", required=True
    )
    group: str | None = None
    if provider == "azure":
        object_id, group = azure_resource(resource_id)
    else:
        object_id = arn_resource(resource_id)
    status = text(finding, "status", "").upper()
    region = text(resource, "region", "resources[0].") or text(cloud, "region", "cloud.")
    tags = tag_pairs(resource.get("labels"))
    tags.update(tag_pairs(resource.get("tags")))
    return NormalisedFinding(
        format="ocsf",
        source_id=source_id,
        provider=cast(Provider, provider),
        account_id=account,
        region=region or None,
        resource_type=text(resource, "type", "resources[0].") or None,
        resource_id=resource_id,
        object_id=object_id,
        controls=_controls(finding, provider),
        compliance=_compliance(finding),
        workflow=_WORKFLOW.get(status, status or "NEW"),
        record_state="ARCHIVED"
        if text(finding, "activity_name", "").upper() == "CLOSE"
        else "ACTIVE",
        severity=text(finding, "severity", "").upper() or None,
        title=text(info, "title", "finding_info.") or None,
        tags=tags,
        resource_group=group,
        original=finding,
    )
