"""Verify azure_storage_account_harden: the account's setting has its compliant value."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import verdict
from remedy.jobkit.azure_storage import SETTINGS, still_to_do, storage_client


def verify(finding: jobkit.Finding) -> None:
    setting = SETTINGS[finding.parameters["setting"]]
    problems = still_to_do(storage_client(finding), setting, finding)
    verdict(problems, f"{finding.object_id} has {setting.what}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
