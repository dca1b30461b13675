"""Turn on Microsoft Defender for SQL threat detection of an Azure SQL server: its security alert
policy `state` Enabled and, with `all_alert_types`, no alert type disabled (`disabledAlerts`
empty).

ObjectId: the server's name; its subscription and resource group come from the ObjectChain.
Everything else of the policy is kept (e-mail addresses, account admins, storage, retention).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remedy import jobkit
from remedy.jobkit import azure, info
from remedy.jobkit.azure_sql import Properties, Setting, Wanted, apply, rollback

POLICY = "Default"  # a server's one security alert policy


def alert_policy(finding: jobkit.Finding) -> Setting:
    sql = azure.client("sql", finding)
    group, server = finding.resource_group, finding.object_id

    def read() -> Properties:
        policy = sql.server_security_alert_policies.get(group, server, POLICY).as_dict()
        return dict(policy.get("properties") or {})

    def write(props: Properties) -> None:
        sql.server_security_alert_policies.begin_create_or_update(
            group, server, POLICY, {"properties": props}
        ).result()

    label = f"server {server}: security alert policy"
    return Setting(f"{server}/securityAlertPolicies/{POLICY}", label, read, write)


def disabled_alerts(props: Properties) -> list[str]:
    """The alert types turned off (Azure answers `[""]` when there is none)."""
    return [str(a) for a in props.get("disabledAlerts") or [] if a]


def wanted_for(parameters: Mapping[str, Any]) -> Wanted:
    def wanted(props: Properties) -> Properties:
        fields: Properties = {}
        if str(props.get("state", "")).lower() != "enabled":
            fields["state"] = "Enabled"
        if parameters.get("all_alert_types", True) and disabled_alerts(props):
            fields["disabledAlerts"] = []
        return fields

    return wanted


def compliant(parameters: Mapping[str, Any]) -> str:
    every = parameters.get("all_alert_types", True)
    return "threat detection is Enabled" + (" with every alert type" if every else "")


def remediate(finding: jobkit.Finding) -> None:
    changes = apply(
        alert_policy(finding), wanted_for(finding.parameters), compliant(finding.parameters)
    )
    info(f"done: {changes} change(s) to the threat detection of {finding.object_id}")


def undo(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    changes = rollback([alert_policy(finding)], records)
    info(f"done: {changes} setting(s) of {finding.object_id} restored")


if __name__ == "__main__":
    # plan: remediate itself, which makes no PUT when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=undo)
