"""Job code from Git (issue #18): a bare repository served over HTTP with Basic authentication on
127.0.0.1 (tests/git_server.py wraps `git http-backend`), cloned and pulled by the real git."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.client import Client

from remedy.config import WorkerSettings
from remedy.job_registry import discover
from remedy.logs import redact
from remedy.starter import start_remediation, wait_for_result
from remedy.types import AccountAccess, JobStep, RemediationSpec, RunState, TagSettings
from sandbox.aws import AwsSandbox
from tests.conftest import LogCapture
from tests.findings import aws_finding
from tests.git_server import GitServer, git, serve_git
from worker import own_secrets
from worker.job_code_git import (
    GitError,
    GitJobCode,
    checkout_dir,
    clone_at_start,
    from_settings,
    pull_forever,
    split_source,
    ssh_command,
)

#: generous: a pull on a loaded 2-core machine; nothing here asserts how long anything took
WAIT_S = 60.0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[GitServer]:
    with serve_git(tmp_path / "served") as server:
        yield server


def checkout(server: GitServer, tmp_path: Path, **kwargs: object) -> GitJobCode:
    options: dict[str, object] = {"token": server.token, **kwargs}
    return GitJobCode(server.url(), "main", tmp_path / "checkout", **options)  # type: ignore[arg-type]


def main_sha(server: GitServer) -> str:
    return git("rev-parse", "main", cwd=server.root / "jobs.git")


def every_file(root: Path) -> Iterator[bytes]:
    for path in root.rglob("*"):
        if path.is_file():
            yield path.read_bytes()


async def eventually(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        assert loop.time() < deadline, f"{what} did not happen"
        await asyncio.sleep(0.1)


def test_a_clone_with_the_token_serves_the_repositorys_jobs(
    served: GitServer, tmp_path: Path
) -> None:
    code = checkout(served, tmp_path)
    commit = code.sync()
    assert commit == main_sha(served)
    registry = discover(code.job_code)
    assert sorted(registry.jobs) == ["first_job"]  # .git is not a job
    assert registry.errors == []
    assert code.commit() == commit


def test_a_push_then_a_sync_brings_the_new_job_and_drops_a_removed_one(
    served: GitServer, tmp_path: Path
) -> None:
    code = checkout(served, tmp_path)
    code.sync()
    (code.job_code / "first_job" / "stray.txt").write_text("not in the repository")
    pushed = served.push_job("second_job")
    assert code.sync() == pushed
    assert sorted(discover(code.job_code).jobs) == ["first_job", "second_job"]
    assert not (code.job_code / "first_job" / "stray.txt").exists()  # the checkout is the commit
    removed = served.remove("first_job")
    assert code.sync() == removed
    assert sorted(discover(code.job_code).jobs) == ["second_job"]


def test_a_sub_path_holds_the_jobs(served: GitServer, tmp_path: Path) -> None:
    served.push_job("nested_job", under="catalogue")
    code = checkout(served, tmp_path, subpath="catalogue/")
    code.sync()
    assert code.job_code == tmp_path / "checkout" / "catalogue"
    assert sorted(discover(code.job_code).jobs) == ["nested_job"]
    missing = checkout(served, tmp_path / "other", subpath="nowhere")
    with pytest.raises(GitError, match="has no folder nowhere: set REMEDY_JOB_CODE_GIT_PATH"):
        missing.sync()
    for bad in ("../up", "/abs", "x/.git"):
        with pytest.raises(GitError, match="REMEDY_JOB_CODE_GIT_PATH"):
            checkout(served, tmp_path, subpath=bad)


def test_a_wrong_token_is_refused_clearly_and_the_token_is_not_in_the_error(
    served: GitServer, tmp_path: Path
) -> None:
    wrong = "wrong-" + uuid.uuid4().hex
    with pytest.raises(GitError) as refused:
        checkout(served, tmp_path, token=wrong).sync()
    message = str(refused.value)
    assert f"{served.url()}#main refused the credentials: set GIT_PERSONAL_TOKEN" in message
    basic = base64.b64encode(f"x-access-token:{wrong}".encode()).decode()
    assert wrong not in message and basic not in message
    assert served.headers[-1] == f"Basic {basic}"  # it was sent, and refused


def test_a_user_in_the_url_is_the_basic_user_and_the_header_is_for_its_host_only(
    served: GitServer, tmp_path: Path
) -> None:
    url = f"http://oauth2@127.0.0.1:{served.port}/jobs.git"
    code = GitJobCode(url, "main", tmp_path / "c", served.token)
    assert code.sync() == main_sha(served)
    basic = base64.b64encode(f"oauth2:{served.token}".encode()).decode()
    assert served.headers[-1] == f"Basic {basic}"
    env = code.environment()
    keys = [env[k] for k in env if k.startswith("GIT_CONFIG_KEY_")]
    assert f"http.http://127.0.0.1:{served.port}/.extraHeader" in keys


def test_no_token_says_to_set_one(served: GitServer, tmp_path: Path) -> None:
    with pytest.raises(GitError, match="asks for credentials and GIT_PERSONAL_TOKEN is not set"):
        checkout(served, tmp_path, token=None).sync()


def test_a_bad_ref_is_named(served: GitServer, tmp_path: Path) -> None:
    code = GitJobCode(served.url(), "no-such-branch", tmp_path / "c", served.token)
    with pytest.raises(GitError) as missing:
        code.sync()
    assert f"the ref 'no-such-branch' is not in {served.url()}: set the branch" in str(
        missing.value
    )


def test_the_default_ref_is_the_remote_head(served: GitServer, tmp_path: Path) -> None:
    code = GitJobCode(served.url(), None, tmp_path / "c", served.token)
    assert code.sync() == main_sha(served)


def test_an_unreachable_host_or_repository_says_so(served: GitServer, tmp_path: Path) -> None:
    closed = GitJobCode("http://127.0.0.1:1/jobs.git", None, tmp_path / "a", served.token)
    with pytest.raises(GitError, match="is unreachable: check the host name and port"):
        closed.sync()
    absent = GitJobCode(served.url("absent.git"), None, tmp_path / "b", served.token)
    with pytest.raises(GitError, match="has no such repository"):
        absent.sync()


def test_a_token_in_the_url_is_refused_without_repeating_it(tmp_path: Path) -> None:
    token = "ghp_" + uuid.uuid4().hex
    with pytest.raises(GitError) as refused:
        GitJobCode(f"https://bot:{token}@git.example/jobs.git", None, tmp_path, None)
    assert "put the token in GIT_PERSONAL_TOKEN" in str(refused.value)
    assert token not in str(refused.value)


def test_the_token_reaches_git_only_through_its_environment(
    served: GitServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not in any command line git or its helpers ran (a wrapper records git's own argv, and
    GIT_TRACE every child it starts), not in .git/config nor any file of the checkout, not in a
    request line; and none of the worker's other variables reach git."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "worker-secret-" + uuid.uuid4().hex)
    wrapper = tmp_path / "git-wrapper"
    argv_log, trace_log = tmp_path / "argv.log", tmp_path / "trace.log"
    wrapper.write_text(
        f'#!/bin/sh\nprintf \'%s\\n\' "$@" >> {argv_log}\nGIT_TRACE={trace_log} exec git "$@"\n'
    )
    wrapper.chmod(0o755)
    code = checkout(served, tmp_path, git=str(wrapper))
    code.sync()
    served.push_job("second_job")
    code.sync()
    token = served.token.encode()
    basic = base64.b64encode(b"x-access-token:" + token)
    trace = trace_log.read_bytes()
    assert b"git-upload-pack" in trace or b"remote-http" in trace  # the children were traced
    for seen in (argv_log.read_bytes(), trace, *every_file(code.dest)):
        assert token not in seen and basic not in seen
    assert b"127.0.0.1" not in (code.dest / ".git" / "config").read_bytes()  # no remote stored
    assert not any(served.token in line for line in served.requests)
    for run in code.runs:
        assert not any(served.token in arg or basic.decode() in arg for arg in run.argv)
        assert "AWS_SECRET_ACCESS_KEY" not in run.env
        assert run.env["GIT_TERMINAL_PROMPT"] == "0"
    header = [v for k, v in code.runs[-1].env.items() if v.startswith("Authorization:")]
    assert header == [f"Authorization: Basic {basic.decode()}"]
    origin = f"http://127.0.0.1:{served.port}/"
    assert f"http.{origin}.extraHeader" in code.runs[-1].env.values()  # this host only


async def test_pulls_offer_each_new_commit_and_survive_a_refusal(
    served: GitServer, tmp_path: Path, captured_logs: LogCapture
) -> None:
    code = checkout(served, tmp_path)
    first = code.sync()
    offered: list[str] = []

    async def on_change(commit: str) -> bool:
        offered.append(commit)
        return True

    stop = asyncio.Event()
    pulls = asyncio.create_task(pull_forever(code, on_change, 0.2, stop, commit=first))
    try:
        token = served.token
        served.token = "rotated-" + uuid.uuid4().hex  # the server now refuses the worker's token
        await eventually(lambda: "the pull failed" in captured_logs.text(), "a refused pull")
        assert sorted(discover(code.job_code).jobs) == ["first_job"]  # the checkout still serves
        served.token = token
        pushed = served.push_job("second_job")
        await eventually(lambda: offered == [pushed], "the new commit offered")
        assert sorted(discover(code.job_code).jobs) == ["first_job", "second_job"]
    finally:
        stop.set()
        await asyncio.wait_for(pulls, WAIT_S)
    logs = captured_logs.text()
    assert "refused the credentials" in logs
    assert token not in logs and base64.b64encode(token.encode()).decode() not in logs


async def test_a_failed_first_clone_falls_back_to_an_earlier_checkout(
    served: GitServer, tmp_path: Path, captured_logs: LogCapture
) -> None:
    code = checkout(served, tmp_path)
    first = code.sync()
    fresh = checkout(served, tmp_path / "fresh")
    served.token = "rotated-" + uuid.uuid4().hex  # the server now refuses the worker's token
    assert await clone_at_start(code) == first
    assert "serving the checkout from an earlier start" in captured_logs.text()
    with pytest.raises(GitError, match="refused the credentials"):
        await clone_at_start(fresh)  # nothing to fall back on: the worker cannot start


def test_ssh_uses_the_key_alone_without_prompts(tmp_path: Path) -> None:
    """No sshd here: the command is checked, and the real ssh runs it against a closed port."""
    key = tmp_path / "deploy key"
    key.write_text("not a real key\n")
    key.chmod(0o600)
    assert ssh_command(key) == (
        f"ssh -i '{key}' -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=30"
    )
    code = GitJobCode("ssh://git@127.0.0.1:1/jobs.git", "main", tmp_path / "c", None, key)
    assert code.environment()["GIT_SSH_COMMAND"] == ssh_command(key)
    with pytest.raises(GitError, match="is unreachable"):
        code.sync()


def test_settings_name_the_repository_ref_path_and_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "pat-" + uuid.uuid4().hex
    monkeypatch.setenv("REMEDY_JOB_CODE_GIT", "https://git.example/org/jobs.git#release")
    monkeypatch.setenv("REMEDY_JOB_CODE_GIT_PATH", "catalogue")
    monkeypatch.setenv("GIT_PERSONAL_TOKEN", token)
    monkeypatch.setenv("REMEDY_STATE_DIR", str(tmp_path))
    settings = WorkerSettings()
    assert token not in repr(settings)
    code = from_settings(settings)
    assert code is not None
    assert (code.url, code.ref) == ("https://git.example/org/jobs.git", "release")
    assert code.dest == checkout_dir(tmp_path, code.url)
    assert code.job_code == code.dest / "catalogue"
    assert split_source("https://h/r.git") == ("https://h/r.git", None)
    assert redact(f"header {base64.b64encode(f'x-access-token:{token}'.encode()).decode()}") == (
        "header ***"
    )
    with pytest.raises(ValidationError, match="greater than or equal to 5"):
        WorkerSettings(job_code_git_pull_s=1)
    assert from_settings(WorkerSettings(job_code_git=None)) is None


def test_the_token_is_one_of_the_workers_own_secrets() -> None:
    token = "pat-" + uuid.uuid4().hex
    environ = {"GIT_PERSONAL_TOKEN": token, "PATH": "/usr/bin"}
    own_secrets.register_for_redaction(environ)
    assert redact(f"token {token}") == "token ***"
    assert own_secrets.withdraw(environ) == ["GIT_PERSONAL_TOKEN"]
    assert environ == {"PATH": "/usr/bin"}


async def test_a_worker_clones_at_start_and_pulls_a_pushed_job(
    served: GitServer,
    tmp_path: Path,
    client: Client,
    worker_env: AwsSandbox,
    captured_logs: LogCapture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from worker.main import run_worker

    monkeypatch.setenv("GIT_PERSONAL_TOKEN", served.token)
    settings = WorkerSettings(
        job_code_git=f"{served.url()}#main",
        job_code_git_pull_s=5,
        state_dir=tmp_path / "state",
        worker_http_port=0,
        launcher="subprocess",
    )
    stop = asyncio.Event()
    group = f"git-{uuid.uuid4().hex[:8]}"
    worker = asyncio.create_task(run_worker(client, group, settings, stop=stop))

    def records(message: str) -> list[dict[str, object]]:
        entries = [json.loads(line) for line in captured_logs.lines]
        return [e for e in entries if e["msg"] == message]

    try:
        await eventually(lambda: bool(records("Worker started and is waiting for work")), "start")
        assert records("Worker started and is waiting for work")[0]["jobs"] == 1
        assert records("job code from Git")[0]["commit"] == main_sha(served)
        assert "GIT_PERSONAL_TOKEN" not in os.environ  # withdrawn with the worker's secrets
        pushed = served.push_job("second_job", "print('CHANGE: second_job ran from Git')\n")
        await eventually(lambda: bool(records("job code from Git: now serving")), "reload")
        assert records("job code from Git: now serving")[0]["commit"] == pushed
        clone = checkout_dir(tmp_path / "state", served.url())
        assert sorted(discover(clone).jobs) == ["first_job", "second_job"]
        reloaded = next(
            e
            for e in map(json.loads, captured_logs.lines)
            if str(e["msg"]).startswith("job code reloaded")
        )
        assert reloaded["added"] == ["second_job"]
        # the job the pull added runs, on the worker that pulled it, without a restart
        spec = RemediationSpec(
            steps=[JobStep(job="second_job", verify=False)],
            access=AccountAccess(role_arn=worker_env.role_arn, external_id=worker_env.external_id),
            tags=TagSettings(enabled=False),
        )
        run_id = await start_remediation(client, aws_finding("sg-0123456789abcdef0"), spec, group)
        status = await wait_for_result(client, run_id)
        assert status.state == RunState.SUCCEEDED, status
        job = next(s for s in status.steps if s.kind == "job")
        assert job.changes == ["second_job ran from Git"]
    finally:
        stop.set()
        await asyncio.wait_for(worker, WAIT_S)
    assert served.token not in captured_logs.text()
