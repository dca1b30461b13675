"""What the storage resource provider does with a write of a storage account, its blob service or
a blob container, as far as the storage jobs' writes go. Hooked into sandbox/arm_requests.py
(`check_write`, before a PUT or PATCH reaches the generic store).

Each check cites the page that states it (400 unless said):

- a new account gets what Azure fills: `supportsHttpsTrafficOnly` true, `networkAcls`
  {defaultAction Allow, bypass AzureServices, no rules}, `encryption` keySource Microsoft.Storage,
  and its blob service `default` (soft delete off); a PUT of an existing account keeps its blob
  service: https://learn.microsoft.com/en-us/rest/api/storagerp/storage-accounts/create
  ("supportsHttpsTrafficOnly ... default value is true since API version 2019-04-01"; networkAcls
  bypass "default value is AzureServices");
- a PATCH's `networkAcls` replaces the rule set as a whole (a NetworkRuleSet object, not a merge:
  what it leaves out, IP and virtual-network rules included, is gone):
  https://learn.microsoft.com/en-us/rest/api/storagerp/storage-accounts/update#networkruleset;
  `defaultAction` Allow or Deny, `bypass` a combination of None, Logging, Metrics, AzureServices,
  ipRules `value` an IPv4 address or CIDR (InvalidValuesForRequestParameters / ...), same page;
- a PATCH's `encryption` is an Encryption object taken whole (what it leaves out, the old key's
  properties when the key source goes back to Microsoft.Storage, is gone), same update page;
- `encryption.keySource` Microsoft.Keyvault needs `keyvaultproperties` (keyname, keyvaulturi) and
  the account's managed identity (a system-assigned one, or the user-assigned one named in
  `encryption.identity`), else 400:
  https://learn.microsoft.com/en-us/azure/storage/common/customer-managed-keys-configure-existing-account;
- the blob service's name is `default`; `deleteRetentionPolicy.days` 1-365 when enabled
  (InvalidRequestPropertyValue):
  https://learn.microsoft.com/en-us/rest/api/storagerp/blob-services/set-service-properties#deleteretentionpolicy;
- a container's `publicAccess` is None, Blob or Container, and anything but None on an account
  whose `allowBlobPublicAccess` is false is 409 PublicAccessNotPermitted:
  https://learn.microsoft.com/en-us/azure/storage/blobs/anonymous-read-access-prevent#remediate-anonymous-access-for-the-storage-account
  ("Public access is not permitted on this storage account").
"""

from __future__ import annotations

import copy
import ipaddress
import uuid
from typing import Any

from sandbox.arm import ArmStore
from sandbox.arm_paths import ArmError, ArmPath

BYPASS = {"none", "logging", "metrics", "azureservices"}
DEFAULT_ACLS = {
    "bypass": "AzureServices",
    "defaultAction": "Allow",
    "ipRules": [],
    "virtualNetworkRules": [],
}
DEFAULT_BLOB_SERVICE = {
    "name": "default",
    "properties": {
        "deleteRetentionPolicy": {"enabled": False},
        "containerDeleteRetentionPolicy": {"enabled": False},
        "cors": {"corsRules": []},
    },
}


