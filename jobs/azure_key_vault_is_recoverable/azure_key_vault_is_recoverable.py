"""Make one Azure key vault recoverable: soft delete and purge protection on.

ObjectId: the vault's name; its subscription and resource group come from the ObjectChain.
Irreversible: Azure refuses to turn either setting off again (remedy/jobkit/azure_keyvault.py).
"""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import info
from remedy.jobkit.azure_keyvault import make_recoverable


def remediate(finding: jobkit.Finding) -> None:
    changes = make_recoverable(finding)
    info(f"done: {changes} change(s) to make key vault {finding.object_id} recoverable")


if __name__ == "__main__":
    # plan: remediate itself, which makes no PATCH when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate)
