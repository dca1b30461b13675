"""What Resource Manager refuses in a Key Vault write and in a diagnostic setting, as Azure does.

Hooked into sandbox/arm_requests.py (`check_write` before a PUT or PATCH is stored; `synchronous`
for the answers that start no long-running operation). Every refusal is a 400 with the code Azure
answers; the messages paraphrase Azure's.

Key vaults (`Microsoft.KeyVault/vaults`), VaultProperties in
https://learn.microsoft.com/en-us/rest/api/keyvault/keyvault/vaults/create-or-update and
https://learn.microsoft.com/en-us/azure/key-vault/general/soft-delete-overview:
- `enablePurgeProtection`: "Enabling this functionality is irreversible - that is, the property
  does not accept false as its value": false on a vault that has it is refused;
- `enableSoftDelete`: "Once set to true, it cannot be reverted to false": likewise;
- `softDeleteRetentionInDays`: "It accepts >=7 and <=90".

Diagnostic settings (`{resource}/providers/Microsoft.Insights/diagnosticSettings/{name}`, an
extension resource: https://learn.microsoft.com/en-us/rest/api/monitor/diagnostic-settings/create-or-update,
https://learn.microsoft.com/en-us/azure/azure-monitor/essentials/diagnostic-settings):
- a setting sends to at least one destination (storageAccountId, workspaceId,
  eventHubAuthorizationRuleId, marketplacePartnerId);
- a destination is a full resource id of its type (ARM's LinkedInvalidPropertyId otherwise);
- each `logs` entry names a `category` or a `categoryGroup`, not both, and on a key vault one
  that vaults have: categories AuditEvent and AzurePolicyEvaluationDetails, groups audit and
  allLogs (https://learn.microsoft.com/en-us/azure/azure-monitor/reference/supported-logs/microsoft-keyvault-vaults-logs);
- at most five diagnostic settings per resource (the diagnostic-settings page above).
Writing and deleting a diagnostic setting is synchronous (200; 200 or 204): no operation to poll.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.arm_paths import ArmError, ArmPath
from sandbox.keyvault_data import PREFIX as DATA_PREFIX

VAULTS = "microsoft.keyvault/vaults"
DIAGNOSTIC_SETTINGS = "microsoft.insights/diagnosticsettings"
MAX_SETTINGS = 5
VAULT_CATEGORIES = frozenset({"auditevent", "azurepolicyevaluationdetails"})
VAULT_CATEGORY_GROUPS = frozenset({"audit", "alllogs"})
#: destination property -> the resource type its id must name
DESTINATIONS = {
    "storageAccountId": "Microsoft.Storage/storageAccounts",
    "workspaceId": "Microsoft.OperationalInsights/workspaces",
    "eventHubAuthorizationRuleId": "Microsoft.EventHub/namespaces/authorizationRules",
    "marketplacePartnerId": "",
}
_RESOURCE_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/(.+)$", re.I)


def _kind(path: ArmPath) -> str:
    return path.resource_type.lower()


def synchronous(path: ArmPath) -> bool:
    """Writes and deletes that Azure answers at once, with no operation to poll."""
    return _kind(path) == DIAGNOSTIC_SETTINGS


def check_write(
    path: ArmPath,
    document: dict[str, Any],
    current: dict[str, Any] | None,
    siblings: list[dict[str, Any]],
) -> None:
    """Refuse a PUT or PATCH body as Azure would. `current`: the resource as stored (None: a
    create); `siblings`: for a diagnostic setting, the settings the resource already has."""
    if _kind(path) == VAULTS and not path.is_collection:
        _check_vault(document.get("properties") or {}, (current or {}).get("properties") or {})
    elif _kind(path) == DIAGNOSTIC_SETTINGS and not path.is_collection:
        _check_setting(path, document.get("properties") or {}, current, siblings)


def settle(path: ArmPath, method: str, document: dict[str, Any], base_url: str) -> None:
    """What Azure fills in a vault's PUT: its data plane's URI (here on the emulator: see
    sandbox/keyvault_data.py; Azure's is https://{name}.vault.azure.net/)."""
    if _kind(path) == VAULTS and method == "PUT" and not path.is_collection:
        properties = document.setdefault("properties", {})
        properties["vaultUri"] = f"{base_url}/{DATA_PREFIX}/{path.names[-1]}/"


def _bad(message: str, code: str = "BadRequest") -> ArmError:
    return ArmError(400, code, message)


def _check_vault(props: dict[str, Any], now: dict[str, Any]) -> None:
    for name in ("enablePurgeProtection", "enableSoftDelete"):
        if props.get(name) is False and now.get(name) is True:
            raise _bad(
                f'The property "{name}" cannot be set to false: once enabled on a vault it '
                "cannot be turned off again."
            )
    days = props.get("softDeleteRetentionInDays")
    if days is not None and (not isinstance(days, int) or not 7 <= days <= 90):
        raise _bad(f"softDeleteRetentionInDays must be between 7 and 90 (days), not {days!r}.")


def _check_setting(
    path: ArmPath,
    props: dict[str, Any],
    current: dict[str, Any] | None,
    siblings: list[dict[str, Any]],
) -> None:
    named = {k: props.get(k) for k in DESTINATIONS if props.get(k)}
    if not named:
        raise _bad(
            "A diagnostic setting needs at least one destination: storageAccountId, workspaceId, "
            "eventHubAuthorizationRuleId or marketplacePartnerId."
        )
    for key, value in named.items():
        match = _RESOURCE_ID.match(str(value))
        wanted = DESTINATIONS[key]
        if match is None or (wanted and not match.group(1).lower().startswith(wanted.lower())):
            raise _bad(
                f"Property id '{value}' at path 'properties.{key}' is invalid. Expect fully "
                "qualified resource Id that start with '/subscriptions/{subscriptionId}' or "
                "'/providers/{resourceProviderNamespace}/'.",
                "LinkedInvalidPropertyId",
            )
    on_vault = path.extends.lower().split("/providers/", 1)[-1].startswith(VAULTS)
    for entry in props.get("logs") or []:
        category, group = entry.get("category"), entry.get("categoryGroup")
        if bool(category) == bool(group):
            raise _bad("A logs entry names either a category or a categoryGroup.")
        if on_vault and category and str(category).lower() not in VAULT_CATEGORIES:
            raise _bad(f"Category '{category}' is not supported.")
        if on_vault and group and str(group).lower() not in VAULT_CATEGORY_GROUPS:
            raise _bad(f"Category group '{group}' is not supported.")
    if current is None and len(siblings) >= MAX_SETTINGS:
        raise _bad(
            f"{path.extends} already has {len(siblings)} diagnostic settings: at most "
            f"{MAX_SETTINGS} are allowed per resource."
        )
