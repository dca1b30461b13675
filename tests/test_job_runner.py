"""The job runner on its own (ActivityEnvironment), against the sandbox's real STS."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.credentials import CredentialStore
from activities.job_results import reports_changes
from activities.job_runner import JobRunner
from activities.launchers import ForkServerLauncher, Launcher, make_launcher
from remedy.job_registry import discover
from remedy.types import AccountRef, JobFailure, JobResult, RunJobInput
from sandbox.aws import AwsSandbox

JOBCODE = Path(__file__).parent / "jobcode"


@pytest_asyncio.fixture(scope="module", params=["subprocess", "forkserver"])
async def launcher(request: pytest.FixtureRequest) -> AsyncIterator[Launcher]:
    """Every runner test runs against both launchers: their behaviour must be identical."""
    made = make_launcher(request.param)
    yield made
    await made.close()


@pytest.fixture
def runner(worker_env: AwsSandbox, launcher: Launcher) -> JobRunner:
    store = CredentialStore(endpoint_url=worker_env.endpoint)
    return JobRunner(
        discover(JOBCODE), store, output_cap=100_000, tail_bytes=2_000, launcher=launcher
    )


def request(mode: str, sandbox: AwsSandbox, timeout_s: float = 30) -> RunJobInput:
    return RunJobInput(
        job="misbehave",
        parameters={"mode": mode},
        timeout_s=timeout_s,
        run_id=f"runner-{mode}",
        payload={"notificationInfo": {"FindingInfo": {"ObjectId": "x"}}},
        account=AccountRef(
            provider="aws",
            account_id=sandbox.account_id,
            role_arn=sandbox.role_arn,
            external_id=sandbox.external_id,
        ),
    )


async def run(runner: JobRunner, req: RunJobInput) -> JobResult:
    result: JobResult = await ActivityEnvironment().run(runner.run_job, req)
    return result


async def failure(runner: JobRunner, req: RunJobInput) -> JobFailure:
    with pytest.raises(ApplicationError) as raised:
        await run(runner, req)
    return JobFailure.model_validate(raised.value.details[0])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(
    ("mode", "code", "words"),
    [
        ("exit3", 3, "exited with code 3"),
        ("os_exit", 7, "exited with code 7"),
        ("segfault", -11, "was killed by signal SIGSEGV"),
    ],
)
async def test_exit_codes_and_signals_are_reported(
    runner: JobRunner, worker_env: AwsSandbox, mode: str, code: int, words: str
) -> None:
    failed = await failure(runner, request(mode, worker_env))
    assert failed.exit_code == code and words in failed.reason
    assert f"mode {mode}" in failed.log_tail


async def test_a_job_reading_stdin_gets_end_of_file_at_once(
    runner: JobRunner, worker_env: AwsSandbox
) -> None:
    result = await run(runner, request("stdin", worker_env, timeout_s=10))
    assert "read: ''" in result.log_tail


async def test_a_daemon_left_behind_by_a_finished_job_is_killed(
    runner: JobRunner, worker_env: AwsSandbox
) -> None:
    result = await run(runner, request("daemon", worker_env))
    pid = int(re.search(r"daemon (\d+)", result.log_tail).group(1))  # type: ignore[union-attr]
    await asyncio.sleep(0.3)
    assert not _alive(pid)


async def test_huge_output_is_capped_and_keeps_its_end(
    runner: JobRunner, worker_env: AwsSandbox
) -> None:
    result = await run(runner, request("flood", worker_env))
    assert result.output_truncated
    assert result.log_tail.rstrip().endswith("the end")
    assert "bytes of output were discarded here" in result.log_tail or len(result.log_tail) <= 2_000


async def test_each_attempt_runs_in_a_private_copy_that_is_removed(
    runner: JobRunner, worker_env: AwsSandbox
) -> None:
    result = await run(runner, request("cwd", worker_env))
    cwd = re.search(r"cwd: (\S+)", result.log_tail).group(1)  # type: ignore[union-attr]
    assert "misbehave.py" in result.log_tail and "remedy-misbehave-" in cwd
    assert not os.path.exists(cwd)  # the working copy is gone, and the job folder is untouched
    assert not (JOBCODE / "misbehave" / "scratch.txt").exists()


def probe_request(sandbox: AwsSandbox, run_id: str) -> RunJobInput:
    return RunJobInput(
        job="probe_env",
        run_id=run_id,
        payload={
            "notificationInfo": {
                "CloudAccountID": sandbox.account_id,
                "CloudAccountId": sandbox.account_id,
                "FindingInfo": {"ObjectId": "sg-x", "ObjectChain": "{}"},
            }
        },
        account=AccountRef(
            provider="aws",
            account_id=sandbox.account_id,
            role_arn=sandbox.role_arn,
            external_id=sandbox.external_id,
        ),
    )


async def test_a_job_sees_only_its_own_run_credentials_when_sessions_are_not_reused(
    worker_env: AwsSandbox, launcher: Launcher
) -> None:
    store = CredentialStore(endpoint_url=worker_env.endpoint, reuse_sessions=False)
    runner = JobRunner(discover(JOBCODE), store, launcher=launcher)
    first = await run(runner, probe_request(worker_env, "run-one"))
    second = await run(runner, probe_request(worker_env, "run-two"))
    assert "assumed-role/remedy-remediation/remedy-run-one" in first.log_tail
    assert "assumed-role/remedy-remediation/remedy-run-two" in second.log_tail
    for result in (first, second):
        names = next(ln for ln in result.log_tail.splitlines() if ln.startswith("env:"))
        assert "VSS_" not in names and "REMEDY_TEST" not in names


async def test_runs_of_one_account_share_the_session_of_the_first_and_are_told_so(
    runner: JobRunner, worker_env: AwsSandbox
) -> None:
    """REMEDY_STS_REUSE (default): one AssumeRole, its session named for the run that made it."""
    first = await run(runner, probe_request(worker_env, "run-first"))
    second = await run(runner, probe_request(worker_env, "run-second"))
    for result in (first, second):
        assert "assumed-role/remedy-remediation/remedy-run-first" in result.log_tail
        names = next(ln for ln in result.log_tail.splitlines() if ln.startswith("env:"))
        assert "REMEDY_CLOUD_IDENTITY" in names.split(",")


async def test_the_fork_server_holds_no_secret_and_comes_back_when_killed(
    worker_env: AwsSandbox,
) -> None:
    launcher = ForkServerLauncher()
    store = CredentialStore(endpoint_url=worker_env.endpoint)
    runner = JobRunner(discover(JOBCODE), store, launcher=launcher)
    try:
        await run(runner, probe_request(worker_env, "warm"))
        pid = launcher.server_pid
        assert pid is not None
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"AWS_SECRET_ACCESS_KEY" not in environ and b"AWS_ACCESS_KEY_ID" not in environ
        os.kill(pid, 9)
        result = await run(runner, probe_request(worker_env, "after-kill"))
        assert "CHANGE: probed sg-x" in result.log_tail
        assert launcher.server_pid not in (None, pid)
    finally:
        await launcher.close()


async def test_the_first_job_of_a_fresh_fork_server_runs_exactly_once(
    worker_env: AwsSandbox,
) -> None:
    """A job handed to a spare child is never handed to a second one (a job must not run twice)."""
    for _ in range(3):
        launcher = ForkServerLauncher()
        runner = JobRunner(
            discover(JOBCODE), CredentialStore(endpoint_url=worker_env.endpoint), launcher=launcher
        )
        try:
            result = await run(runner, probe_request(worker_env, "once"))
        finally:
            await launcher.close()
        assert result.changes == ["probed sg-x"]


def test_shared_clients_sign_each_call_with_the_calling_runs_credentials(
    worker_env: AwsSandbox,
) -> None:
    """One client serves every run; each request carries its own run's identity, never another's."""
    import threading
    from types import SimpleNamespace

    from activities.aws_clients import NoActiveRunError, SharedClients, using

    shared = SharedClients(worker_env.endpoint)
    keys = {}
    for name in ("run-a", "run-b"):
        env = worker_env.assume_role_env(f"remedy-{name}")
        keys[name] = SimpleNamespace(
            access_key_id=env["AWS_ACCESS_KEY_ID"],
            secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            session_token=env["AWS_SESSION_TOKEN"],
        )
    sts = shared.get("sts", worker_env.region)
    seen: dict[str, set[str]] = {}

    def call(name: str) -> None:
        with using(keys[name]):
            for _ in range(5):
                seen.setdefault(name, set()).add(sts.get_caller_identity()["Arn"])

    threads = [threading.Thread(target=call, args=(name,)) for name in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {
        name: {f"arn:aws:sts::123456789012:assumed-role/remedy-remediation/remedy-{name}"}
        for name in keys
    }
    with pytest.raises(NoActiveRunError):
        sts.get_caller_identity()


async def test_a_job_printing_100_mb_is_capped_and_the_worker_stays_small(
    runner: JobRunner, worker_env: AwsSandbox
) -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = await run(runner, request("flood_100mb", worker_env, timeout_s=120))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result.output_truncated and result.log_tail.rstrip().endswith("the very end")
    assert "bytes of output were discarded here" in result.log_tail or len(result.log_tail) <= 2_000
    assert grown_mb < 50, f"the worker grew by {grown_mb:.0f} MB reading 100 MB of output"


@pytest.mark.parametrize(
    ("job", "reports"),
    [
        ("claims_closed_22", True),  # written on the kit, with remedy.json
        ("slow_close_22", True),
        ("vss_silent_close_22", False),  # a drop-in VSS job: plain boto3, no remedy.json
        ("fail_job", False),
    ],
)
def test_only_jobs_that_print_their_changes_are_taken_at_their_silence(
    job: str, reports: bool
) -> None:
    found = discover(JOBCODE).get(job)
    assert reports_changes(found.folder, found.entry) is reports
