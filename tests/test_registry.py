"""Job discovery: the VSS folder convention, checksums, aliases, clear errors."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from remedy.job_registry import ParameterError, UnknownJobError, discover

JOBCODE = Path(__file__).parent / "jobcode"


def test_misnamed_folders_are_not_registered_and_the_log_names_folder_and_file(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="remedy.registry"):
        registry = discover(JOBCODE)
    assert "bad_entry" not in registry.jobs and "has space" not in registry.jobs
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        "'bad_entry' is not registered: expected the entry point bad_entry/bad_entry.py "
        "(found: main.py)" in m
        for m in messages
    )
    assert any(
        "'has space' is not registered: a job name cannot contain spaces" in m for m in messages
    )
    assert {"probe_env", "probe_env_22", "fail_job", "hang_job"} <= set(registry.jobs)


def test_missing_policy_or_readme_is_a_warning_and_the_job_still_registers(tmp_path: Path) -> None:
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "bare.py").write_text("print('hi')\n")
    registry = discover(tmp_path)
    assert "bare" in registry.jobs
    assert any("no minimum_policy.json" in w for w in registry.warnings)
    assert any("no README.md" in w for w in registry.warnings)


def test_checksum_covers_every_file_of_the_job(tmp_path: Path) -> None:
    shutil.copytree(JOBCODE / "probe_env", tmp_path / "probe_env")
    before = discover(tmp_path).jobs["probe_env"].checksum
    (tmp_path / "probe_env" / "README.md").write_text("changed\n")
    assert discover(tmp_path).jobs["probe_env"].checksum != before


def test_azure_provider_is_inferred_from_an_older_minimum_permissions_file(tmp_path: Path) -> None:
    job = tmp_path / "old_azure_job"
    job.mkdir()
    (job / "old_azure_job.py").write_text("")
    (job / "minimum_permissions.json").write_text(json.dumps({"permissions": [{"actions": []}]}))
    assert discover(tmp_path).jobs["old_azure_job"].provider == "azure"


def test_unknown_job_names_the_jobs_there_are() -> None:
    with pytest.raises(UnknownJobError, match=r"unknown job 'nope'.*probe_env"):
        discover(JOBCODE).get("nope")


def test_alias_parameters_and_schema_checks() -> None:
    registry = discover(JOBCODE)
    assert registry.get("probe_env_22").resolve_parameters({}) == {"port": 22}
    assert registry.get("probe_env_22").rules == ("rule-22",)
    with pytest.raises(ParameterError, match="must be an integer from 1 to 65535, not 70000"):
        registry.get("probe_env").resolve_parameters({"port": 70000})
    with pytest.raises(ParameterError, match="takes no parameter 'colour'"):
        registry.get("probe_env").resolve_parameters({"colour": "red"})


def test_builtin_catalogue_registers_without_errors() -> None:
    from remedy.config import BUILTIN_JOBS

    registry = discover(BUILTIN_JOBS)
    assert registry.errors == []
    assert registry.get("ec2_close_port_22").alias_of == "ec2_close_port"
    assert "5c8c26417a550e1fb6560c3f" in registry.get("ec2_close_port_22").rules


def test_missing_job_code_directory_is_an_error_not_a_crash(tmp_path: Path) -> None:
    registry = discover(tmp_path / "nowhere")
    assert registry.jobs == {} and "does not exist" in registry.errors[0]
