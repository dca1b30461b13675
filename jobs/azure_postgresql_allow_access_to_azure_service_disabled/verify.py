"""Verify azure_postgresql_allow_access_to_azure_service_disabled: no 0.0.0.0-0.0.0.0 rule."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import azure, verdict
from remedy.jobkit.azure_db import firewall_rule, is_azure_services_rule


def verify(finding: jobkit.Finding) -> None:
    client = azure.client("postgresqlflexibleservers", finding)
    found = client.firewall_rules.list_by_server(finding.resource_group, finding.object_id)
    problems = [
        f"{finding.object_id}: firewall rule {r['name']} lets every Azure service in"
        for r in map(firewall_rule, found)
        if is_azure_services_rule(r)
    ]
    verdict(problems, f"{finding.object_id} does not let every Azure service in")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
