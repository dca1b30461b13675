"""Give the keys or the secrets of one Azure key vault that have no expiry date one.

ObjectId: the vault's name; its subscription and resource group come from the ObjectChain.
Parameters `kind` (keys or secrets; the aliases set it) and `days`. Irreversible: the Key Vault
clients cannot remove an expiry date (remedy/jobkit/azure_keyvault_expiry.py).
"""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import info
from remedy.jobkit.azure_keyvault_expiry import set_expiry


def remediate(finding: jobkit.Finding) -> None:
    changes = set_expiry(finding)
    info(f"done: {changes} expiry date(s) set in key vault {finding.object_id}")


if __name__ == "__main__":
    # plan: remediate itself, which makes no update when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate)
