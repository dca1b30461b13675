"""Azure SQL settings as Resource Manager serves them: defaults, what a PUT may hold, how it answers.

The settings the SQL jobs read and write live under a server in the generic store
(sandbox/arm.py), as child resources:

- `Microsoft.Sql/servers/{s}/auditingSettings/default`: the server's blob auditing policy
  (https://learn.microsoft.com/en-us/rest/api/sql/server-blob-auditing-policies/create-or-update);
- `Microsoft.Sql/servers/{s}/securityAlertPolicies/Default`: the server's security alert policy,
  Microsoft Defender for SQL's threat detection
  (https://learn.microsoft.com/en-us/rest/api/sql/server-security-alert-policies/create-or-update);
- `Microsoft.Sql/servers/{s}/databases/{db}/transparentDataEncryption/current`: a database's
  transparent data encryption
  (https://learn.microsoft.com/en-us/rest/api/sql/transparent-data-encryptions/create-or-update);
- `Microsoft.Sql/servers/{s}/encryptionProtector/current`: the server's TDE protector
  (https://learn.microsoft.com/en-us/rest/api/sql/encryption-protectors/create-or-update), and
  `Microsoft.Sql/servers/{s}/keys/{vault}_{key}_{version}`: a Key Vault key registered with the
  server (https://learn.microsoft.com/en-us/rest/api/sql/server-keys/create-or-update).

What Azure does and the emulator does too:
- every server has these settings from its creation: a GET of one nobody wrote answers Azure's
  default (auditing and alert policy Disabled; TDE Enabled, the default for databases created
  since May 2017: https://learn.microsoft.com/en-us/azure/azure-sql/database/transparent-data-encryption-tde-overview);
  a server (or database) that does not exist is 404 as before;
- each setting has one name (`default`, `Default`, `current`): another name is 400
  InvalidResourceName ... (the REST pages above list the one value of the name parameter);
- `properties.state` is required and Enabled or Disabled; an auditing policy Enabled needs a
  destination: "If state is Enabled, storageEndpoint or isAzureMonitorTargetEnabled are required"
  (server blob auditing page); `disabledAlerts` takes only the alert types the alert policy page
  lists. Refusals are 400 with the code named below.
- a server key of type AzureKeyVault is named after its URI ("The key name is required to be in
  the format of 'vault_key_version'": server keys page, else 400 InvalidKeyName), and the server
  must reach the key: it needs a managed identity (400 AzureKeyVaultNoServerIdentity) whose
  access policy on the vault grants get, wrapKey and unwrapKey (400
  AzureKeyVaultMissingPermissions naming what lacks), as
  https://learn.microsoft.com/en-us/azure/azure-sql/database/transparent-data-encryption-byok-identify-troubleshoot
  lists them; a vault that does not exist is 400 AzureKeyVaultKeyNotFound. The vault is looked
  up in the subscription by the name in the key's URI (Microsoft.KeyVault/vaults in the store).
- a PUT of one of these settings answers 200 with the setting as stored: one of the two answers
  the REST pages document (200 done, 202 accepted), so no operation is polled (Azure SQL polls
  each setting kind at its own `Microsoft.Sql/locations/<kind>AzureAsyncOperation`, which the
  emulator does not serve).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from sandbox.arm import ArmStore
from sandbox.arm_paths import ArmError, ArmPath

AUDITING = ("servers", "auditingsettings")
ALERTS = ("servers", "securityalertpolicies")
TDE = ("servers", "databases", "transparentdataencryption")
PROTECTOR = ("servers", "encryptionprotector")
KEYS = ("servers", "keys")
NAMES = {AUDITING: "default", ALERTS: "Default", TDE: "current", PROTECTOR: "current"}
#: What a server's identity needs on the vault's access policy to use a key as TDE protector.
KEY_PERMISSIONS = ("get", "wrapKey", "unwrapKey")
_KEY_URI = re.compile(
    r"^https://(?P<vault>[A-Za-z0-9-]{3,24})\.vault\.[A-Za-z0-9.-]+(?::\d+)?/keys/"
    r"(?P<key>[A-Za-z0-9-]{1,127})/(?P<version>[A-Za-z0-9]+)$"
)
ALERT_TYPES = frozenset(
    {
        "Sql_Injection",
        "Sql_Injection_Vulnerability",
        "Access_Anomaly",
        "Data_Exfiltration",
        "Unsafe_Action",
        "Brute_Force",
    }
)
DEFAULTS: dict[tuple[str, ...], dict[str, Any]] = {
    AUDITING: {
        "state": "Disabled",
        "retentionDays": 0,
        "auditActionsAndGroups": [],
        "isStorageSecondaryKeyInUse": False,
        "isAzureMonitorTargetEnabled": False,
        "isManagedIdentityInUse": False,
        "isDevopsAuditEnabled": False,
    },
    ALERTS: {
        "state": "Disabled",
        "disabledAlerts": [""],
        "emailAddresses": [""],
        "emailAccountAdmins": False,
        "retentionDays": 0,
    },
    TDE: {"state": "Enabled"},
    PROTECTOR: {
        "serverKeyType": "ServiceManaged",
        "serverKeyName": "ServiceManaged",
        "autoRotationEnabled": False,
    },
}


def _kind(path: ArmPath) -> tuple[str, ...] | None:
    if path.namespace.lower() != "microsoft.sql":
        return None
    kind = tuple(t.lower() for t in path.types)
    return kind if (kind in NAMES or kind == KEYS) and len(path.names) == len(kind) else None


def is_setting(path: ArmPath) -> bool:
    """A SQL setting this module serves (its PUT is answered 200, without an operation)."""
    return _kind(path) is not None


def get(store: ArmStore, path: ArmPath) -> dict[str, Any]:
    """GET: the stored resource, or the default of a SQL setting nobody wrote yet."""
    try:
        return store.get(path)
    except ArmError as missing:
        kind = _kind(path)
        if (
            kind not in NAMES
            or missing.status != 404
            or path.names[-1].lower() != NAMES[kind].lower()
        ):
            raise
        parent = ArmPath(
            path.subscription, path.resource_group, path.namespace, path.types[:-1], path.names[:-1]
        )
        store.get(parent)  # the server (database) itself: 404 when it does not exist
        return {
            "id": path.id(),
            "name": NAMES[kind],
            "type": path.resource_type,
            "properties": copy.deepcopy(DEFAULTS[kind]),
        }


def _bad(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def check(path: ArmPath, document: dict[str, Any], store: ArmStore) -> None:
    """Refuse, as Azure SQL does, a setting it would not take (ArmError 400)."""
    kind = _kind(path)
    if kind is None:
        return
    if kind == KEYS:
        _check_key(path, document, store)
        return
    if kind == PROTECTOR:
        return
    if path.names[-1].lower() != NAMES[kind].lower():
        raise _bad(
            "InvalidResourceName",
            f"The resource name '{path.names[-1]}' is invalid: the only name of "
            f"{path.resource_type} is '{NAMES[kind]}'.",
        )
    props = document.get("properties")
    if not isinstance(props, dict):
        raise _bad("InvalidRequestContent", f"The request to {path.id()} has no properties object.")
    state = props.get("state")
    if state not in ("Enabled", "Disabled"):
        raise _bad(
            "DataSecurityInvalidUserSuppliedParameter",
            f"An invalid parameter value was provided by the client: state '{state}' "
            "(Enabled or Disabled).",
        )
    has_destination = (
        props.get("storageEndpoint") or props.get("isAzureMonitorTargetEnabled") is True
    )
    if kind == AUDITING and state == "Enabled" and not has_destination:
        raise _bad(
            "DataSecurityInvalidUserSuppliedParameter",
            "An invalid parameter value was provided by the client: when state is Enabled, "
            "storageEndpoint or isAzureMonitorTargetEnabled is required.",
        )
    if kind == ALERTS:
        unknown = [a for a in props.get("disabledAlerts") or [] if a and a not in ALERT_TYPES]
        if unknown:
            raise _bad(
                "DataSecurityInvalidUserSuppliedParameter",
                f"An invalid parameter value was provided by the client: disabledAlerts "
                f"{unknown} (allowed: {', '.join(sorted(ALERT_TYPES))}).",
            )


def _check_key(path: ArmPath, document: dict[str, Any], store: ArmStore) -> None:
    props = document.get("properties")
    if not isinstance(props, dict):
        raise _bad(
            "InvalidKeyUpsertRequest",
            "The create server key request does not exist or has no properties object.",
        )
    if props.get("serverKeyType") != "AzureKeyVault":
        raise _bad(
            "InvalidUpsertKeyType",
            "Service-managed TDE keys are managed by the service. Service-managed TDE keys don't "
            "support Create or Update by the user.",
        )
    found = _KEY_URI.match(str(props.get("uri") or ""))
    expected = "_".join(found.group("vault", "key", "version")) if found else None
    if expected is None or path.names[-1] != expected:
        raise _bad("InvalidKeyName", "An invalid value was given for the server key name.")
    assert found is not None
    server = ArmPath(
        path.subscription, path.resource_group, path.namespace, path.types[:1], path.names[:1]
    )
    identity = store.get(server).get("identity") or {}
    principal = identity.get("principalId")
    if "systemassigned" not in str(identity.get("type", "")).lower() or not principal:
        raise _bad(
            "AzureKeyVaultNoServerIdentity",
            f"The server identity is not correctly configured on server '{path.names[0]}'.",
        )
    vaults = store.list(ArmPath(path.subscription, None, "Microsoft.KeyVault", ("vaults",), ()))
    vault = next(
        (v for v in vaults if str(v.get("name", "")).lower() == found["vault"].lower()), None
    )
    if vault is None:
        raise _bad(
            "AzureKeyVaultKeyNotFound",
            f"The server '{path.names[0]}' cannot reach the key vault '{found['vault']}'.",
        )
    vault_props = vault.get("properties") or {}
    if vault_props.get("enableRbacAuthorization") is True:
        return  # role assignments are not emulated: the vault's RBAC is taken as granting it
    granted: set[str] = set()
    for policy in vault_props.get("accessPolicies") or []:
        if str(policy.get("objectId", "")).lower() == str(principal).lower():
            keys = (policy.get("permissions") or {}).get("keys") or []
            granted |= {str(k).lower() for k in keys}
    missing = [p for p in KEY_PERMISSIONS if p.lower() not in granted and "all" not in granted]
    if missing:
        raise _bad(
            "AzureKeyVaultMissingPermissions",
            f"The server '{path.names[0]}' requires the following Azure Key Vault permissions: "
            f"'{', '.join(missing)}'. Please grant the missing permissions to the service "
            f"principal with ID '{principal}'.",
        )
