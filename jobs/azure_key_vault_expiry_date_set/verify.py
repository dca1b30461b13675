"""Verify azure_key_vault_expiry_date_set: every enabled key (or secret) has an expiry date."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import verdict
from remedy.jobkit.azure_keyvault_expiry import still_unset


def verify(finding: jobkit.Finding) -> None:
    kind = finding.parameters["kind"]
    verdict(still_unset(finding), f"every enabled item of {kind} in {finding.object_id} expires")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
