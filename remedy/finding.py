"""The finding contract: the one reader of a VSS / Tanzu hub finding payload.

Every door a finding comes through reads it here, with the same code and the same messages:

- the hub, when a finding is posted (`hub.findings.read_finding`): `read_finding(payload)`;
- the starter (CLI, hub), before it starts a run: `read_finding(payload, role_arn=..., for_run=True)`;
- the validate activity, the run's edge: the same, with the jobs' `requires`; the completed payload
  it returns (`Finding.payload`) is what every job of the run receives;
- the jobs' kit (`remedy.jobkit`), in the job's own process, on `sys.argv[1]`.

Design: pure stdlib (json, re, dataclasses; field types in remedy/payload_shape.py). The kit runs
next to untrusted job code and must start in milliseconds, so it cannot import pydantic; rather
than a pydantic model for the hub and the worker and a second hand-written reader for jobs, both
read with this module. What only a job needs (a region, Azure names fit for a URL) the kit checks
on top (remedy/jobkit/finding.py); what only a run needs (a role to assume, the jobs' `requires`)
the `for_run` / `requires` arguments add.

Both generations: older payloads carry only `notificationInfo.CloudAccountID`, newer ones a
top-level `cloudAccount`. The completed payload has both, the spelling `CloudAccountId` too, and an
`ObjectChain` (a JSON document inside a string) carrying at least `cloudAccountId` (Azure: and the
resource group, a property named `ResourceGroup`). Every error names the field that is wrong
(`PayloadError.field`, a dotted path) and says how to fix it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from remedy.aws_ids import ROLE_ARN as ROLE_ARN
from remedy.payload_shape import FINDING_INFO as FINDING_INFO
from remedy.payload_shape import MAX_PAYLOAD_BYTES as MAX_PAYLOAD_BYTES
from remedy.payload_shape import OBJECT_CHAIN as OBJECT_CHAIN
from remedy.payload_shape import PayloadError as PayloadError
from remedy.payload_shape import check_shape, get_path, number
from remedy.payload_shape import parse_json as parse_json

Provider = Literal["aws", "azure"]

AWS_ACCOUNT = re.compile(r"^\d{12}$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Finding:
    """A finding as the contract reads it, whichever generation it came in."""

    finding_id: str
    object_id: str
    provider: Provider
    account_id: str
    #: the completed payload: what a job receives (the caller's payload is never changed)
    payload: dict[str, Any]
    region: str | None = None
    rule_id: str | None = None
    rule_name: str | None = None
    level: str | None = None
    risk_score: float | None = None
    cloud_tags: dict[str, str] = field(default_factory=dict)
    #: AWS: the role to assume (the remediation's, else the finding's `cloudAccount.roleArn`)
    role_arn: str | None = None
    #: Azure: the resource group (the ObjectChain's property named ResourceGroup)
    resource_group: str | None = None


# ---------------------------------------------------------------------------------------------


def _infer_provider(payload: Mapping[str, Any]) -> Provider:
    account = payload.get("cloudAccount") or {}
    stated = account.get("provider")
    if stated == "aws" or (not stated and account.get("roleArn")):
        return "aws"
    if stated == "azure" or (not stated and account.get("subscriptionId")):
        return "azure"
    info = payload["notificationInfo"]
    cloud_id = info.get("CloudAccountID") or info.get("CloudAccountId")
    if cloud_id and AWS_ACCOUNT.match(cloud_id):
        return "aws"
    if cloud_id and UUID.match(cloud_id):
        return "azure"
    raise PayloadError(
        "cloudAccount.provider",
        "cannot tell whether the finding is from AWS or Azure: set cloudAccount.provider "
        "('aws' or 'azure') or notificationInfo.CloudAccountID",
    )


def _object_chain(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = get_path(payload, OBJECT_CHAIN)
    if raw is None or raw == "":
        return None
    try:
        chain = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        raise PayloadError(
            OBJECT_CHAIN, "is not a JSON document (it must be JSON inside a string)"
        ) from None
    if not isinstance(chain, dict):
        raise PayloadError(OBJECT_CHAIN, "must hold a JSON object")
    if not isinstance(chain.get("properties", []), list | None):
        raise PayloadError(
            OBJECT_CHAIN, "its `properties` must be a list of {name, type, stringV} objects"
        )
    account = chain.get("cloudAccountId")
    if account is not None and not isinstance(account, str | int):
        raise PayloadError(OBJECT_CHAIN, "its `cloudAccountId` must be a string")
    return chain


def _chain_property(chain: Mapping[str, Any] | None, name: str) -> str | None:
    for prop in (chain or {}).get("properties") or []:
        if isinstance(prop, dict) and prop.get("name") == name:
            value = prop.get("stringV") or prop.get("value")
            return str(value) if value else None
    return None


def _account_id(
    payload: Mapping[str, Any], provider: Provider, chain: Mapping[str, Any] | None
) -> str:
    info = payload["notificationInfo"]
    account = payload.get("cloudAccount") or {}
    chained = str((chain or {}).get("cloudAccountId") or "") or None
    if provider == "azure" and chained and not UUID.match(chained):
        raise PayloadError(
            f"{OBJECT_CHAIN}.cloudAccountId",
            f"must be an Azure subscription id (a GUID), not {chained[:80]!r}",
        )
    candidates: list[tuple[str, str | None]] = [
        ("notificationInfo.CloudAccountID", info.get("CloudAccountID")),
        ("notificationInfo.CloudAccountId", info.get("CloudAccountId")),
    ]
    role = ROLE_ARN.match(account.get("roleArn") or "")
    if provider == "aws" and role:
        candidates.append(("cloudAccount.roleArn", role.group(1)))
    if provider == "azure":
        candidates.append(("cloudAccount.subscriptionId", account.get("subscriptionId")))
    candidates.append((f"{OBJECT_CHAIN}.cloudAccountId", chained))
    for path, candidate in candidates:
        if not candidate:
            continue
        if provider == "azure" and not UUID.match(candidate):
            raise PayloadError(
                path, f"must be an Azure subscription id (a GUID), not {candidate[:80]!r}"
            )
        return candidate
    raise PayloadError(
        "notificationInfo.CloudAccountID",
        "is missing: the finding must name its cloud account (or carry cloudAccount.roleArn / "
        "cloudAccount.subscriptionId)",
    )


def _check_role(role_arn: str, account_id: str) -> None:
    match = ROLE_ARN.match(role_arn)
    if not match:
        raise PayloadError(
            "cloudAccount.roleArn",
            f"{role_arn!r} is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)",
        )
    if match.group(1) != account_id:
        raise PayloadError(
            "cloudAccount.roleArn",
            f"the role is in account {match.group(1)} but the finding is in {account_id}",
        )


def _completed(
    payload: Mapping[str, Any],
    provider: Provider,
    account_id: str,
    role_arn: str | None,
    chain: Mapping[str, Any] | None,
) -> dict[str, Any]:
    completed = copy.deepcopy(dict(payload))
    cloud = completed.get("cloudAccount") or {}
    completed["cloudAccount"] = cloud
    cloud["provider"] = provider
    if provider == "aws" and role_arn:
        cloud["roleArn"] = role_arn
    elif provider == "azure":
        cloud.setdefault("subscriptionId", account_id)
    notification = completed["notificationInfo"]
    notification["CloudAccountID"] = account_id
    notification["CloudAccountId"] = account_id
    details = notification.get("FindingInfo") or {}
    notification["FindingInfo"] = details
    if chain is None:
        details["ObjectChain"] = json.dumps({"cloudAccountId": account_id, "properties": []})
    elif "cloudAccountId" not in chain:
        details["ObjectChain"] = json.dumps({**chain, "cloudAccountId": account_id})
    return completed


def read_finding(
    payload: Any,
    *,
    role_arn: str | None = None,
    for_run: bool = False,
    requires: Sequence[str] = (),
) -> Finding:
    """Read and check a finding; PayloadError names the first field at fault.

    `role_arn`: the remediation's role for the account (it overrides the finding's). `for_run`:
    the finding is about to be remediated, so an AWS finding must name a role to assume (the hub
    stores findings whose role comes later, from the account's registration; a job has its
    credentials already). `requires`: dotted paths the jobs to run need, checked on the
    completed payload.
    """
    if not isinstance(payload, dict):
        raise PayloadError("", f"a finding is a JSON object, not {type(payload).__name__}")
    if len(json.dumps(payload, default=str)) > MAX_PAYLOAD_BYTES:
        raise PayloadError("", f"the payload is larger than {MAX_PAYLOAD_BYTES} bytes")
    check_shape(payload)
    info: dict[str, Any] = payload["notificationInfo"]
    details: dict[str, Any] = info.get("FindingInfo") or {}
    for name in ("FindingId", "ObjectId"):
        if not details.get(name):
            raise PayloadError(f"{FINDING_INFO}.{name}", "is missing: the finding must carry it")
    provider = _infer_provider(payload)
    chain = _object_chain(payload)
    account_id = _account_id(payload, provider, chain)
    resource_group = _chain_property(chain, "ResourceGroup")

    role = role_arn or (payload.get("cloudAccount") or {}).get("roleArn")
    if provider == "aws" and role:
        _check_role(role, account_id)
    elif provider == "aws" and for_run:
        raise PayloadError(
            "cloudAccount.roleArn",
            "no role to assume: put the account's role ARN in the finding (cloudAccount.roleArn) "
            "or in the remediation (--account-role-arn)",
        )
    if provider == "azure" and chain is None:
        raise PayloadError(
            OBJECT_CHAIN,
            "is missing: Azure findings carry the subscription (cloudAccountId) and the resource "
            "group (a property named ResourceGroup) in this JSON document",
        )
    if provider == "azure" and not resource_group:
        raise PayloadError(
            OBJECT_CHAIN,
            "the property named ResourceGroup is missing: Azure findings must carry the "
            "resource group of the resource in the ObjectChain document",
        )

    completed = _completed(payload, provider, account_id, role, chain)
    for dotted in requires:
        if get_path(completed, dotted) in (None, ""):
            raise PayloadError(dotted, "is missing, and a job in this remediation needs it")
    score = details.get("RiskScore")
    return Finding(
        finding_id=details["FindingId"],
        object_id=details["ObjectId"],
        provider=provider,
        account_id=account_id,
        payload=completed,
        region=details.get("Region") or None,
        rule_id=info.get("RuleID"),
        rule_name=info.get("RuleName"),
        level=info.get("Level"),
        risk_score=None if score is None else number(score),
        cloud_tags=dict(details.get("CloudTags") or {}),
        role_arn=role if provider == "aws" else None,
        resource_group=resource_group if provider == "azure" else None,
    )
