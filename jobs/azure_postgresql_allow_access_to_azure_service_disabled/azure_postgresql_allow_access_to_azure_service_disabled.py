"""Stop letting every Azure service reach one PostgreSQL flexible server: delete its firewall rule
from 0.0.0.0 to 0.0.0.0 (the portal's "Allow public access from any Azure service within Azure to
this server", named `AllowAllAzureServicesAndResourcesWithinAzureIps_<date>`). Every other
firewall rule, and the rest of the server, is kept.

ObjectId: the flexible server's name; its subscription and resource group come from the
ObjectChain. A name that is no flexible server (a retired single server among them) ends with
exit 1 and one ERROR line saying what to do (remedy/jobkit/azure_db.py). Rollback recreates each
deleted rule with its name and addresses, unless the server has such a rule again.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import HttpResponseError

from remedy import jobkit
from remedy.jobkit import ChangedSince, RecordError, azure, change, info, planning, record
from remedy.jobkit.azure_db import (
    FIREWALL_KIND,
    firewall_rule,
    is_azure_services_rule,
    missing_server,
)
from remedy.jobkit.modes import of_kind


def rules(client: Any, finding: jobkit.Finding) -> list[dict[str, Any]]:
    """The server's firewall rules as {name, startIpAddress, endIpAddress}."""
    group, server = finding.resource_group, finding.object_id
    try:
        return [firewall_rule(r) for r in client.firewall_rules.list_by_server(group, server)]
    except HttpResponseError as exc:
        raise missing_server(exc, "PostgreSQL", server, group) from exc


def remediate(finding: jobkit.Finding) -> None:
    client = azure.client("postgresqlflexibleservers", finding)
    group, server = finding.resource_group, finding.object_id
    found = [r for r in rules(client, finding) if is_azure_services_rule(r)]
    if not found:
        info(f"ok: {server} has no firewall rule that lets every Azure service in")
        return
    for rule in found:
        record(server, FIREWALL_KIND, rule, None)
        if not planning():
            client.firewall_rules.begin_delete(group, server, rule["name"]).result()
        change(
            f"{server}: removed firewall rule {rule['name']} (0.0.0.0-0.0.0.0): access from "
            "Azure services disabled"
        )
    info(f"done: {len(found)} change(s) to {server}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    client = azure.client("postgresqlflexibleservers", finding)
    group, server = finding.resource_group, finding.object_id
    mine = [r["before"] for r in of_kind(records, FIREWALL_KIND) if r["resource"] == server]
    if not mine:
        raise RecordError(f"no change record is about server {server}")
    now = rules(client, finding)
    names = {str(r["name"]).lower() for r in now}
    again = [r["name"] for r in now if is_azure_services_rule(r)]
    taken = [r["name"] for r in mine if str(r["name"]).lower() in names]
    if again or taken:
        raise ChangedSince(
            f"{server}: its firewall changed since the job removed the Azure-services rule "
            f"(rules now present: {', '.join(sorted(set(again + taken)))})"
        )
    for rule in mine:
        body = {
            "properties": {
                "startIpAddress": rule["startIpAddress"],
                "endIpAddress": rule["endIpAddress"],
            }
        }
        client.firewall_rules.begin_create_or_update(group, server, rule["name"], body).result()
        change(
            f"{server}: recreated firewall rule {rule['name']} "
            f"({rule['startIpAddress']}-{rule['endIpAddress']}) (rollback)"
        )


if __name__ == "__main__":
    # plan: remediate itself, which deletes nothing when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
