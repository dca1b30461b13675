"""How a job process is started: a plain subprocess, or a child of the pre-warmed fork server.

Both give the same thing: a process in its own process group (pid == pgid), stdin closed, stdout and
stderr merged into one pipe the worker reads, and an exit code with subprocess's meaning (negative:
killed by that signal). The job runner applies the timeout, the kill, the output cap and redaction
the same way to both.

With `confine_writes` (the default, REMEDY_CONFINE_WRITES) and a kernel with Landlock, both also
confine the job's writes to its working directory, the parent of its cwd (activities/confine.py).

A job with its own environment (its requirements.txt, activities/job_deps.py) is run by that
environment's Python in the plain launcher; in the fork server, its child puts the environment's
site-packages first on sys.path (the runner decides which: activities/job_runner.py).

Both run the job in a process no other job can read or trace (activities/process_guard.py): the
fork server's children are non-dumpable from birth; the plain launcher starts
activities/job_bootstrap.py, which guards itself before it is handed the job's environment
through a pipe, and becomes the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from activities.confine import landlock_abi
from activities.job_deps import JobEnv
from activities.orphans import OWNER_VARIABLE
from remedy.metrics import FORKSERVER_LAUNCHES

log = logging.getLogger("remedy.launcher")

CONFINED_EXEC = str(Path(__file__).resolve().parent / "confined_exec.py")
JOB_BOOTSTRAP = str(Path(__file__).resolve().parent / "job_bootstrap.py")
#: what the plain launcher's job process is exec'd with (nothing secret: it stays readable in
#: /proc/<pid>/environ); the rest of the job's environment reaches it through a pipe
STARTUP_VARIABLES = (
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    OWNER_VARIABLE,
)
EXIT_POLL_S = 0.005
SERVER_START_TIMEOUT_S = 60.0
FORK_ANSWER_TIMEOUT_S = 10.0


@dataclass
class Launched:
    """A started job process: its pid (also its process group), its output, its exit."""

    pid: int
    stdout: asyncio.StreamReader
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    returncode: int | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def finish(self, returncode: int) -> None:
        if self.returncode is None:
            self.returncode = returncode
            self.exited.set()

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()


class Launcher(Protocol):
    name: str
    #: whether this launcher's jobs run with their writes confined (asked for, and possible here)
    confine_writes: bool

    async def launch(
        self, argv: list[str], cwd: Path, env: dict[str, str], job_env: JobEnv | None = None
    ) -> Launched: ...

    async def close(self) -> None: ...


def confined_argv(argv: list[str], writable: Path) -> list[str]:
    """`argv` started through the wrapper that confines its writes to `writable`, then execs it
    (same pid, group, fds, environment). A preexec_fn would do it in-process, but is not safe in
    the worker, which has threads."""
    return [sys.executable, "-I", "-S", CONFINED_EXEC, str(writable), "--", *argv]


def bootstrap_argv(argv: list[str], env_fd: int, writable: Path | None, owner: str) -> list[str]:
    """`argv` (`python <job>.py '<payload>'`) run by the job bootstrap, in the same interpreter."""
    return [
        argv[0],
        JOB_BOOTSTRAP,
        str(env_fd),
        str(writable or ""),
        f"{OWNER_VARIABLE}={owner}",
        "--",
        *argv,
    ]


def _write_all(fd: int, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError), os.fdopen(fd, "wb") as pipe:
        pipe.write(data)


class SubprocessLauncher:
    """A fresh Python per job: what the VSS worker does (about 0.3 s of CPU each)."""

    name = "subprocess"

    def __init__(self, *, confine_writes: bool = True) -> None:
        self.confine_writes = confine_writes and landlock_abi() > 0

    async def launch(
        self, argv: list[str], cwd: Path, env: dict[str, str], job_env: JobEnv | None = None
    ) -> Launched:
        if job_env is not None:  # the job's own environment's Python runs it
            argv = [str(job_env.python), *argv[1:]]
        env_read, env_write = os.pipe()
        try:
            writable = cwd.parent if self.confine_writes else None
            process = await asyncio.create_subprocess_exec(
                *bootstrap_argv(argv, env_read, writable, env.get(OWNER_VARIABLE, "")),
                cwd=cwd,
                env={name: env[name] for name in STARTUP_VARIABLES if name in env},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(env_read,),
            )
        except BaseException:
            os.close(env_write)
            raise
        finally:
            os.close(env_read)
        # the credentials go only to the job's process, once it has made itself unreadable
        await asyncio.to_thread(_write_all, env_write, json.dumps(env).encode())
        assert process.stdout is not None
        launched = Launched(pid=process.pid, stdout=process.stdout)

        async def watch() -> None:
            # Process.wait() only returns once every pipe is closed (a grandchild may hold one);
            # returncode is set as soon as the process itself has exited.
            while process.returncode is None:
                await asyncio.sleep(EXIT_POLL_S)
            launched.finish(process.returncode)

        launched._tasks.append(asyncio.create_task(watch()))
        return launched

    async def close(self) -> None:
        return None


def _server_env() -> dict[str, str]:
    """The fork server's environment: nothing secret, only what Python needs to start."""
    keep = (
        "PATH",
        "LANG",
        "LC_ALL",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "HOME",
        "REMEDY_FORKSERVER_SPARES",
        "REMEDY_FORKSERVER_WARM_SPARES",
    )
    return {name: os.environ[name] for name in keep if name in os.environ}


