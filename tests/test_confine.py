"""Jobs may write only under their working directory (Landlock), on both launchers.

A job that writes outside is refused, its log says so, the outside stays untouched, and the worker
and its fork server go on running jobs. `confine_writes=False` lets the write through. The log
reader (`denied_writes`, `describe_denied`) is tested on the shapes Python and shells print.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import confine
from activities.confine import denied_writes, describe_denied, landlock_abi
from activities.credentials import CredentialStore
from activities.job_runner import JobRunner
from activities.launchers import ForkServerLauncher, Launcher, confined_argv, make_launcher
from remedy.config import BUILTIN_JOBS, WorkerSettings
from remedy.job_registry import discover
from remedy.types import AccountRef, JobFailure, JobResult, RunJobInput
from sandbox.aws import AwsSandbox

JOBCODE = Path(__file__).parent / "jobcode"
SSH_GROUP_RULE = "5c8c25ec7a550e1fb6560bbe"  # security_group_close_port_22

landlock = pytest.mark.skipif(
    landlock_abi() == 0,
    reason="this kernel has no Landlock (needs Linux >= 5.13 with landlock in lsm=): "
    "jobs cannot be confined here",
)


@pytest_asyncio.fixture(scope="module", params=["subprocess", "forkserver"])
async def launcher(request: pytest.FixtureRequest) -> AsyncIterator[Launcher]:
    made = make_launcher(request.param)
    yield made
    await made.close()


@pytest_asyncio.fixture(scope="module", params=["subprocess", "forkserver"])
async def unconfined(request: pytest.FixtureRequest) -> AsyncIterator[Launcher]:
    made = make_launcher(request.param, confine_writes=False)
    yield made
    await made.close()


def runner_on(sandbox: AwsSandbox, launcher: Launcher, jobs: Path = JOBCODE) -> JobRunner:
    store = CredentialStore(endpoint_url=sandbox.endpoint)
    return JobRunner(discover(jobs), store, output_cap=100_000, tail_bytes=8_000, launcher=launcher)


def account(sandbox: AwsSandbox) -> AccountRef:
    return AccountRef(
        provider="aws",
        account_id=sandbox.account_id,
        role_arn=sandbox.role_arn,
        external_id=sandbox.external_id,
    )


def write_outside(sandbox: AwsSandbox, outside: Path) -> RunJobInput:
    return RunJobInput(
        job="write_outside",
        parameters={"outside": str(outside)},
        timeout_s=30,
        run_id="confine-write-outside",
        payload={"notificationInfo": {"FindingInfo": {"ObjectId": "x"}}},
        account=account(sandbox),
    )


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside every working copy, with a file the job will try to destroy."""
    (tmp_path / "victim.txt").write_text("precious")
    return tmp_path


async def run(runner: JobRunner, req: RunJobInput) -> JobResult:
    result: JobResult = await ActivityEnvironment().run(runner.run_job, req)
    return result


@landlock
async def test_a_job_writing_outside_its_working_copy_is_refused_and_the_worker_stays_healthy(
    worker_env: AwsSandbox, launcher: Launcher, outside: Path
) -> None:
    runner = runner_on(worker_env, launcher)
    with pytest.raises(ApplicationError) as raised:
        await run(runner, write_outside(worker_env, outside))
    server = launcher.server_pid if isinstance(launcher, ForkServerLauncher) else None
    failed = JobFailure.model_validate(raised.value.details[0])
    log = failed.log_tail

    # inside: its copy and $TMPDIR (its working directory) took the writes
    cwd = Path(re.search(r"cwd: (\S+)", log).group(1))  # type: ignore[union-attr]
    assert f"wrote {cwd}/in_cwd.txt: mine" in log
    assert f"wrote {cwd.parent}/in_tmpdir.txt: mine too" in log
    assert f"read {outside}/victim.txt: precious" in log  # reading stays allowed
    # outside: every kind of write was refused, a shell's too, and the last one failed the job
    for what in ("mkdir", "symlink", "truncate", "remove"):
        assert f"{what}: refused: [Errno 13] Permission denied" in log, what
    assert re.search(r"shell: exit [1-9].*Permission denied", log)
    assert f"PermissionError: [Errno 13] Permission denied: '{outside}/written.txt'" in log
    # nor can it ask the fork server for an unconfined process: only the worker may
    asked = next(line for line in log.splitlines() if line.startswith("fork server:"))
    assert '"pid"' not in asked
    if isinstance(launcher, ForkServerLauncher):
        assert "only the worker that started it may use it" in asked
    assert failed.exit_code == 1 and "PermissionError" in failed.reason
    # the step's reason says what happened and what to do
    assert "the job tried to write outside its working copy and was refused: " in failed.reason
    assert f"{outside}/" in failed.reason and "write temporary files to $TMPDIR" in failed.reason
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    assert (outside / "victim.txt").read_text() == "precious"
    # the report the runner can make of it
    refused = denied_writes(log, str(cwd.parent))
    assert f"{outside}/written.txt" in refused and f"{outside}/made_dir" in refused
    assert all(not p.startswith(str(cwd.parent)) for p in refused)

    # and the worker goes on: the next job runs, on the same fork server
    after = await run(
        runner,
        RunJobInput(
            job="misbehave",
            parameters={"mode": "cwd"},
            run_id="confine-after",
            payload={"notificationInfo": {"FindingInfo": {"ObjectId": "x"}}},
            account=account(worker_env),
        ),
    )
    assert "misbehave.py" in after.log_tail
    if isinstance(launcher, ForkServerLauncher):
        assert server is not None and launcher.server_pid == server


