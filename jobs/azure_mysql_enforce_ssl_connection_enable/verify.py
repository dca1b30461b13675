"""Verify azure_mysql_enforce_ssl_connection_enable: require_secure_transport is ON."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import azure, verdict
from remedy.jobkit.azure_db import SECURE_TRANSPORT, is_on


def verify(finding: jobkit.Finding) -> None:
    client = azure.client("mysqlflexibleservers", finding)
    found = client.configurations.list_by_server(
        finding.resource_group, finding.object_id, keyword=SECURE_TRANSPORT
    )
    values = [str(c.value) for c in found if str(c.name).lower() == SECURE_TRANSPORT]
    problems = [
        f"{finding.object_id}: {SECURE_TRANSPORT} is {v}"
        for v in values or ["absent"]
        if not is_on(v)
    ]
    verdict(problems, f"{finding.object_id} requires a secure transport ({SECURE_TRANSPORT} ON)")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