def _bad(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def _kind(path: ArmPath) -> tuple[str, ...]:
    if path.namespace.lower() != "microsoft.storage":
        return ()
    return tuple(t.lower() for t in path.types)


def _get(store: ArmStore, path: ArmPath, depth: int) -> dict[str, Any] | None:
    at = ArmPath(
        path.subscription,
        path.resource_group,
        path.namespace,
        path.types[:depth],
        path.names[:depth],
    )
    try:
        return store.get(at)
    except ArmError:
        return None


def _check_acls(acls: Any) -> None:
    if not isinstance(acls, dict):
        raise _bad("InvalidRequestPropertyValue", "networkAcls must be an object.")
    action = str(acls.get("defaultAction", ""))
    if action.lower() not in ("allow", "deny"):
        raise _bad(
            "InvalidRequestPropertyValue",
            f"The value '{action}' is not allowed for property networkAcls.defaultAction "
            "(Allow, Deny).",
        )
    values = [v.strip().lower() for v in str(acls.get("bypass", "AzureServices")).split(",")]
    if any(v not in BYPASS for v in values) or ("none" in values and len(values) > 1):
        raise _bad(
            "InvalidRequestPropertyValue",
            f"The value '{acls.get('bypass')}' is not allowed for property networkAcls.bypass: "
            "a combination of Logging, Metrics, AzureServices, or None.",
        )
    for rule in acls.get("ipRules") or []:
        value = str((rule or {}).get("value", "")) if isinstance(rule, dict) else ""
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            network = None
        if network is None or network.version != 4:
            raise _bad(
                "NetworkAclsValidationFailure",
                f"Validation of network acls failure: Invalid IP address or range {value}.",
            )


def _check_encryption(encryption: Any, account: dict[str, Any]) -> None:
    if not isinstance(encryption, dict):
        return
    if str(encryption.get("keySource", "")).lower() != "microsoft.keyvault":
        return
    vault = encryption.get("keyvaultproperties") or {}
    if not vault.get("keyname") or not vault.get("keyvaulturi"):
        raise _bad(
            "InvalidEncryptionKeySource",
            "keyvaultproperties with keyname and keyvaulturi are required when keySource is "
            "Microsoft.Keyvault.",
        )
    identity = account.get("identity") or {}
    kinds = str(identity.get("type", "None")).lower()
    user = (encryption.get("identity") or {}).get("userAssignedIdentity")
    if user:
        known = {k.lower() for k in (identity.get("userAssignedIdentities") or {})}
        if str(user).lower() not in known:
            raise _bad(
                "InvalidEncryptionIdentity",
                f"The user-assigned identity {user} is not assigned to the storage account.",
            )
    elif "systemassigned" not in kinds:
        raise _bad(
            "KeyVaultAuthenticationFailure",
            "The operation failed because the storage account has no managed identity to "
            "access the key vault with: assign one before setting a customer-managed key.",
        )


def shown(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resources as Azure answers them: a storage account does not carry its blob service (the
    generic store keeps it inside the account, as a child resource; Azure serves it at its own
    path only)."""
    for resource in resources:
        if str(resource.get("type", "")).lower() == "microsoft.storage/storageaccounts":
            (resource.get("properties") or {}).pop("blobServices", None)
    return resources


def _fill_identity(document: dict[str, Any], current: dict[str, Any] | None) -> None:
    """A system-assigned identity gets its principal and tenant, as Azure makes them (kept
    across writes)."""
    identity = document.get("identity")
    if not isinstance(identity, dict):
        return
    if "systemassigned" in str(identity.get("type", "")).lower():
        old = (current or {}).get("identity") or {}
        identity.setdefault("principalId", old.get("principalId") or str(uuid.uuid4()))
        identity.setdefault(
            "tenantId", old.get("tenantId") or "72f988bf-86f1-41af-91ab-2d7cd011db47"
        )


def put_status(path: ArmPath, status: int) -> int:
    """A storage account's create answers 200 (or 202), never 201:
    https://learn.microsoft.com/en-us/rest/api/storagerp/storage-accounts/create#response."""
    return 200 if _kind(path) == ("storageaccounts",) else status


def check_write(method: str, path: ArmPath, document: dict[str, Any], store: ArmStore) -> None:
    """Refuse (ArmError) a storage write Azure refuses; fill in what Azure fills on create."""
    kind = _kind(path)
    if not kind or path.is_collection:
        return
    props = document.get("properties")
    props = props if isinstance(props, dict) else {}
    if kind == ("storageaccounts",):
        current = _get(store, path, 1)
        if method == "PUT":
            old = (current or {}).get("properties") or {}
            props.setdefault("supportsHttpsTrafficOnly", True)
            props.setdefault("networkAcls", copy.deepcopy(DEFAULT_ACLS))
            props.setdefault("encryption", {"keySource": "Microsoft.Storage"})
            props["blobServices"] = copy.deepcopy(old.get("blobServices") or [DEFAULT_BLOB_SERVICE])
            document["properties"] = props
        if "networkAcls" in props:
            _check_acls(props["networkAcls"])
            # a whole rule set (a PATCH's too): what it leaves out is Azure's default, no rules
            props["networkAcls"] = {**copy.deepcopy(DEFAULT_ACLS), **props["networkAcls"]}
        _fill_identity(document, current)
        merged = {**(current or {}), **{k: v for k, v in document.items() if k != "properties"}}
        _check_encryption(props.get("encryption"), merged)
        if method == "PATCH" and isinstance(props.get("encryption"), dict):
            # an Encryption object is taken whole: what the PATCH leaves out is gone
            old_encryption = ((current or {}).get("properties") or {}).get("encryption") or {}
            for key in old_encryption:
                props["encryption"].setdefault(key, None)
        return
    if kind == ("storageaccounts", "blobservices"):
        if path.names[-1] != "default":
            raise _bad("InvalidResourceName", "The blob service's name must be 'default'.")
        policy = props.get("deleteRetentionPolicy")
        if isinstance(policy, dict) and policy.get("enabled"):
            days = policy.get("days")
            if not isinstance(days, int) or not 1 <= days <= 365:
                raise _bad(
                    "InvalidRequestPropertyValue",
                    f"deleteRetentionPolicy.days {days} is out of range: 1-365 when enabled.",
                )
        return
    if kind == ("storageaccounts", "blobservices", "containers"):
        level = props.get("publicAccess")
        if level is None:
            return
        if str(level) not in ("None", "Blob", "Container"):
            raise _bad(
                "InvalidRequestPropertyValue",
                f"publicAccess '{level}' is not one of None, Blob, Container.",
            )
        account = _get(store, path, 1) or {}
        if (
            level != "None"
            and (account.get("properties") or {}).get("allowBlobPublicAccess") is False
        ):
            raise ArmError(
                409,
                "PublicAccessNotPermitted",
                "Public access is not permitted on this storage account.",
            )
