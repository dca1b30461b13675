"""`remedy jobs test NAME` as people run it (real processes): a built-in job's own test on a
sandbox the command starts, and a job-code directory's passing and failing tests on the sandbox
the environment names; pytest's exit code is the command's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from remedy.job_registry import discover
from sandbox.aws import AwsSandbox

JOBCODE = Path(__file__).parent / "jobcode"
REMEDY = [sys.executable, "-m", "console", "jobs", "test"]

#: a job's own test: it reaches the sandbox the command gives it, as the administrator
REACHES_THE_SANDBOX = """
import os

import boto3


def test_the_sandbox_answers_for_this_job() -> None:
    assert os.environ["REMEDY_JOB"] == "probe_env"
    assert os.environ["REMEDY_JOB_FOLDER"].endswith("probe_env")
    assert "REMEDY_HUB_TOKEN" not in os.environ and "VSS_CLIENT_SECRET" not in os.environ
    sts = boto3.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    assert sts.get_caller_identity()["Account"] == "123456789012"
"""

FAILS = """
def test_a_job_test_that_fails() -> None:
    assert 1 + 1 == 3, "the job's own test failed"
"""


def remedy(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REMEDY, *args], env={**env, "COLUMNS": "300"}, capture_output=True, text=True, timeout=300
    )


def said(done: subprocess.CompletedProcess[str]) -> str:
    """What the command said on stderr, its lines unwrapped."""
    return " ".join(done.stderr.split())


def without_cloud() -> dict[str, str]:
    """This shell's environment without any cloud: the command starts its own sandbox."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AZURE_"))}


def with_sandbox(sandbox: AwsSandbox) -> dict[str, str]:
    """An environment that already names a sandbox (as `source .remedy/sandbox.env` does)."""
    return {
        **without_cloud(),
        "AWS_ENDPOINT_URL": sandbox.endpoint,
        "AWS_ACCESS_KEY_ID": sandbox.admin.access_key_id,
        "AWS_SECRET_ACCESS_KEY": sandbox.admin.secret_access_key,
        "AWS_DEFAULT_REGION": sandbox.region,
    }


def job_code(root: Path) -> Path:
    """A job-code directory `root/jobs` holding a copy of the probe_env job."""
    shutil.copytree(JOBCODE / "probe_env", root / "jobs" / "probe_env")
    return root / "jobs"


def test_a_built_in_jobs_test_runs_on_a_sandbox_the_command_starts() -> None:
    done = remedy("security_group_close_port", "--", "-q", env=without_cloud())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tests/test_job_security_group_close_port.py" in done.stderr
    assert "starting the sandbox cloud" in said(done) and "sandbox: AWS at http" in said(done)
    assert "1 passed" in done.stdout


def test_a_job_codes_passing_and_failing_tests_set_the_exit_code(
    aws_sandbox: AwsSandbox, tmp_path: Path
) -> None:
    # Remedy's own secrets in the shell never reach the job's tests
    env = {**with_sandbox(aws_sandbox), "REMEDY_HUB_TOKEN": "rmt_x", "VSS_CLIENT_SECRET": "rms_x"}

    passing = job_code(tmp_path / "passing")
    (passing / "probe_env" / "test_probe_env.py").write_text(REACHES_THE_SANDBOX)
    (passing / "probe_env" / "tests").mkdir()
    (passing / "probe_env" / "tests" / "test_more.py").write_text(REACHES_THE_SANDBOX)
    checksum = discover(passing).get("probe_env").checksum
    done = remedy("probe_env", "--job-code", str(passing), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"the environment names: AWS at {aws_sandbox.endpoint}" in said(done)
    assert "2 passed" in done.stdout and "starting the sandbox" not in done.stderr
    # no pytest cache or bytecode left in the job folder: its checksum (its version) is unchanged
    assert discover(passing).get("probe_env").checksum == checksum

    failing = job_code(tmp_path / "failing")
    none = remedy("probe_env", "--job-code", str(failing), env=env)
    assert none.returncode == 5, none.stderr
    assert "job probe_env has no tests" in said(none)
    assert str(tmp_path / "failing" / "tests" / "test_job_probe_env.py") in said(none)
    assert "`remedy jobs new` writes a first test" in said(none)

    (tmp_path / "failing" / "tests").mkdir()
    (tmp_path / "failing" / "tests" / "test_job_probe_env.py").write_text(FAILS)
    failed = remedy("probe_env", "--job-code", str(failing), "--", "-q", env=env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "the job's own test failed" in failed.stdout and "1 failed" in failed.stdout


def test_an_unknown_job_names_the_nearest_ones() -> None:
    done = remedy("security_group_close_prot", env=without_cloud())
    assert done.returncode == 2
    assert "unknown job 'security_group_close_prot'" in said(done)
    assert "did you mean security_group_close_port" in said(done)
    assert "`remedy jobs list` lists every job" in said(done)
