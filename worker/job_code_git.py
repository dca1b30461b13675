"""Job code from Git (issue #18): clone at start, pull on an interval, serve the checkout.

`GitJobCode.sync()` runs `git` as a child process with a minimal environment: the worker's own
variables never reach it, and the token reaches it only through that environment
(`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_0`/`GIT_CONFIG_VALUE_0`: an `http.<origin>.extraHeader`
scoped to the repository's host), never through its command line (visible in `ps`) nor through
the remote URL (git fetches from the URL given, so nothing about the remote is written to
`.git/config`). The token is registered for redaction, in its plain and its Basic-header form.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import shlex
import subprocess
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from remedy.config import WorkerSettings
from remedy.logs import redact, register_secret
from worker.hub_client import HubLink
from worker.job_code import JobCode

log = logging.getLogger("remedy.worker.git")

#: the Basic-auth user name sent with the token when the URL names none (GitHub takes any name;
#: GitLab documents `oauth2`, Bitbucket `x-token-auth`: put it in the URL, `https://oauth2@host/...`)
TOKEN_USER = "x-access-token"
#: a fetch that moves less than 1 KB/s for 30 s, or takes 10 minutes, has failed
GIT_TIMEOUT_S = 600.0
LOW_SPEED = {"GIT_HTTP_LOW_SPEED_LIMIT": "1000", "GIT_HTTP_LOW_SPEED_TIME": "30"}
#: what git's child process may see of the worker's environment (nothing secret)
PASSED_THROUGH = ("PATH", "HOME", "LANG", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "SSH_AUTH_SOCK")


class GitError(RuntimeError):
    """A clone or pull failed; the message says what and how to fix it, the token redacted."""


def split_source(value: str) -> tuple[str, str | None]:
    """`https://host/org/jobs.git#main` -> (url, "main"); no `#`: (url, None), the remote HEAD."""
    url, _, ref = value.strip().partition("#")
    return url, (ref.strip() or None)


def checkout_dir(state_dir: Path, url: str) -> Path:
    """Where the worker keeps the clone of `url`: the same folder again after a restart."""
    return state_dir / "job-code-git" / hashlib.sha256(url.encode()).hexdigest()[:16]


def ssh_command(key: Path) -> str:
    """GIT_SSH_COMMAND for a deploy key: that key only, never a prompt, a bounded connect."""
    return shlex.join(
        [
            "ssh",
            "-i",
            str(key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=30",
        ]
    )


def _is_http(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if not url:
        raise GitError(
            "REMEDY_JOB_CODE_GIT is empty: set it to the repository's URL, e.g. "
            "https://github.com/org/jobs.git#main"
        )
    if parts.scheme in ("http", "https") and parts.password is not None:
        raise GitError(
            "REMEDY_JOB_CODE_GIT carries a password or token in its URL: remove it from the URL "
            "and put the token in GIT_PERSONAL_TOKEN (a URL is logged and stored; a token must "
            "not be)"
        )


def _check_subpath(subpath: str) -> PurePosixPath:
    path = PurePosixPath(subpath.strip())
    if path.is_absolute() or ".." in path.parts or ".git" in path.parts:
        raise GitError(
            f"REMEDY_JOB_CODE_GIT_PATH={subpath!r} must be a folder inside the repository, "
            "relative to its root (e.g. jobs), without '..' or .git"
        )
    return path


@dataclass(frozen=True)
class GitRun:
    """One git command as started: what the tests check carries no token."""

    argv: list[str]
    env: dict[str, str]


class GitJobCode:
    """A repository's ref checked out in `dest`; `sync()` brings it to the ref's latest commit."""

    def __init__(
        self,
        url: str,
        ref: str | None,
        dest: Path,
        token: str | None = None,
        ssh_key: Path | None = None,
        *,
        subpath: str = "",
        git: str = "git",
    ) -> None:
        _check_url(url)
        self.url, self.ref, self.dest = url, ref, dest
        self.subpath = _check_subpath(subpath)
        self.ssh_key = ssh_key
        self.git = git
        self._secrets: list[str] = []
        self._header: tuple[str, str] | None = None
        if token and _is_http(url):
            parts = urlsplit(url)
            user = parts.username or TOKEN_USER
            basic = base64.b64encode(f"{user}:{token}".encode()).decode()
            # the host without the user: git matches a key without a user to any user
            origin = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], "/", "", ""))
            self._header = (f"http.{origin}.extraHeader", f"Authorization: Basic {basic}")
            self._secrets = [token, basic]
            for secret in self._secrets:
                register_secret(secret)
        #: the last git commands started, newest last (argv and environment: for the tests)
        self.runs: deque[GitRun] = deque(maxlen=16)

    @property
    def job_code(self) -> Path:
        """The folder of job folders the worker discovers."""
        return self.dest.joinpath(*self.subpath.parts)

    @property
    def where(self) -> str:
        return f"{self.url}#{self.ref}" if self.ref else self.url

    def environment(self) -> dict[str, str]:
        """git's whole environment: a few harmless variables, no prompts, the token if any."""
        env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        env.setdefault("PATH", os.defpath)
        env |= {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
            # neither the host's nor the user's git configuration (credential helpers, rewrites)
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "LC_ALL": "C",
            # the transports a job repository may use (never ext::, which runs a command)
            "GIT_ALLOW_PROTOCOL": "https:http:ssh:git:file",
            **LOW_SPEED,
        }
        config = [("credential.helper", ""), ("core.hooksPath", os.devnull)]
        if self._header:
            config.append(self._header)
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for index, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{index}"], env[f"GIT_CONFIG_VALUE_{index}"] = key, value
        if self.ssh_key is not None:
            env["GIT_SSH_COMMAND"] = ssh_command(self.ssh_key)
        return env

    def _run(self, *args: str) -> str:
        argv = [self.git, "-C", str(self.dest), *args]
        env = self.environment()
        self.runs.append(GitRun(argv, env))
        try:
            done = subprocess.run(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT_S,
                check=False,
            )
        except FileNotFoundError:
            raise GitError(
                f"cannot run {self.git!r}: install git on the worker's host (or image)"
            ) from None
        except subprocess.TimeoutExpired:
            raise GitError(
                f"git {args[0]} from {self._safe(self.where)} took over {GIT_TIMEOUT_S:.0f} s: "
                "check that the host answers, and the repository's size"
            ) from None
        if done.returncode != 0:
            raise GitError(self._explain(args[0], done.stderr))
        return done.stdout.strip()

    def _safe(self, text: str) -> str:
        return redact(text, self._secrets)

    def _explain(self, command: str, stderr: str) -> str:
        said = " ".join(line.strip() for line in stderr.splitlines() if line.strip())[-600:]
        low = said.lower()
        where = self._safe(self.where)
        if "couldn't find remote ref" in low or "not our ref" in low:
            fix = (
                f"the ref {self.ref!r} is not in {self._safe(self.url)}: set the branch, tag or "
                "commit after '#' in REMEDY_JOB_CODE_GIT to one the repository has"
            )
        elif self._header is None and _is_http(self.url) and "could not read username" in low:
            fix = (
                f"{where} asks for credentials and GIT_PERSONAL_TOKEN is not set: set it to a "
                "token that may read the repository"
            )
        elif any(
            s in low
            for s in (
                "authentication failed",
                "could not read username",
                "could not read password",
                "returned error: 401",
                "returned error: 403",
                "permission denied",
            )
        ):
            fix = (
                f"{where} refused the credentials: set GIT_PERSONAL_TOKEN to a token that may "
                "read the repository (HTTPS), or REMEDY_JOB_CODE_GIT_SSH_KEY to a deploy key "
                "the host knows (SSH)"
            )
        elif "host key verification failed" in low:
            fix = (
                f"the SSH host key of {where} is unknown: add it to the worker user's "
                "~/.ssh/known_hosts (ssh-keyscan HOST >> ~/.ssh/known_hosts, then check it)"
            )
        elif any(
            s in low
            for s in (
                "could not resolve host",
                "failed to connect",
                "couldn't connect",
                "connection refused",
                "connection timed out",
                "operation timed out",
                "network is unreachable",
                "could not read from remote repository",
            )
        ):
            fix = (
                f"{where} is unreachable: check the host name and port in REMEDY_JOB_CODE_GIT "
                "and that the worker may reach it (DNS, firewall, proxy)"
            )
        elif "not found" in low or "does not appear to be a git repository" in low:
            fix = (
                f"{where} has no such repository (or the token may not see it): check the URL "
                "in REMEDY_JOB_CODE_GIT"
            )
        else:
            fix = f"git {command} failed for {where}"
        return self._safe(f"{fix} (git said: {said or 'nothing'})")

    def commit(self) -> str | None:
        """The commit checked out now, or None before the first clone."""
        if not (self.dest / ".git").is_dir():
            return None
        try:
            return self._run("rev-parse", "--verify", "HEAD^{commit}")
        except GitError:
            return None

    def sync(self) -> str:
        """Clone, or fetch and hard-reset, to the ref's latest commit; return its sha. Blocking."""
        if not (self.dest / ".git").is_dir():
            self.dest.mkdir(parents=True, exist_ok=True)
            self._run("init", "--quiet")
        # fetch from the URL itself, not a configured remote: .git/config never holds it
        self._run("fetch", "--quiet", "--depth=1", "--no-tags", "--", self.url, self.ref or "HEAD")
        self._run("reset", "--quiet", "--hard", "FETCH_HEAD")
        self._run("clean", "-ffdxq")
        commit = self._run("rev-parse", "--verify", "HEAD^{commit}")
        if not self.job_code.is_dir():
            raise GitError(
                f"commit {commit[:12]} of {self._safe(self.where)} has no folder "
                f"{self.subpath}: set REMEDY_JOB_CODE_GIT_PATH to the folder that holds one "
                "folder per job ('' for the repository's root)"
            )
        return commit


