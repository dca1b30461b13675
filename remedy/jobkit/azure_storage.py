"""Storage accounts: change one setting of an account (or of its blob service) and nothing else.

A `Setting` says where its value lives (`scope`: the account's `properties`, read with
storage_accounts.get_properties and written with storage_accounts.update, a PATCH; or the blob
service's `properties`, read with blob_services.get_service_properties and written with
blob_services.set_service_properties, a PUT of the whole document as read, the one value changed)
and how to fix it (`fix(value, parameters)`: the compliant value, or None when it already is).
The value is one property as a whole (`supportsHttpsTrafficOnly`, `networkAcls`,
`deleteRetentionPolicy`...): the fix copies everything else of it (IP and virtual-network rules
of `networkAcls`, say) so that writing it back keeps them.

Resource Manager offers no ETag / If-Match on a storage account or its blob service (their
REST API has neither: https://learn.microsoft.com/en-us/rest/api/storagerp/storage-accounts/update),
so the job reads right before it writes and writes only the one property; rollback compares the
property with what the job wrote before it puts the old value back (ChangedSince otherwise).

Before each write a change record (kind `azure-storage-setting`) keeps the property as read and
as written.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from remedy.jobkit import ChangedSince, Finding, RecordError, change, info, planning, record
from remedy.jobkit.azure import client
from remedy.jobkit.modes import of_kind

SETTING_KIND = "azure-storage-setting"
ACCOUNT, BLOB_SERVICE = "account", "blob-service"


def storage_client(finding: Finding) -> Any:
    """azure.mgmt.storage.StorageManagementClient for the finding's subscription."""
    return client("storage", finding)


