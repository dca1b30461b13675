"""Verify azure_postgresql_enforce_ssl_connection_enable: require_secure_transport is on."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import azure, verdict
from remedy.jobkit.azure_db import SECURE_TRANSPORT, is_on


def verify(finding: jobkit.Finding) -> None:
    client = azure.client("postgresqlflexibleservers", finding)
    found = client.configurations.get(finding.resource_group, finding.object_id, SECURE_TRANSPORT)
    value = str(found.properties.value)
    problems = [] if is_on(value) else [f"{finding.object_id}: {SECURE_TRANSPORT} is {value}"]
    verdict(problems, f"{finding.object_id} requires TLS ({SECURE_TRANSPORT} {value})")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