def from_settings(settings: WorkerSettings, state_dir: Path | None = None) -> GitJobCode | None:
    """The Git job code REMEDY_JOB_CODE_GIT names, or None when it is unset."""
    if not settings.job_code_git:
        return None
    url, ref = split_source(settings.job_code_git)
    token = settings.git_personal_token
    state = state_dir or settings.state_dir or Path.home() / ".remedy"
    return GitJobCode(
        url,
        ref,
        checkout_dir(state, url),
        token.get_secret_value() if token else None,
        settings.job_code_git_ssh_key,
        subpath=settings.job_code_git_path,
    )


async def clone_at_start(git: GitJobCode) -> str:
    """The first sync; when it fails, a checkout left by an earlier start serves (with an error
    logged), and without one the worker cannot start: GitError."""
    try:
        commit = await asyncio.to_thread(git.sync)
    except GitError as exc:
        previous = await asyncio.to_thread(git.commit)
        if previous is None:
            raise
        log.error(
            "job code from Git: %s; serving the checkout from an earlier start, commit %s",
            exc,
            previous[:12],
        )
        return previous
    log.info("job code from Git", extra={"gitURL": git.where, "commit": commit})
    return commit


async def pull_forever(
    git: GitJobCode,
    on_change: Callable[[str], Awaitable[bool]],
    interval_s: float,
    stop: asyncio.Event,
    *,
    commit: str | None = None,
) -> None:
    """Until `stop`: every `interval_s`, sync in a thread; a new commit goes to `on_change`.

    A failed pull is logged and tried again at the next interval; the checkout already there
    keeps serving. `on_change` returning False (the reload refused the new code) is logged; the
    commit is not offered again until the ref moves on.
    """
    current = commit
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        if stop.is_set():
            return
        try:
            pulled = await asyncio.to_thread(git.sync)
        except GitError as exc:
            log.error("job code from Git: the pull failed, retrying in %.0f s: %s", interval_s, exc)
            continue
        if pulled == current:
            continue
        current = pulled
        try:
            loaded = await on_change(pulled)
        except Exception:  # a background loop: the next pull must still happen
            log.exception("job code from Git: loading commit %s failed", pulled[:12])
            continue
        if loaded:
            log.info("job code from Git: now serving", extra={"commit": pulled})
        else:
            log.error("job code from Git: commit %s was not loaded", pulled[:12])


