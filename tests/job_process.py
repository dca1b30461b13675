"""Run a job the way the worker does, for the job tests: a private copy, the payload in argv[1]."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from activities.confine import landlock_abi
from activities.launchers import ForkServerLauncher, confined_argv


def run_like_the_worker(
    job_folder: Path, workdir: Path, payload: Any, env: dict[str, str], entry: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python <name>.py '<payload>'` (or `entry`, e.g. verify.py) in a copy of the folder, with
    only `env` (plus PATH, HOME), its writes confined to the copy's parent as the worker confines
    them (when the kernel can)."""
    copy = shutil.copytree(job_folder, workdir)
    argv = [sys.executable, entry or f"{job_folder.name}.py"]
    if payload is not None:
        argv.append(payload if isinstance(payload, str) else json.dumps(payload))
    if landlock_abi():
        argv = confined_argv(argv, workdir.parent)
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir.parent), "LANG": "C.UTF-8"}
    return subprocess.run(
        argv, cwd=copy, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


class ForkedJobs:
    """The worker's own fork server (activities/launchers.py ForkServerLauncher) for the job
    tests: each job forks from one pre-warmed Python instead of importing boto3 anew, as a
    deployed worker runs it, writes confined the same way. Its output is one stream, stdout and
    stderr together, as the worker reads it (both fields of the answer hold it)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.launcher = ForkServerLauncher(confine_writes=True)

    def run(
        self,
        job_folder: Path,
        workdir: Path,
        payload: Any,
        env: dict[str, str],
        entry: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        copy = Path(shutil.copytree(job_folder, workdir))
        argv = [sys.executable, entry or f"{job_folder.name}.py"]
        if payload is not None:
            argv.append(payload if isinstance(payload, str) else json.dumps(payload))
        base = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir.parent), "LANG": "C.UTF-8"}
        done = asyncio.run_coroutine_threadsafe(self._run(argv, copy, {**base, **env}), self.loop)
        return done.result(timeout=JOB_TIMEOUT_S + 30)

    async def _run(
        self, argv: list[str], cwd: Path, env: dict[str, str]
    ) -> subprocess.CompletedProcess[str]:
        launched = await self.launcher.launch(argv, cwd, env)
        try:
            output = await asyncio.wait_for(launched.stdout.read(), JOB_TIMEOUT_S)
            await asyncio.wait_for(launched.exited.wait(), JOB_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(launched.pid, signal.SIGKILL)
            raise
        finally:
            launched.close()
        text = output.decode(errors="replace")
        return subprocess.CompletedProcess(argv, launched.returncode or 0, text, text)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.launcher.close(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


JOB_TIMEOUT_S = 60
_forked: ForkedJobs | None = None


def run_forked(
    job_folder: Path, workdir: Path, payload: Any, env: dict[str, str], entry: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`run_like_the_worker` through the fork server (one per test process, stopped by
    `stop_forked` when the session ends: tests/conftest.py)."""
    global _forked
    if _forked is None:
        _forked = ForkedJobs()
    return _forked.run(job_folder, workdir, payload, env, entry)


def stop_forked() -> None:
    global _forked
    if _forked is not None:
        _forked.close()
        _forked = None
