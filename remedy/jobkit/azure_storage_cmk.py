"""Encrypt a storage account with a customer-managed key (a Key Vault key), or say exactly what
is missing.

Azure Storage reads the key with the account's managed identity
(https://learn.microsoft.com/en-us/azure/storage/common/customer-managed-keys-configure-existing-account):
the account needs a system-assigned identity (or the user-assigned one named by the parameter,
already assigned to it), and that identity needs the "Key Vault Crypto Service Encryption User"
role on the key (or get, wrapKey and unwrapKey in the vault's access policy). The job does not
grant either: giving an identity to an account and granting roles on a vault are decisions about
other resources, and need Microsoft.Authorization/roleAssignments/write, far beyond this job's
role. An account without the identity makes the job exit 1 with one line naming what to do;
Azure refuses the update itself when the identity cannot reach the key (the ERROR line carries
its message and the same hint).

The account's `encryption` is written back whole as read (its services, infrastructure
encryption...) with keySource Microsoft.Keyvault and the key's properties; one change record
(kind `azure-storage-encryption`) keeps it as read and as written.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import HttpResponseError

from remedy.jobkit import ChangedSince, Finding, RecordError, change, info, planning, record
from remedy.jobkit.azure import CannotRemediate
from remedy.jobkit.azure_storage import compact, show, storage_client
from remedy.jobkit.modes import of_kind
from remedy.params import ParameterError

__all__ = ["encrypt_with_key", "encryption_left", "restore_encryption", "storage_client"]

ENCRYPTION_KIND = "azure-storage-encryption"
KEY_VAULT = "Microsoft.Keyvault"
GRANT = (
    "grant that identity the 'Key Vault Crypto Service Encryption User' role on the key (or get, "
    "wrapKey and unwrapKey in the vault's access policy)"
)


def key_properties(key_uri: str) -> dict[str, str]:
    """`https://v.vault.azure.net/keys/k[/version]` -> keyvaulturi, keyname (, keyversion).

    No version: Azure follows the key's latest version (automatic key rotation)."""
    parts = urlsplit(key_uri)
    segments = [s for s in parts.path.split("/") if s]
    found = {"keyvaulturi": f"{parts.scheme}://{parts.netloc}", "keyname": segments[1]}
    if len(segments) > 2:
        found["keyversion"] = segments[2]
    return found


def is_customer_managed(encryption: Any) -> bool:
    return isinstance(encryption, dict) and (
        str(encryption.get("keySource", "")).lower() == KEY_VAULT.lower()
    )


def _missing_identity(account: str, document: dict[str, Any], user_identity: str) -> str | None:
    """What the account lacks to read a Key Vault key, said so a person can act; None: nothing."""
    identity = document.get("identity") or {}
    kinds = str(identity.get("type") or "None").lower()
    if user_identity:
        assigned = {k.lower() for k in identity.get("userAssignedIdentities") or {}}
        if user_identity.lower() not in assigned:
            return (
                f"{account}: the user-assigned identity {user_identity} is not assigned to the "
                "account: assign it (az storage account update --identity-type UserAssigned "
                f"--user-identity-id {user_identity}), {GRANT}, then run the job again"
            )
        return None
    if "systemassigned" not in kinds:
        return (
            f"{account}: the account has no system-assigned managed identity, which Azure Storage "
            "needs to read a customer-managed key: give it one (az storage account update "
            f"--assign-identity), {GRANT}, then run the job again; nothing was changed"
        )
    return None


def _wanted(document: dict[str, Any], parameters: Any) -> dict[str, Any]:
    encryption = copy.deepcopy((document.get("properties") or {}).get("encryption") or {})
    encryption["keySource"] = KEY_VAULT
    encryption["keyvaultproperties"] = key_properties(str(parameters["key_uri"]))
    user_identity = str(parameters.get("user_assigned_identity") or "")
    if user_identity:
        encryption["identity"] = {"userAssignedIdentity": user_identity}
    return encryption


def encryption_left(storage: Any, finding: Finding) -> list[str]:
    """What the job would still change (empty: a customer-managed key encrypts the account)."""
    document = storage.storage_accounts.get_properties(
        finding.resource_group, finding.object_id
    ).as_dict()
    encryption = (document.get("properties") or {}).get("encryption")
    if is_customer_managed(encryption):
        return []
    source = (encryption or {}).get("keySource", "Microsoft.Storage")
    return [f"{finding.object_id}: encryption keySource is {source}, not {KEY_VAULT}"]


def encrypt_with_key(storage: Any, finding: Finding) -> int:
    """Point the account's encryption at the Key Vault key; return the number of changes."""
    account, group = finding.object_id, finding.resource_group
    if not finding.parameters.get("key_uri"):
        raise ParameterError(
            "remediationParameters.key_uri",
            "is missing: name the Key Vault key to encrypt the account with "
            "(https://<vault>.vault.azure.net/keys/<name>[/<version>])",
        )
    document = storage.storage_accounts.get_properties(group, account).as_dict()
    current = (document.get("properties") or {}).get("encryption")
    if is_customer_managed(current):
        vault = (current or {}).get("keyvaultproperties") or {}
        info(
            f"ok: {account} is encrypted with customer-managed key {vault.get('keyname')} of "
            f"{vault.get('keyvaulturi')} (left as it is)"
        )
        return 0
    user_identity = str(finding.parameters.get("user_assigned_identity") or "")
    missing = _missing_identity(account, document, user_identity)
    if missing:
        raise CannotRemediate(missing)
    wanted = _wanted(document, finding.parameters)
    line = (
        f"{account}: encryption keySource {(current or {}).get('keySource', 'Microsoft.Storage')} "
        f"-> {KEY_VAULT} (key {finding.parameters['key_uri']})"
    )
    if planning():
        change(line)
        return 1
    record(account, ENCRYPTION_KIND, compact(current), compact(wanted))
    try:
        storage.storage_accounts.update(group, account, {"properties": {"encryption": wanted}})
    except HttpResponseError as exc:
        if exc.status_code == 400:  # Azure could not use the key with the identity
            raise CannotRemediate(
                f"Azure refused the key for {account}: {exc.message}; check that the key exists "
                f"and is enabled, and {GRANT.replace('grant', 'that the account identity has')}"
            ) from exc
        raise
    change(line)
    return 1


def restore_encryption(storage: Any, finding: Finding, records: list[dict[str, Any]]) -> int:
    """Put the account's encryption back as it was, if it is still what the job wrote."""
    account, group = finding.object_id, finding.resource_group
    mine = [r for r in of_kind(records, ENCRYPTION_KIND) if r["resource"] == account]
    if not mine:
        raise RecordError(f"no change record is about storage account {account}")
    before, after = mine[-1]["before"], mine[-1]["after"]
    document = storage.storage_accounts.get_properties(group, account).as_dict()
    now = compact((document.get("properties") or {}).get("encryption"))
    if now != after:
        raise ChangedSince(
            f"{account}: encryption changed since the job set it (it is {show(now)})"
        )
    old = before or {"keySource": "Microsoft.Storage"}
    storage.storage_accounts.update(group, account, {"properties": {"encryption": old}})
    change(f"{account}: encryption -> {show(old)} (rollback)")
    return 1
