"""Make a key vault recoverable: soft delete and purge protection on, nothing else touched.

One PATCH of the vault (`vaults.update`) that names only the properties still off, so every other
setting of the vault (access policies, network rules, SKU, tags) is left as it is. Key Vault's
Resource Manager API offers no ETag on vaults, so there is no If-Match: a PATCH of two booleans
needs none (it cannot overwrite anything else).

Neither change can be undone: Azure refuses `enablePurgeProtection: false` and
`enableSoftDelete: false` once they are true
(https://learn.microsoft.com/en-us/rest/api/keyvault/keyvault/vaults/create-or-update,
VaultProperties), so the job declares itself irreversible.
"""

from __future__ import annotations

from remedy.jobkit import Finding, change, info, planning
from remedy.jobkit.azure import client

#: the vault properties that make it recoverable, as Resource Manager names them
RECOVERABLE = ("enableSoftDelete", "enablePurgeProtection")


def still_off(finding: Finding) -> list[str]:
    """The recoverability properties that are not true on the finding's vault (GET)."""
    vault = client("keyvault", finding).vaults.get(finding.resource_group, finding.object_id)
    properties = vault.as_dict().get("properties") or {}
    return [name for name in RECOVERABLE if properties.get(name) is not True]


def make_recoverable(finding: Finding) -> int:
    """Turn on what is off; return how many properties changed."""
    name = finding.object_id
    off = still_off(finding)
    if not off:
        info(f"ok: key vault {name} already has soft delete and purge protection on")
        return 0
    if not planning():
        patch = {"properties": {prop: True for prop in off}}
        client("keyvault", finding).vaults.update(finding.resource_group, name, patch)
    for prop in off:
        change(f"{name}: {prop} -> true (Azure will not let it be turned off again)")
    return len(off)
