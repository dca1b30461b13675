"""Verify azure_sql_server_threat_detection: the server's security alert policy is Enabled and,
with all_alert_types, disables no alert type."""

from __future__ import annotations

from azure_sql_server_threat_detection import alert_policy, compliant, wanted_for

from remedy import jobkit
from remedy.jobkit import verdict
from remedy.jobkit.azure_sql import still_to_do


def verify(finding: jobkit.Finding) -> None:
    problems = still_to_do(alert_policy(finding), wanted_for(finding.parameters))
    verdict(problems, f"server {finding.object_id}: {compliant(finding.parameters)}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