def compact(value: Any) -> Any:
    """A value as records keep and compare it: no None, empty list or empty object inside."""
    if isinstance(value, dict):
        kept = {k: compact(v) for k, v in sorted(value.items())}
        return {k: v for k, v in kept.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [compact(v) for v in value]
    return value


@dataclass(frozen=True)
class Setting:
    """Compliant values of some properties of a storage account or of its blob service."""

    scope: str  # ACCOUNT or BLOB_SERVICE
    keys: tuple[str, ...]  # the properties' names under `properties`
    what: str  # e.g. "HTTPS-only traffic"
    #: (current value, parameters) -> the compliant value, or None when it already is
    fix: Callable[[Any, Mapping[str, Any]], Any]


def _https_only(value: Any, parameters: Mapping[str, Any]) -> Any:
    return None if value is True else True


def _deny_by_default(value: Any, parameters: Mapping[str, Any]) -> Any:
    acls = copy.deepcopy(value) if isinstance(value, dict) else {}
    if str(acls.get("defaultAction", "Allow")).lower() == "deny":
        return None
    acls["defaultAction"] = "Deny"
    acls.setdefault("bypass", "AzureServices")  # Azure's own default when there is none
    return acls


def bypass_values(value: Any) -> list[str]:
    """`"Logging, Metrics"` -> ["Logging", "Metrics"]; `None` (the word) -> []."""
    return [v.strip() for v in str(value or "").split(",") if v.strip() and v.strip() != "None"]


def _trust_azure_services(value: Any, parameters: Mapping[str, Any]) -> Any:
    if not isinstance(value, dict) or "bypass" not in value:
        return None  # no rule set, or no bypass: Azure's default bypass is AzureServices
    acls = copy.deepcopy(value)
    current = bypass_values(acls.get("bypass"))
    if any(v.lower() == "azureservices" for v in current):
        return None
    acls["bypass"] = ", ".join([*current, "AzureServices"])
    return acls


def _retention(value: Any, parameters: Mapping[str, Any]) -> Any:
    policy = copy.deepcopy(value) if isinstance(value, dict) else {}
    if policy.get("enabled") is True and policy.get("days"):
        return None
    policy["enabled"] = True
    policy["days"] = int(parameters["retention_days"])
    return policy


SETTINGS: dict[str, Setting] = {
    "https_only": Setting(
        ACCOUNT, ("supportsHttpsTrafficOnly",), "HTTPS-only traffic", _https_only
    ),
    "deny_public_network_access": Setting(
        ACCOUNT, ("networkAcls",), "default network access Deny", _deny_by_default
    ),
    "trust_azure_services": Setting(
        ACCOUNT, ("networkAcls",), "trusted Azure services allowed", _trust_azure_services
    ),
    "blob_soft_delete": Setting(
        BLOB_SERVICE,
        ("deleteRetentionPolicy", "containerDeleteRetentionPolicy"),
        "soft delete",
        _retention,
    ),
}


def _read(storage: Any, scope: str, group: str, account: str) -> dict[str, Any]:
    """The document the setting lives in, as Resource Manager returns it."""
    if scope == ACCOUNT:
        found = storage.storage_accounts.get_properties(group, account)
    else:
        storage.storage_accounts.get_properties(group, account)  # a 404 names the account
        found = storage.blob_services.get_service_properties(group, account)
    document: dict[str, Any] = found.as_dict()
    document.setdefault("properties", {})
    return document


def _write(
    storage: Any, scope: str, group: str, account: str, document: dict[str, Any], values: Any
) -> None:
    """Write the properties: a PATCH of them alone (account), or the blob service's document as
    read with them changed (its PUT replaces the whole document)."""
    if scope == ACCOUNT:
        storage.storage_accounts.update(group, account, {"properties": dict(values)})
        return
    properties = {k: v for k, v in document["properties"].items() if k != "provisioningState"}
    properties.update(values)
    properties = {k: v for k, v in properties.items() if v is not None}  # None: not set
    storage.blob_services.set_service_properties(group, account, {"properties": properties})


def show(value: Any) -> str:
    return "(not set)" if value is None else str(compact(value)).replace("'", "")


def _where(scope: str) -> str:
    return "blob service " if scope == BLOB_SERVICE else ""


def _wanted(setting: Setting, document: dict[str, Any], parameters: Mapping[str, Any]) -> Any:
    """{key: (current, compliant)} for each key the setting would change."""
    found = {}
    for key in setting.keys:
        current = document["properties"].get(key)
        wanted = setting.fix(current, parameters)
        if wanted is not None:
            found[key] = (current, wanted)
    return found


def still_to_do(storage: Any, setting: Setting, finding: Finding) -> list[str]:
    """What the setting would still change (empty: compliant)."""
    document = _read(storage, setting.scope, finding.resource_group, finding.object_id)
    return [
        f"{finding.object_id}: {_where(setting.scope)}{key} is {show(current)}, not {setting.what}"
        for key, (current, _) in _wanted(setting, document, finding.parameters).items()
    ]


def apply(storage: Any, setting: Setting, finding: Finding) -> int:
    """Fix the setting on the finding's account; return the number of properties changed."""
    account, group = finding.object_id, finding.resource_group
    document = _read(storage, setting.scope, group, account)
    wanted = _wanted(setting, document, finding.parameters)
    where = _where(setting.scope)
    if not wanted:
        shown = ", ".join(f"{k} {show(document['properties'].get(k))}" for k in setting.keys)
        info(f"ok: {account}: {where}{shown} ({setting.what})")
        return 0
    lines = [
        f"{account}: {where}{key} {show(current)} -> {show(new)} ({setting.what})"
        for key, (current, new) in wanted.items()
    ]
    if not planning():
        record(
            account,
            SETTING_KIND,
            {"scope": setting.scope, "values": {k: compact(c) for k, (c, _) in wanted.items()}},
            {"scope": setting.scope, "values": {k: compact(n) for k, (_, n) in wanted.items()}},
        )
        _write(
            storage, setting.scope, group, account, document, {k: n for k, (_, n) in wanted.items()}
        )
    for line in lines:
        change(line)
    return len(lines)


#: What stands for "not set" when a rollback restores a property the account did not have (a
#: PATCH cannot unset one): Azure's default. The blob service's PUT simply leaves it out.
UNSET = {"supportsHttpsTrafficOnly": False}


def restore(storage: Any, finding: Finding, records: list[dict[str, Any]]) -> int:
    """Put back the values the records say the job replaced, once each is checked to be still
    what the job wrote (all are checked before anything is written)."""
    account, group = finding.object_id, finding.resource_group
    mine = [r for r in of_kind(records, SETTING_KIND) if r["resource"] == account]
    if not mine:
        raise RecordError(f"no change record is about storage account {account}")
    plans: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for item in reversed(mine):  # the last change first
        scope, before, after = (
            item["after"]["scope"],
            item["before"]["values"],
            item["after"]["values"],
        )
        document = _read(storage, scope, group, account)
        for key, written in after.items():
            now = compact(document["properties"].get(key))
            if now != written:
                raise ChangedSince(
                    f"{account}: {_where(scope)}{key} changed since the job set it (it is "
                    f"{show(now)}, the job wrote {show(written)})"
                )
        plans.append((scope, document, before))
    for scope, document, before in plans:
        values = {
            k: UNSET.get(k) if v is None and scope == ACCOUNT else v for k, v in before.items()
        }
        _write(storage, scope, group, account, document, values)
        for key, old in before.items():
            change(f"{account}: {_where(scope)}{key} -> {show(old)} (rollback)")
    return sum(len(before) for _, _, before in plans)
