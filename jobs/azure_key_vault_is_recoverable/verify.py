"""Verify azure_key_vault_is_recoverable: the vault has soft delete and purge protection on."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import verdict
from remedy.jobkit.azure_keyvault import still_off


def verify(finding: jobkit.Finding) -> None:
    problems = [f"{finding.object_id}: {name} is not true" for name in still_off(finding)]
    verdict(problems, f"key vault {finding.object_id} has soft delete and purge protection on")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
