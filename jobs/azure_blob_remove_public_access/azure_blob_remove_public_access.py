"""Make the blob containers of an Azure storage account private, and (by default) disallow
public access on the account so that none can be made public again.

ObjectId: the storage account's name; its subscription and resource group come from the
ObjectChain. Parameter `disallow_at_account` (default true): also set allowBlobPublicAccess false.
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit
from remedy.jobkit import info
from remedy.jobkit.azure_blob_public import (
    remove_public_access,
    restore_public_access,
    storage_client,
)


def remediate(finding: jobkit.Finding) -> None:
    changes = remove_public_access(storage_client(finding), finding)
    info(f"done: {changes} change(s) to remove public access on {finding.object_id}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    changes = restore_public_access(storage_client(finding), finding, records)
    info(f"done: {changes} change(s) to restore {finding.object_id}")


if __name__ == "__main__":
    # plan: remediate itself, which makes no write when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
