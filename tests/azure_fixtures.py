"""The Azure sandbox for the tests: the emulator on loopback HTTPS, RBAC from the jobs' policies.

The worker's app may do exactly what the Azure jobs' minimum_policy.json role definitions allow,
plus what the tag step needs; the sandbox administrator may do everything (setup, inspection).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.azure import TAGGING_ACTIONS, AzureSandbox, start_azure_sandbox

JOBS_DIR = Path(__file__).resolve().parent.parent / "jobs"


def azure_job_actions() -> list[str]:
    """Every Azure job's role-definition Actions and DataActions, read straight from the catalogue."""
    actions: set[str] = set()
    for path in sorted(JOBS_DIR.glob("*/minimum_policy.json")):
        document = json.loads(path.read_text())
        actions.update(document.get("Actions", []))
        actions.update(document.get("DataActions", []))  # Key Vault's data plane (keyvault_data)
    return sorted(actions)


@pytest.fixture(scope="session")
def azure_sandbox() -> Iterator[AzureSandbox]:
    sandbox = start_azure_sandbox([*azure_job_actions(), *TAGGING_ACTIONS])
    try:
        yield sandbox
    finally:
        sandbox.stop()
