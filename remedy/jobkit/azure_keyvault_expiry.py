"""Keys or secrets of a key vault without an expiry date get one, through the vault's data plane.

The vault's URI comes from Resource Manager (`vaults.get`: `properties.vaultUri`); its keys or
secrets are then listed and updated with the real azure-keyvault-keys / azure-keyvault-secrets
clients (`list_properties_of_*`, `update_*_properties(name, expires_on=...)`), which sign in with
the same app registration for the resource https://vault.azure.net (Key Vault's challenge names
it). What is changed: the latest version of every **enabled** key or secret that has no expiry
date gets `now + days` (UTC, to the second). Left alone: ones with an expiry date (even a past
one), disabled ones, and ones Key Vault manages for a certificate (`managed`: Key Vault refuses
to update them; their certificate's policy sets their lifetime). Nothing else of an item changes
(an update names only `expires_on`: tags, not-before date, key operations, content type stay).

Setting an expiry date cannot be undone by the job: the clients can set a date but not remove one
(an absent `expires_on` means "unchanged"), so the job is irreversible.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

from remedy.jobkit import Finding, change, info, planning
from remedy.jobkit.azure import client, settings

#: Key Vault's DNS suffixes in Azure's clouds; a challenge from another host (the sandbox) is
#: taken from the vault URI Resource Manager gave, without matching its resource to the host
VAULT_SUFFIXES = (
    ".vault.azure.net",
    ".vault.azure.cn",
    ".vault.usgovcloudapi.net",
    ".vault.microsoftazure.de",
)
KINDS = {"keys": "key", "secrets": "secret"}


def vault_uri(finding: Finding) -> str:
    vault = client("keyvault", finding).vaults.get(finding.resource_group, finding.object_id)
    return str(vault.properties.vault_uri)


def data_client(kind: str, uri: str) -> Any:
    """A KeyClient or SecretClient for the vault, signed in as the job's app registration."""
    host = urllib.parse.urlsplit(uri).hostname or ""
    options = {"verify_challenge_resource": host.lower().endswith(VAULT_SUFFIXES)}
    credential = settings().credential()
    if kind == "keys":
        from azure.keyvault.keys import KeyClient

        return KeyClient(uri, credential, **options)
    from azure.keyvault.secrets import SecretClient

    return SecretClient(uri, credential, **options)


def _listed(kind: str, data: Any) -> list[Any]:
    if kind == "keys":
        return list(data.list_properties_of_keys())
    return list(data.list_properties_of_secrets())


def without_expiry(kind: str, data: Any) -> list[Any]:
    """The enabled, unmanaged items (latest versions) with no expiry date."""
    return [
        item
        for item in _listed(kind, data)
        if item.enabled and item.expires_on is None and not item.managed
    ]


def still_unset(finding: Finding) -> list[str]:
    kind: str = finding.parameters["kind"]
    data = data_client(kind, vault_uri(finding))
    noun = KINDS[kind]
    return [
        f"{finding.object_id}: {noun} {i.name} has no expiry date"
        for i in without_expiry(kind, data)
    ]


def set_expiry(finding: Finding) -> int:
    """Give each item without an expiry date one `days` from now; return how many changed."""
    kind: str = finding.parameters["kind"]
    days: int = finding.parameters["days"]
    vault, noun = finding.object_id, KINDS[kind]
    data = data_client(kind, vault_uri(finding))
    missing = without_expiry(kind, data)
    if not missing:
        info(f"ok: every enabled {noun} of key vault {vault} has an expiry date")
        return 0
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=days)
    for item in missing:
        if not planning():
            if kind == "keys":
                data.update_key_properties(item.name, expires_on=expires)
            else:
                data.update_secret_properties(item.name, expires_on=expires)
        change(
            f"{vault}: {noun} {item.name}: expiry date set to {expires.isoformat()} (none before)"
        )
    return len(missing)
