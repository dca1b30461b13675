"""Validate a finding payload and complete it so jobs of either generation find what they read.

Older payloads carry only `notificationInfo.CloudAccountID`; newer ones a top-level `cloudAccount`.
The payload handed to a job has both, the spelling `CloudAccountId` too, and an `ObjectChain`
(a JSON document inside a string) carrying at least `cloudAccountId`, and the resource group for
Azure. Every error names the field that is wrong and says how to fix it.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from pydantic import ValidationError

from remedy.types import AccountAccess, AccountRef, FindingPayload, Provider

MAX_PAYLOAD_BYTES = 256 * 1024
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
AWS_ACCOUNT = re.compile(r"^\d{12}$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
FINDING_INFO = "notificationInfo.FindingInfo"


class PayloadError(ValueError):
    """A finding that cannot be remediated as it is; `field` is the dotted path at fault."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem


def parse_json(text: str | bytes) -> dict[str, Any]:
    """Parse a payload given as JSON text; the error says where the JSON breaks."""
    if len(text) > MAX_PAYLOAD_BYTES:
        raise PayloadError(
            "", f"the payload is {len(text)} bytes; the limit is {MAX_PAYLOAD_BYTES}"
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            "", f"the payload is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise PayloadError("", "the payload is nested too deeply to be a finding") from None
    if not isinstance(value, dict):
        raise PayloadError("", f"the payload must be a JSON object, not {type(value).__name__}")
    return value


def _pydantic_problem(exc: ValidationError) -> PayloadError:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    return PayloadError(field, f"{first['msg']} (got {str(first.get('input'))[:80]!r})")


def _infer_provider(finding: FindingPayload) -> Provider:
    account = finding.cloudAccount
    if account and account.provider:
        return account.provider
    if account and account.roleArn:
        return "aws"
    if account and account.subscriptionId:
        return "azure"
    cloud_id = finding.notificationInfo.CloudAccountID or finding.notificationInfo.CloudAccountId
    if cloud_id and AWS_ACCOUNT.match(cloud_id):
        return "aws"
    if cloud_id and UUID.match(cloud_id):
        return "azure"
    raise PayloadError(
        "cloudAccount.provider",
        "cannot tell whether the finding is from AWS or Azure: set cloudAccount.provider "
        "('aws' or 'azure') or notificationInfo.CloudAccountID",
    )


def _object_chain(finding: FindingPayload) -> dict[str, Any] | None:
    raw = finding.notificationInfo.FindingInfo.ObjectChain
    if raw is None or raw == "":
        return None
    try:
        chain = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        raise PayloadError(
            f"{FINDING_INFO}.ObjectChain",
            "is not a JSON document (it must be JSON inside a string)",
        ) from None
    if not isinstance(chain, dict):
        raise PayloadError(f"{FINDING_INFO}.ObjectChain", "must hold a JSON object")
    if not isinstance(chain.get("properties", []), list | None):
        raise PayloadError(
            f"{FINDING_INFO}.ObjectChain",
            "its `properties` must be a list of {name, type, stringV} objects",
        )
    account = chain.get("cloudAccountId")
    if account is not None and not isinstance(account, str | int):
        raise PayloadError(f"{FINDING_INFO}.ObjectChain", "its `cloudAccountId` must be a string")
    return chain


def _chain_property(chain: dict[str, Any] | None, name: str) -> str | None:
    for prop in (chain or {}).get("properties") or []:
        if isinstance(prop, dict) and prop.get("name") == name:
            value = prop.get("stringV") or prop.get("value")
            return str(value) if value else None
    return None


def _account_id(finding: FindingPayload, provider: Provider, chain: dict[str, Any] | None) -> str:
    info = finding.notificationInfo
    account = finding.cloudAccount
    candidates = [info.CloudAccountID, info.CloudAccountId]
    if provider == "aws" and account and account.roleArn and (m := ROLE_ARN.match(account.roleArn)):
        candidates.append(m.group(1))
    if provider == "azure" and account:
        candidates.append(account.subscriptionId)
    candidates.append(str((chain or {}).get("cloudAccountId") or "") or None)
    for candidate in candidates:
        if candidate:
            return candidate
    raise PayloadError(
        "notificationInfo.CloudAccountID",
        "is missing: the finding must name its cloud account (or carry cloudAccount.roleArn / "
        "cloudAccount.subscriptionId)",
    )


def get_path(document: dict[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def validate_payload(
    payload: dict[str, Any], access: AccountAccess, requires: list[str] | None = None
) -> tuple[dict[str, Any], AccountRef]:
    """Check a finding and return it completed, with the account it is in.

    `requires` lists dotted payload paths that the jobs to run need (from their metadata).
    """
    if len(json.dumps(payload, default=str)) > MAX_PAYLOAD_BYTES:
        raise PayloadError("", f"the payload is larger than {MAX_PAYLOAD_BYTES} bytes")
    try:
        finding = FindingPayload.model_validate(payload)
    except ValidationError as exc:
        raise _pydantic_problem(exc) from None
    info = finding.notificationInfo.FindingInfo
    for name in ("FindingId", "ObjectId"):
        if not getattr(info, name):
            raise PayloadError(f"{FINDING_INFO}.{name}", "is missing: the finding must carry it")
    provider = _infer_provider(finding)
    chain = _object_chain(finding)
    account_id = _account_id(finding, provider, chain)
    resource_group = _chain_property(chain, "ResourceGroup")

    role_arn = access.role_arn or (finding.cloudAccount.roleArn if finding.cloudAccount else None)
    if provider == "aws":
        if not role_arn:
            raise PayloadError(
                "cloudAccount.roleArn",
                "no role to assume: put the account's role ARN in the finding (cloudAccount.roleArn) "
                "or in the remediation (--account-role-arn)",
            )
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
    if provider == "azure" and not resource_group:
        raise PayloadError(
            f"{FINDING_INFO}.ObjectChain",
            "Azure findings must carry the resource group: a property named ResourceGroup in the "
            "ObjectChain document",
        )

    completed = copy.deepcopy(payload)
    cloud = completed.setdefault("cloudAccount", {}) or {}
    completed["cloudAccount"] = cloud
    cloud["provider"] = provider
    if provider == "aws":
        cloud["roleArn"] = role_arn
    else:
        cloud.setdefault("subscriptionId", account_id)
    notification = completed["notificationInfo"]
    notification["CloudAccountID"] = account_id
    notification["CloudAccountId"] = account_id
    finding_info = notification.setdefault("FindingInfo", {})
    if chain is None:
        chain = {"cloudAccountId": account_id, "properties": []}
        finding_info["ObjectChain"] = json.dumps(chain)
    elif "cloudAccountId" not in chain:
        finding_info["ObjectChain"] = json.dumps({**chain, "cloudAccountId": account_id})

    for dotted in requires or []:
        if get_path(completed, dotted) in (None, ""):
            raise PayloadError(dotted, "is missing, and a job in this remediation needs it")

    account = AccountRef(
        provider=provider,
        account_id=account_id,
        region=info.Region,
        role_arn=role_arn if provider == "aws" else None,
        external_id=access.external_id,
        resource_group=resource_group if provider == "azure" else None,
    )
    return completed, account