class ForkServerLauncher:
    """Jobs forked from a pre-warmed server: boto3 and friends are imported once, not per job.

    The server is started lazily (in its own process, so the worker's threads do not matter),
    restarted if it dies, and bypassed for the plain launcher when it cannot be had, so a worker
    never hangs on it.
    """

    name = "forkserver"

    def __init__(self, *, confine_writes: bool = True) -> None:
        self.confine_writes = confine_writes and landlock_abi() > 0
        self._dir = ""  # made with the first server: a launcher never used leaves nothing behind
        self._path = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = asyncio.Lock()
        self._fallback = SubprocessLauncher(confine_writes=confine_writes)
        #: the top-level modules the server has imported (known once it is up): a job environment
        #: holding one of them cannot run on it
        self.preloaded: frozenset[str] = frozenset()

    @property
    def server_pid(self) -> int | None:
        return self._process.pid if self._process and self._process.poll() is None else None

    async def start(self) -> None:
        """Start the server now rather than at the first job (a worker is ready once it is up)."""
        await asyncio.wait_for(self._ensure_server(), SERVER_START_TIMEOUT_S)

    async def _ensure_server(self) -> None:
        async with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            if self._process is not None:
                log.warning(
                    "the fork server exited (code %s); starting a new one", self._process.returncode
                )
            if not self._dir:
                self._dir = tempfile.mkdtemp(prefix="remedy-forkserver-")
                self._path = os.path.join(self._dir, "socket")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)
            self._process = await asyncio.to_thread(self._start_server)

    def _start_server(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "activities.forkserver", self._path],
            env=_server_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert process.stdout is not None
        ready = process.stdout.readline()  # bounded: the server prints this line or exits
        if not ready.startswith(b'{"ready"'):
            process.kill()
            process.wait()
            raise RuntimeError("the fork server did not start")
        process.stdout.close()
        answer = json.loads(ready)
        self.preloaded = frozenset(answer.pop("modules", ()))
        log.info("fork server ready", extra={"pid": process.pid, **answer})
        return process

    async def launch(
        self, argv: list[str], cwd: Path, env: dict[str, str], job_env: JobEnv | None = None
    ) -> Launched:
        for attempt in (1, 2):
            try:
                await asyncio.wait_for(self._ensure_server(), SERVER_START_TIMEOUT_S)
                return await self._fork(argv, cwd, env, job_env)
            except (OSError, RuntimeError, TimeoutError, ValueError) as exc:
                log.warning("fork server launch failed (attempt %d): %s", attempt, exc)
                if self._process is not None and self._process.poll() is None and attempt == 1:
                    self._process.kill()  # a server that does not answer is replaced
                    await asyncio.to_thread(self._process.wait)
        log.warning("launching with the plain launcher instead of the fork server")
        return await self._fallback.launch(argv, cwd, env, job_env)

    async def _fork(
        self, argv: list[str], cwd: Path, env: dict[str, str], job_env: JobEnv | None
    ) -> Launched:
        loop = asyncio.get_running_loop()
        read_fd, write_fd = os.pipe()
        control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            control.settimeout(FORK_ANSWER_TIMEOUT_S)
            control.connect(self._path)
            job: dict[str, object] = {"argv": argv, "cwd": str(cwd), "env": env}
            if self.confine_writes:
                job["writable"] = [str(cwd.parent)]
            if job_env is not None:
                job["site_packages"] = str(job_env.site_packages)
                job["own_modules"] = list(job_env.modules)
            request = json.dumps(job).encode() + b"\n"
            sent = socket.send_fds(control, [request], [write_fd])
            if sent < len(request):
                control.sendall(request[sent:])
        except BaseException:
            os.close(read_fd)
            control.close()
            raise
        finally:
            os.close(write_fd)
        control.setblocking(False)
        # keep the writer referenced: a collected StreamWriter closes the connection
        answers, answers_writer = await asyncio.open_unix_connection(sock=control)
        try:
            first = json.loads(
                await asyncio.wait_for(answers.readline(), FORK_ANSWER_TIMEOUT_S) or b"{}"
            )
        except BaseException:
            os.close(read_fd)
            control.close()
            raise
        if "pid" not in first:
            os.close(read_fd)
            control.close()
            raise ValueError(f"the fork server refused the job: {first.get('error', 'no answer')}")
        stdout = asyncio.StreamReader(limit=2**20)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stdout), os.fdopen(read_fd, "rb", buffering=0)
        )
        launched = Launched(pid=int(first["pid"]), stdout=stdout)
        FORKSERVER_LAUNCHES.inc()

        async def watch() -> None:
            try:
                line = await answers.readline()
                answer = json.loads(line) if line else {}
            finally:
                answers_writer.close()
            # no answer: the server died while the job ran; the runner kills the job's group
            launched.finish(int(answer.get("returncode", -9)))

        launched._tasks.append(asyncio.create_task(watch()))
        return launched

    async def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(asyncio.to_thread(self._process.wait), 10)
            except TimeoutError:
                self._process.kill()
        if self._dir:  # the socket may be gone already (a server whose worker died removes it)
            with contextlib.suppress(OSError):
                os.unlink(self._path)
            with contextlib.suppress(OSError):
                os.rmdir(self._dir)


def make_launcher(name: str, *, confine_writes: bool = True) -> Launcher:
    if name == "forkserver":
        return ForkServerLauncher(confine_writes=confine_writes)
    if name == "subprocess":
        return SubprocessLauncher(confine_writes=confine_writes)
    raise ValueError(f"unknown launcher {name!r}: use 'forkserver' or 'subprocess'")
