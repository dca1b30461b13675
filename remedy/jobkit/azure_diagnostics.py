"""Key Vault audit logging: an Azure Monitor diagnostic setting on the vault that sends its
AuditEvent log to a storage account or a Log Analytics workspace.

A vault is compliant when one of its diagnostic settings has an enabled log entry for the
AuditEvent category (or a category group that holds it: `audit`, `allLogs`) and a destination
(storage account, Log Analytics workspace, event hub or partner solution). Otherwise the job
writes the setting named by the `setting_name` parameter:

- none of that name: a new setting with one log entry, AuditEvent enabled, sent to the
  `storage_account_id` and/or `workspace_id` parameter;
- one of that name exists (AuditEvent off or absent, or no destination): it is kept as it is,
  with its AuditEvent entry enabled (added if absent) and, only if it has no destination, the
  parameter's destination added; its other logs, metrics and destinations are untouched.

Diagnostic settings carry no ETag, so the write is a plain PUT of the setting (Azure Monitor
offers no If-Match on them: https://learn.microsoft.com/en-us/rest/api/monitor/diagnostic-settings/create-or-update).
Before it, one change record (kind `azure-diagnostic-setting`) keeps the setting as it was (None:
there was none) and as written; rollback deletes a setting the job created, or puts the old one
back, and refuses when the setting is no longer as the job left it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remedy.jobkit import BadInput, ChangedSince, Finding, RecordError, change, info, planning
from remedy.jobkit import record as record_change
from remedy.jobkit.azure import client
from remedy.jobkit.modes import of_kind

SETTING_KIND = "azure-diagnostic-setting"
AUDIT_CATEGORY = "AuditEvent"
AUDIT_GROUPS = frozenset({"audit", "alllogs"})
DESTINATIONS = (
    "storage_account_id",
    "workspace_id",
    "event_hub_authorization_rule_id",
    "marketplace_partner_id",
)
#: what Resource Manager fills in and a record leaves out
_SERVER_FIELDS = frozenset({"id", "name", "type", "system_data"})


def _vault_id(finding: Finding) -> str:
    vault = client("keyvault", finding).vaults.get(finding.resource_group, finding.object_id)
    return str(vault.id)


def _settings(finding: Finding, vault_id: str) -> list[Any]:
    return list(client("monitor", finding).diagnostic_settings.list(vault_id))


def comparable(setting: Any) -> dict[str, Any]:
    """A setting as a change record keeps it: its properties, without empty values."""
    return {
        k: v
        for k, v in sorted(setting.as_dict().items())
        if k not in _SERVER_FIELDS and v not in (None, [], "")
    }


def audits(document: dict[str, Any]) -> bool:
    """Whether a setting (as comparable() keeps it) sends AuditEvent somewhere."""
    logged = any(
        entry.get("enabled")
        and (
            str(entry.get("category") or "").lower() == AUDIT_CATEGORY.lower()
            or str(entry.get("category_group") or "").lower() in AUDIT_GROUPS
        )
        for entry in document.get("logs") or []
    )
    return logged and any(document.get(d) for d in DESTINATIONS)


def _named(settings: Sequence[Any], name: str) -> Any | None:
    return next((s for s in settings if str(s.name).lower() == name.lower()), None)


def still_unlogged(finding: Finding) -> list[str]:
    """Empty when a diagnostic setting of the vault sends AuditEvent to a destination."""
    settings = _settings(finding, _vault_id(finding))
    if any(audits(comparable(s)) for s in settings):
        return []
    return [f"{finding.object_id}: no diagnostic setting sends AuditEvent to a destination"]


def _destination(parameters: Any) -> dict[str, str]:
    wanted = {
        key: str(parameters.get(key) or "")
        for key in ("storage_account_id", "workspace_id")
        if parameters.get(key)
    }
    if not wanted:
        raise BadInput(
            "remediationParameters: storage_account_id or workspace_id is needed: where should "
            "the vault's AuditEvent log go?"
        )
    return wanted


def _planned(before: dict[str, Any] | None, destination: dict[str, str]) -> dict[str, Any]:
    if before is None:
        return {**destination, "logs": [{"category": AUDIT_CATEGORY, "enabled": True}]}
    after = {**before, "logs": [dict(entry) for entry in before.get("logs") or []]}
    entry = next(
        (e for e in after["logs"] if str(e.get("category") or "").lower() == "auditevent"), None
    )
    if entry is None:
        after["logs"].append({"category": AUDIT_CATEGORY, "enabled": True})
    else:
        entry["enabled"] = True
    if not any(after.get(d) for d in DESTINATIONS):
        after.update(destination)
    return after


def enable_audit_logging(finding: Finding) -> int:
    """Write the setting that sends AuditEvent; return how many settings changed (0 or 1)."""
    vault = finding.object_id
    vault_id = _vault_id(finding)
    settings = _settings(finding, vault_id)
    if any(audits(comparable(s)) for s in settings):
        info(f"ok: a diagnostic setting of key vault {vault} already sends AuditEvent")
        return 0
    name = str(finding.parameters.get("setting_name") or "remedy-keyvault-audit")
    existing = _named(settings, name)
    before = comparable(existing) if existing is not None else None
    after = _planned(before, _destination(finding.parameters))
    where = ", ".join(str(after[d]) for d in DESTINATIONS if after.get(d))
    line = (
        f"{vault}: diagnostic setting {name} "
        f"{'created' if before is None else 'updated'}: AuditEvent enabled, sent to {where}"
    )
    if not planning():
        record_change(vault, SETTING_KIND, {"name": name, "setting": before}, after)
        _put(finding, vault_id, name, after)
    change(line)
    return 1


def _put(finding: Finding, vault_id: str, name: str, document: dict[str, Any]) -> None:
    from azure.mgmt.monitor.v2021_05_01_preview.models import DiagnosticSettingsResource

    setting = DiagnosticSettingsResource.from_dict(document)
    client("monitor", finding).diagnostic_settings.create_or_update(vault_id, name, setting)


def restore(finding: Finding, records: Sequence[dict[str, Any]]) -> int:
    """Put the vault's diagnostic setting back as the last record says it was."""
    vault = finding.object_id
    mine = [r for r in of_kind(list(records), SETTING_KIND) if r["resource"] == vault]
    if not mine:
        raise RecordError(f"no change record is about key vault {vault}'s diagnostic settings")
    last = mine[-1]
    name, before = last["before"]["name"], last["before"]["setting"]
    vault_id = _vault_id(finding)
    current = _named(_settings(finding, vault_id), name)
    now = comparable(current) if current is not None else None
    if now != last["after"]:
        raise ChangedSince(
            f"diagnostic setting {name} of key vault {vault} changed since the job wrote it"
            f"{' (it was deleted)' if now is None else ''}"
        )
    if before is None:
        client("monitor", finding).diagnostic_settings.delete(vault_id, name)
        change(f"{vault}: removed diagnostic setting {name} the job had created (rollback)")
    else:
        _put(finding, vault_id, name, before)
        change(f"{vault}: diagnostic setting {name} restored (rollback)")
    return 1