@dataclass
class GitCheckout:
    """The worker's job code from Git: the repository and the commit it serves."""

    code: GitJobCode
    commit: str
    pull_interval_s: float

    @property
    def job_code(self) -> Path:
        return self.code.job_code


async def checkout_at_start(settings: WorkerSettings) -> GitCheckout | None:
    """With REMEDY_JOB_CODE_GIT set: clone (or pull) before discovery; else None."""
    code = from_settings(settings)
    if code is None:
        return None
    commit = await clone_at_start(code)
    return GitCheckout(code, commit, settings.job_code_git_pull_s)


def start_pulling(
    checkout: GitCheckout, link: HubLink | None, job_code: JobCode, stop: asyncio.Event
) -> asyncio.Task[None]:
    """Tell the hub the commit served, then pull in the background until `stop`; each new
    commit is a reload of the job code (worker/job_code.py)."""
    if link is not None:
        current = job_code.current
        link.offer(current.infos(), current.version, checkout.commit)

    async def on_new_commit(commit: str) -> bool:
        await job_code.reload(f"git pull: commit {commit[:12]}")
        if job_code.refused:  # the commit breaks a job: the version serving stays, and says so
            return False
        checkout.commit = commit
        if link is not None:  # the new version, or the same code at a new commit
            current = job_code.current
            link.offer(current.infos(), current.version, commit)
        return True

    return asyncio.create_task(
        pull_forever(
            checkout.code, on_new_commit, checkout.pull_interval_s, stop, commit=checkout.commit
        )
    )
