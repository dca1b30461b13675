"""The life of one fix in every mode, shared by tests/test_job_modes*.py (one file per batch of
catalogue jobs).

`exercise(run, Case(...))` proves on the emulator: verify says 3 before the fix and 0 after; plan
prints the CHANGE lines remediate then prints and sends no mutating request (a recording proxy in
front of moto sees every request: sandbox/request_log.py); remediate fixes and records; a second
remediate changes nothing; rollback with the records restores the before state; rollback refuses
(exit 1, one ERROR line, nothing changed) once someone changed the resource after the job.

Its fixtures `proxy`, `env` and `run` reach every test module through tests/conftest.py (the proxy
is module scoped: one recording proxy per module, in front of the session's moto).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from remedy.jobkit.modes import RECORDS_VARIABLE, parse_records
from sandbox.aws import AwsSandbox
from sandbox.request_log import RecordingProxy, RequestLog
from tests.job_process import run_forked

JOBS_DIR = Path(__file__).resolve().parent.parent / "jobs"


@dataclass
class ModeRun:
    returncode: int
    stdout: str
    stderr: str
    requests: list[str] = field(default_factory=list)
    mutating: list[str] = field(default_factory=list)

    @property
    def changes(self) -> list[str]:
        return [ln for ln in self.stdout.splitlines() if ln.startswith("CHANGE: ")]

    @property
    def records(self) -> list[dict[str, Any]]:
        return parse_records(self.stdout)

    @property
    def errors(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.startswith("ERROR: ")]

    def __str__(self) -> str:
        return (
            f"exit {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
            f"--- mutating requests\n{self.mutating}"
        )


@pytest.fixture(scope="module")
def proxy(aws_sandbox: AwsSandbox) -> Iterator[RecordingProxy]:
    recording = RecordingProxy(aws_sandbox.endpoint)
    yield recording
    recording.stop()


@pytest.fixture(scope="module")
def env(aws_sandbox: AwsSandbox, proxy: RecordingProxy) -> dict[str, str]:
    """The remediation role's credentials, its requests through the recording proxy."""
    return {**aws_sandbox.assume_role_env("remedy-test-modes"), "AWS_ENDPOINT_URL": proxy.url}


Run = Callable[..., ModeRun]


def runner(tmp_path: Path, env: dict[str, str], log: RequestLog) -> Run:
    """Run a job in a mode as the worker does (forked from the worker's fork server: one warm
    Python per test process, tests/job_process.py), and see which requests it made (`log`)."""
    count = 0

    def run_mode(
        name: str, finding: dict[str, Any], mode: str = "remediate", records: Any = None
    ) -> ModeRun:
        nonlocal count
        count += 1
        job_env = dict(env)
        entry = "verify.py" if mode == "verify" else None
        if mode in ("plan", "rollback"):
            job_env["REMEDY_MODE"] = mode
        if records is not None:
            path = tmp_path / f"records-{count}.json"
            path.write_text(json.dumps(records))
            job_env[RECORDS_VARIABLE] = str(path)
        log.clear()
        done = run_forked(JOBS_DIR / name, tmp_path / f"{name}-{count}", finding, job_env, entry)
        seen = log.entries
        return ModeRun(
            done.returncode,
            done.stdout,
            done.stderr,
            [str(r) for r in seen],
            [str(r) for r in seen if r.mutating],
        )

    return run_mode


@pytest.fixture
def run(tmp_path: Path, env: dict[str, str], proxy: RecordingProxy) -> Run:
    return runner(tmp_path, env, proxy.log)


@dataclass
class Case:
    job: str
    finding: dict[str, Any]
    state: Callable[[], Any]  # the resource as the tests compare it
    tamper: Callable[[], None]  # a person's change after the fix


def exercise(run: Run, case: Case) -> None:
    """The whole life of one fix, in every mode."""
    before = case.state()
    assert run(case.job, case.finding, "verify").returncode == 3

    plan = run(case.job, case.finding, "plan")
    assert plan.returncode == 0, str(plan)
    assert plan.changes, str(plan)
    assert plan.requests, "the proxy saw no request: the job did not go through it"
    assert plan.mutating == [], str(plan)
    assert plan.records == []  # nothing changes, nothing to undo
    assert case.state() == before

    fixed = run(case.job, case.finding)
    assert fixed.returncode == 0, str(fixed)
    assert fixed.changes == plan.changes  # the plan said exactly what the fix did
    assert fixed.records, str(fixed)
    assert fixed.mutating, str(fixed)
    after = case.state()
    assert after != before
    assert run(case.job, case.finding, "verify").returncode == 0

    again = run(case.job, case.finding)
    assert again.returncode == 0, str(again)
    assert again.changes == [] and again.records == [], str(again)
    assert case.state() == after

    undone = run(case.job, case.finding, "rollback", fixed.records)
    assert undone.returncode == 0, str(undone)
    assert undone.changes, str(undone)
    assert case.state() == before
    assert run(case.job, case.finding, "verify").returncode == 3

    refixed = run(case.job, case.finding)
    assert refixed.returncode == 0 and refixed.records, str(refixed)
    case.tamper()
    tampered = case.state()
    refused = run(case.job, case.finding, "rollback", refixed.records)
    assert refused.returncode == 1, str(refused)
    assert len(refused.errors) == 1 and "changed since" in refused.errors[0], str(refused)
    assert "nothing was changed" in refused.errors[0]
    assert refused.mutating == [] and refused.changes == []
    assert case.state() == tampered
