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
  (https://learn.microsoft.com/en-us/rest/api/sql/transparent-data-encryptions/create-or-update).

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
- a PUT of one of these settings answers 200 with the setting as stored: one of the two answers
  the REST pages document (200 done, 202 accepted), so no operation is polled (Azure SQL polls
  each setting kind at its own `Microsoft.Sql/locations/<kind>AzureAsyncOperation`, which the
  emulator does not serve).
"""

from __future__ import annotations

import copy
from typing import Any

from sandbox.arm import ArmStore
from sandbox.arm_paths import ArmError, ArmPath

AUDITING = ("servers", "auditingsettings")
ALERTS = ("servers", "securityalertpolicies")
TDE = ("servers", "databases", "transparentdataencryption")
NAMES = {AUDITING: "default", ALERTS: "Default", TDE: "current"}
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
}


def _kind(path: ArmPath) -> tuple[str, ...] | None:
    if path.namespace.lower() != "microsoft.sql":
        return None
    kind = tuple(t.lower() for t in path.types)
    return kind if kind in NAMES and len(path.names) == len(kind) else None


def is_setting(path: ArmPath) -> bool:
    """A SQL setting this module serves (its PUT is answered 200, without an operation)."""
    return _kind(path) is not None


def get(store: ArmStore, path: ArmPath) -> dict[str, Any]:
    """GET: the stored resource, or the default of a SQL setting nobody wrote yet."""
    try:
        return store.get(path)
    except ArmError as missing:
        kind = _kind(path)
        if kind is None or missing.status != 404 or path.names[-1].lower() != NAMES[kind].lower():
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


def check(path: ArmPath, document: dict[str, Any]) -> None:
    """Refuse, as Azure SQL does, a setting it would not take (ArmError 400)."""
    kind = _kind(path)
    if kind is None:
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
