"""Send one Azure key vault's AuditEvent log somewhere: an Azure Monitor diagnostic setting.

ObjectId: the vault's name; its subscription and resource group come from the ObjectChain.
Parameters `storage_account_id` and/or `workspace_id` (where the log goes), `setting_name`. See
remedy/jobkit/azure_diagnostics.py for what is created or changed, and how rollback undoes it.
"""

from __future__ import annotations

from typing import Any

from remedy import jobkit
from remedy.jobkit import info
from remedy.jobkit.azure_diagnostics import enable_audit_logging, restore


def remediate(finding: jobkit.Finding) -> None:
    changes = enable_audit_logging(finding)
    info(f"done: {changes} change(s) to log key vault {finding.object_id}'s AuditEvent")


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    changes = restore(finding, records)
    info(f"done: {changes} change(s) to restore key vault {finding.object_id}'s logging")


if __name__ == "__main__":
    # plan: remediate itself, which makes no PUT when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
