"""Verify azure_key_vault_logging_for_keyvault_enabled: a diagnostic setting of the vault sends
its AuditEvent log to a destination."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import verdict
from remedy.jobkit.azure_diagnostics import still_unlogged


def verify(finding: jobkit.Finding) -> None:
    verdict(still_unlogged(finding), f"key vault {finding.object_id} sends its AuditEvent log")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
