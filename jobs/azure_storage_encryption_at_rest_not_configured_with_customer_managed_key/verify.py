"""Verify: the storage account is encrypted with a customer-managed key (keySource Microsoft.Keyvault)."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import verdict
from remedy.jobkit.azure_storage_cmk import encryption_left, storage_client


def verify(finding: jobkit.Finding) -> None:
    problems = encryption_left(storage_client(finding), finding)
    verdict(problems, f"{finding.object_id} is encrypted with a customer-managed key")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
