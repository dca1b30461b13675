"""Verify azure_sql_auditing_on_server: the server's blob auditing policy is Enabled."""

from __future__ import annotations

from azure_sql_auditing_on_server import auditing, enabled

from remedy import jobkit
from remedy.jobkit import verdict


def verify(finding: jobkit.Finding) -> None:
    props = auditing(finding).read()
    problems = [] if enabled(props) else [f"server {finding.object_id}: auditing is not Enabled"]
    verdict(problems, f"server {finding.object_id}: auditing is Enabled")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
