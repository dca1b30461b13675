"""The Jira emulator as a pytest fixture (imported by conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.jira import JiraSandbox, start_jira_sandbox


@pytest.fixture
def jira_sandbox() -> Iterator[JiraSandbox]:
    """A fresh Jira (Server flavour, project SEC) on a free loopback port, for one test."""
    sandbox = start_jira_sandbox()
    try:
        yield sandbox
    finally:
        sandbox.stop()