@landlock
async def test_a_job_that_swallows_a_refused_write_and_exits_0_is_not_plain_success(
    worker_env: AwsSandbox, launcher: Launcher, outside: Path
) -> None:
    request = write_outside(worker_env, outside)
    request.parameters["swallow"] = True
    result = await run(runner_on(worker_env, launcher), request)
    assert result.exit_code == 0
    assert result.errors_logged >= 1  # so the run is succeeded_with_errors
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("the job tried to write outside its working copy")
    assert f"{outside}/" in result.warnings[0]
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]


async def test_confine_writes_false_lets_the_write_through(
    worker_env: AwsSandbox, unconfined: Launcher, outside: Path
) -> None:
    assert not unconfined.confine_writes
    result = await run(runner_on(worker_env, unconfined), write_outside(worker_env, outside))
    assert (outside / "written.txt").read_text() == "escaped"
    assert (outside / "made_dir").is_dir() and not (outside / "victim.txt").exists()
    assert ": refused:" not in result.log_tail


@landlock
async def test_a_builtin_job_runs_confined_and_fixes_its_group(
    worker_env: AwsSandbox, launcher: Launcher
) -> None:
    assert launcher.confine_writes
    group = worker_env.open_security_group(22, prefix="confined")
    finding = {
        "FindingId": "f-confined",
        "ObjectId": group,
        "ObjectChain": json.dumps({"cloudAccountId": worker_env.account_id, "properties": []}),
        "Region": worker_env.region,
    }
    result = await run(
        runner_on(worker_env, launcher, BUILTIN_JOBS),
        RunJobInput(
            job="security_group_close_port_22",
            run_id="confine-builtin",
            payload={
                "notificationInfo": {
                    "CloudAccountID": worker_env.account_id,
                    "CloudAccountId": worker_env.account_id,
                    "RuleID": SSH_GROUP_RULE,
                    "FindingInfo": finding,
                }
            },
            account=account(worker_env),
        ),
    )
    assert result.changes and result.errors_logged == 0, result.log_tail


