"""Turn one security setting of an Azure storage account on, and change nothing else.

ObjectId: the storage account's name; its subscription and resource group come from the
ObjectChain. Parameter `setting` (which one; the aliases set it) and `retention_days` (soft
delete). See remedy/jobkit/azure_storage.py for each setting's compliant value and what it keeps.
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit
from remedy.jobkit import info
from remedy.jobkit.azure_storage import SETTINGS, apply, restore, storage_client


def remediate(finding: jobkit.Finding) -> None:
    setting = SETTINGS[finding.parameters["setting"]]  # remedy.json's schema: the kit checked it
    changes = apply(storage_client(finding), setting, finding)
    info(f"done: {changes} change(s) for {setting.what} on {finding.object_id}")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    changes = restore(storage_client(finding), finding, records)
    info(f"done: {changes} change(s) to restore {finding.object_id}")


if __name__ == "__main__":
    # plan: remediate itself, which makes no write when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
