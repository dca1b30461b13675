"""Turn on an Azure SQL server's auditing: its blob auditing policy `state` Enabled.

ObjectId: the server's name; its subscription and resource group come from the ObjectChain.
Everything else of the policy is kept (retention, audit action groups, destinations). A policy
that names no destination (no storageEndpoint, isAzureMonitorTargetEnabled false) gets the one the
parameters give (Azure refuses an enabled policy without one); with neither parameter the job
changes nothing and exits 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from remedy import jobkit
from remedy.jobkit import azure, info
from remedy.jobkit.azure import CannotRemediate
from remedy.jobkit.azure_sql import Properties, Setting, Wanted, apply, rollback


def auditing(finding: jobkit.Finding) -> Setting:
    sql = azure.client("sql", finding)
    group, server = finding.resource_group, finding.object_id

    def read() -> Properties:
        policy = sql.server_blob_auditing_policies.get(group, server).as_dict()
        return dict(policy.get("properties") or {})

    def write(props: Properties) -> None:
        sql.server_blob_auditing_policies.begin_create_or_update(
            group, server, {"properties": props}
        ).result()

    return Setting(f"{server}/auditingSettings/default", f"server {server}: auditing", read, write)


def enabled(props: Properties) -> bool:
    return str(props.get("state", "")).lower() == "enabled"


def has_destination(props: Properties) -> bool:
    return bool(props.get("storageEndpoint")) or props.get("isAzureMonitorTargetEnabled") is True


def wanted_for(parameters: Mapping[str, Any]) -> Wanted:
    def wanted(props: Properties) -> Properties:
        if enabled(props):
            return {}
        fields: Properties = {"state": "Enabled"}
        if not has_destination(props):
            if parameters.get("storage_endpoint"):
                fields["storageEndpoint"] = parameters["storage_endpoint"]
            if parameters.get("azure_monitor"):
                fields["isAzureMonitorTargetEnabled"] = True
            if len(fields) == 1:
                raise CannotRemediate(
                    "the auditing policy names no destination: give "
                    "remediationParameters.storage_endpoint or azure_monitor (nothing changed)"
                )
        return fields

    return wanted


def remediate(finding: jobkit.Finding) -> None:
    changes = apply(auditing(finding), wanted_for(finding.parameters), "auditing is Enabled")
    info(f"done: {changes} change(s) to turn on auditing of {finding.object_id}")


def undo(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    changes = rollback([auditing(finding)], records)
    info(f"done: {changes} setting(s) of {finding.object_id} restored")


if __name__ == "__main__":
    # plan: remediate itself, which makes no PUT when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=undo)