@landlock
def test_the_wrapper_confines_then_becomes_the_job(tmp_path: Path) -> None:
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    (work / "job").mkdir(parents=True)
    elsewhere.mkdir()
    script = (
        "import os, sys; print(os.getpid()); open('mine.txt', 'w').write('x');"
        "open('/dev/null', 'w').write('x'); open(sys.argv[1], 'w')"
    )
    argv = [sys.executable, "-c", script, str(elsewhere / "escaped.txt")]
    done = subprocess.Popen(
        confined_argv(argv, work),
        cwd=work / "job",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = done.communicate(timeout=30)
    assert done.returncode == 1 and "PermissionError: [Errno 13]" in stderr
    assert int(stdout.split()[0]) == done.pid  # exec'd in place: the same process, the same pid
    assert (work / "job" / "mine.txt").exists() and not (elsewhere / "escaped.txt").exists()


@landlock
def test_a_ruleset_that_cannot_be_made_stops_the_job_from_running(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "print('ran')"]
    done = subprocess.run(
        confined_argv(argv, tmp_path / "missing"), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 71 and "ran" not in done.stdout
    assert "could not confine the job's writes" in done.stderr


def test_the_worker_warns_once_when_the_kernel_cannot_confine(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from worker.main import build_parts

    monkeypatch.setattr(confine, "_abi", 0)
    with caplog.at_level(logging.WARNING, logger="remedy.worker"):
        parts = build_parts(WorkerSettings(launcher="subprocess"), JOBCODE)
        quiet = build_parts(WorkerSettings(launcher="subprocess", confine_writes=False), JOBCODE)
    warnings = [r.getMessage() for r in caplog.records if "not confined" in r.getMessage()]
    assert warnings == [
        "job writes are not confined: this kernel has no Landlock (needs Linux ≥ 5.13 with "
        "landlock in lsm=), or a seccomp profile refuses it; set REMEDY_CONFINE_WRITES=false to "
        "silence"
    ]
    assert not parts.runner.launcher.confine_writes and not quiet.runner.launcher.confine_writes


def test_the_setting_comes_from_remedy_confine_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert WorkerSettings().confine_writes is True
    monkeypatch.setenv("REMEDY_CONFINE_WRITES", "false")
    assert WorkerSettings().confine_writes is False


# ------------------------------------------------------------------------------------------------
# Reading what was refused from a job's log
# ------------------------------------------------------------------------------------------------

WORKDIR = "/tmp/remedy-job-abc123"


def test_python_errors_name_the_refused_paths_once_each() -> None:
    log = """cwd: /tmp/remedy-job-abc123/job
Traceback (most recent call last):
  File "/tmp/remedy-job-abc123/job/job.py", line 3, in <module>
    open("/etc/cron.d/evil", "w")
PermissionError: [Errno 13] Permission denied: '/etc/cron.d/evil'
mkdir: refused: [Errno 13] Permission denied: '/srv/out/made'
OSError: [Errno 30] Read-only file system: '/usr/lib/x.so'
PermissionError: [Errno 13] Permission denied: '/tmp/remedy-job-abc123/a' -> '/var/b'
PermissionError: [Errno 13] Permission denied: "/srv/it's"
PermissionError: [Errno 13] Permission denied: '/etc/cron.d/evil'
"""
    assert denied_writes(log, WORKDIR) == [
        "/etc/cron.d/evil",
        "/srv/out/made",
        "/usr/lib/x.so",
        "/var/b",
        "/srv/it's",
    ]


def test_shell_and_coreutils_messages_name_the_refused_paths() -> None:
    log = """touch: cannot touch '/srv/a': Permission denied
/bin/sh: 1: cannot create /srv/b: Permission denied
mkdir: cannot create directory \u2018/srv/c\u2019: Permission denied
bash: /srv/d: Permission denied
tee: /srv/e: Read-only file system
cp: cannot create regular file '/srv/f/../g': Permission denied
"""
    assert denied_writes(log, WORKDIR) == [
        "/srv/a",
        "/srv/b",
        "/srv/c",
        "/srv/d",
        "/srv/e",
        "/srv/g",
    ]


def test_paths_inside_the_working_directory_relative_paths_and_other_lines_are_left_out() -> None:
    log = """PermissionError: [Errno 13] Permission denied: '/tmp/remedy-job-abc123/job/ro.txt'
PermissionError: [Errno 13] Permission denied: 'relative.txt'
touch: cannot touch '/tmp/remedy-job-abc123': Permission denied
ERROR: could not write '/srv/x': the disk is full
botocore.exceptions.ClientError: An error occurred (AccessDenied): Permission denied
"""
    assert denied_writes(log, WORKDIR + "/") == []
    assert denied_writes(log, "/tmp/remedy-job-abc") == [
        "/tmp/remedy-job-abc123/job/ro.txt",
        "/tmp/remedy-job-abc123",
    ]


def test_describe_denied_is_one_line_and_says_what_to_do() -> None:
    assert describe_denied([]) == ""
    one = describe_denied(["/etc/x"])
    assert one == (
        "the job tried to write outside its working copy and was refused: /etc/x (Remedy lets a "
        "job write only under its working copy; write temporary files to $TMPDIR)"
    )
    many = describe_denied([f"/srv/{n}" for n in range(5)])
    assert "/srv/0, /srv/1, /srv/2 and 2 more (" in many and "\n" not in many


@landlock
def test_reading_stays_allowed_and_dev_null_stays_writable(tmp_path: Path) -> None:
    script = (
        "import sys; from activities.confine import confine_writes;"
        "assert confine_writes([sys.argv[1]]);"
        "print(open('/etc/hostname').read() != '', open('/dev/null', 'w').write('x'));"
        "import subprocess; print(subprocess.run(['true'], stdin=subprocess.DEVNULL).returncode)"
    )
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": root},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "1", "0"]


@landlock
async def test_a_run_whose_job_writes_outside_fails_and_says_so(
    client, start_worker, aws_sandbox: AwsSandbox, outside: Path
) -> None:
    from remedy.starter import start_remediation, wait_for_result
    from remedy.types import AccountAccess, JobStep, RemediationSpec, RetrySettings, RunState
    from tests.findings import aws_finding

    worker = await start_worker(JOBCODE)
    run_id = await start_remediation(
        client,
        aws_finding(aws_sandbox.open_security_group(22, "confined")),
        RemediationSpec(
            steps=[
                JobStep(
                    job="write_outside",
                    parameters={"outside": str(outside)},
                    retry=RetrySettings(max_attempts=1),
                )
            ],
            access=AccountAccess(
                role_arn=aws_sandbox.role_arn, external_id=aws_sandbox.external_id
            ),
        ),
        worker.group_id,
    )
    status = await wait_for_result(client, run_id)
    assert status.state == RunState.FAILED
    assert "the job tried to write outside its working copy and was refused: " in status.message
    assert f"{outside}/written.txt" in status.message
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
