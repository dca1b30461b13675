"""Verify azure_sql_data_encryption_on: every database of the server but master has TDE Enabled."""

from __future__ import annotations

from azure_sql_data_encryption_on import encryption_settings, wanted

from remedy import jobkit
from remedy.jobkit import verdict
from remedy.jobkit.azure_sql import still_to_do


def verify(finding: jobkit.Finding) -> None:
    problems = [p for s in encryption_settings(finding) for p in still_to_do(s, wanted)]
    verdict(problems, f"every database of {finding.object_id} has TDE Enabled")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
