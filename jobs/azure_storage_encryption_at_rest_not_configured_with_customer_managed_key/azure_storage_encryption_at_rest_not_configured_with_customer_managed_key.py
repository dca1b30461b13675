"""Encrypt an Azure storage account with a customer-managed key from Key Vault.

ObjectId: the storage account's name; its subscription and resource group come from the
ObjectChain. Parameters `key_uri` (the Key Vault key) and `user_assigned_identity` (optional).
The account must already have the managed identity that reads the key, with access to it: the
job says exactly what is missing and exits 1 otherwise (remedy/jobkit/azure_storage_cmk.py).
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit
from remedy.jobkit import info
from remedy.jobkit.azure_storage_cmk import encrypt_with_key, restore_encryption, storage_client


def remediate(finding: jobkit.Finding) -> None:
    changes = encrypt_with_key(storage_client(finding), finding)
    info(f"done: {changes} change(s) to encrypt {finding.object_id} with a customer-managed key")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    changes = restore_encryption(storage_client(finding), finding, records)
    info(f"done: {changes} change(s) to restore {finding.object_id}")


if __name__ == "__main__":
    # plan: remediate itself, which makes no write when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
