"""`remedy jobs new` makes a job that passes the catalogue meta-test as generated, and
`remedy jobs readme` keeps the generated README tables in step with remedy.json."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from console.job_docs import stale_readmes

ROOT = Path(__file__).resolve().parent.parent
REMEDY = [sys.executable, "-m", "console"]


def run_meta_test(jobs: Path, tests: Path) -> subprocess.CompletedProcess[str]:
    """The catalogue meta-test (tests/test_catalogue.py) over another catalogue."""
    env = {**os.environ, "REMEDY_CATALOGUE_JOBS": str(jobs), "REMEDY_CATALOGUE_TESTS": str(tests)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_catalogue.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("name", "provider", "service", "rule"),
    [
        ("s3_enable_default_encryption", "aws", "s3", "1d187035-9fff-48b2-a7c3-ffc56a4da5e6"),
        (
            "azure_network_security_group_close_port_22",
            "azure",
            "network",
            "5c8c26847a550e1fb6560cab",
        ),
    ],
)
def test_a_scaffolded_job_passes_the_meta_test_and_its_own_test(
    tmp_path: Path, name: str, provider: str, service: str, rule: str
) -> None:
    jobs, tests = tmp_path / "jobs", tmp_path / "tests"
    made = subprocess.run(
        [*REMEDY, "jobs", "new", name, "--provider", provider, "--service", service,
         "--rule", rule, "--jobs-dir", str(jobs), "--tests-dir", str(tests)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    folder = jobs / name
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{name}.py", "verify.py", "remedy.json", "minimum_policy.json", "README.md"]
    )
    assert json.loads((folder / "remedy.json").read_text())["rules"] == [rule]

    meta = run_meta_test(jobs, tests)
    assert meta.returncode == 0, meta.stdout[-3000:]
    passed = int(re.search(r"(\d+) passed", meta.stdout).group(1))  # type: ignore[union-attr]
    assert passed >= 12 and "failed" not in meta.stdout and "skipped" not in meta.stdout

    own = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(tests / f"test_job_{name}.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert own.returncode == 0, own.stdout[-2000:]
    assert "1 passed" in own.stdout


def test_the_meta_test_fails_a_scaffolded_job_whose_policy_lost_its_action(tmp_path: Path) -> None:
    jobs, tests = tmp_path / "jobs", tmp_path / "tests"
    result = CliRunner().invoke(
        app,
        ["jobs", "new", "s3_enable_default_encryption", "--provider", "aws", "--service", "s3",
         "--rule", "1d187035-9fff-48b2-a7c3-ffc56a4da5e6", "--jobs-dir", str(jobs),
         "--tests-dir", str(tests)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    policy_file = jobs / "s3_enable_default_encryption" / "minimum_policy.json"
    policy = json.loads(policy_file.read_text())
    policy["Statement"][0]["Action"] = ["s3:GetBucketEncryption"]
    policy_file.write_text(json.dumps(policy))

    meta = run_meta_test(jobs, tests)

    assert meta.returncode == 1
    assert "test_policy_lists_exactly_the_calls" in meta.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad Name", "--provider", "aws", "--service", "s3"], "is not a job name"),
        (
            ["x_job", "--provider", "aws", "--service", "glacier"],
            "service 'glacier' is not registered",
        ),
        (["x_job", "--provider", "azure", "--service", "s3"], "is an aws service, not azure"),
        (["x_job", "--provider", "gcp", "--service", "s3"], "unknown provider 'gcp'"),
    ],
)
def test_what_cannot_be_scaffolded_is_refused_with_what_to_change(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(
        app,
        ["jobs", "new", *args, "--rule", "r1", "--jobs-dir", str(tmp_path / "jobs"),
         "--tests-dir", str(tmp_path / "tests")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "jobs").exists()


def test_an_existing_job_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "jobs" / "s3_enable_default_encryption").mkdir(parents=True)
    result = CliRunner().invoke(
        app,
        ["jobs", "new", "s3_enable_default_encryption", "--provider", "aws", "--service", "s3",
         "--rule", "r1", "--jobs-dir", str(tmp_path / "jobs"), "--tests-dir", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "exists already" in result.output
    assert list((tmp_path / "jobs" / "s3_enable_default_encryption").iterdir()) == []


def test_readme_tables_follow_the_metadata(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    shutil.copytree(ROOT / "jobs" / "ec2_close_port", jobs / "ec2_close_port")
    assert stale_readmes(jobs) == []
    meta_file = jobs / "ec2_close_port" / "remedy.json"
    meta = json.loads(meta_file.read_text())
    meta["aliases"]["ec2_close_port_22"]["parameters"]["port"] = 2222
    meta_file.write_text(json.dumps(meta))

    check = CliRunner().invoke(app, ["jobs", "readme", "--check", "--jobs-dir", str(jobs)])
    assert check.exit_code == 1
    assert "stale" in check.output

    fixed = CliRunner().invoke(app, ["jobs", "readme", "--jobs-dir", str(jobs)])
    assert fixed.exit_code == 0
    readme = (jobs / "ec2_close_port" / "README.md").read_text()
    assert "| `ec2_close_port_22` | `port=2222` |" in readme
    assert "## What it changes" in readme  # the author's text is kept
    assert stale_readmes(jobs) == []
