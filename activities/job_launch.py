"""Launch one job process and wait for it: capped output, heartbeats, a timeout, no survivors.

The job's whole process group is killed when it times out, and again after it exits (a job cannot
leave a grandchild running); its merged stdout and stderr are kept up to a cap, with the tail.
When Temporal cancels the step (the run was cancelled, terminated or timed out, delivered on the
next heartbeat, so within about two seconds), the group is killed at once and waited for, and
what the job printed until then is returned with `stopped` set: the run can say what it changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from temporalio import activity

from activities.job_deps import JobEnv
from activities.launchers import Launched, Launcher

KILL_GRACE_S = 3.0
#: a cancel is delivered in the answer to a heartbeat; the worker sends them at most every 2 s
#: (worker/main.py: max_heartbeat_throttle_interval), so one a second keeps that pace
HEARTBEAT_EVERY_S = 1.0
READ_CHUNK = 65536


@dataclass
class Output:
    """A job's merged output: the first `cap` bytes and the last `tail` bytes kept, the rest counted."""

    cap: int
    tail: int = 8_000
    kept: bytearray = field(default_factory=bytearray)
    last: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.cap - len(self.kept)
        if room > 0:
            self.kept.extend(chunk[:room])
            chunk = chunk[room:]
        if chunk:
            self.last.extend(chunk)
            del self.last[: max(0, len(self.last) - self.tail)]

    @property
    def dropped(self) -> int:
        return self.total - len(self.kept) - len(self.last)

    def text(self) -> str:
        body = self.kept.decode("utf-8", errors="replace")
        if self.dropped:
            body += f"\n[remedy: {self.dropped} bytes of output were discarded here]\n"
        return body + self.last.decode("utf-8", errors="replace")


@dataclass
class Exited:
    """How a job process ended."""

    exit_code: int
    output: Output
    timed_out: bool
    #: killed because Temporal cancelled the step: why ("cancelled", "run ended", "timed out")
    stopped: str | None = None


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def execute(
    launcher: Launcher,
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    timeout_s: float,
    output: Output,
    job_env: JobEnv | None = None,
) -> Exited:
    """Run the job to its end (or its timeout), heartbeating its output size meanwhile; in its
    own environment when it has one."""
    job = await launcher.launch(argv, cwd, env, job_env)
    reader = asyncio.create_task(_read(job, output))
    heartbeat = asyncio.create_task(_heartbeat(output))
    timed_out = False
    stopped: str | None = None
    try:
        await asyncio.wait_for(_until_exit(job, reader), timeout=timeout_s)
    except TimeoutError:
        timed_out = True
        kill_group(job.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_until_exit(job, reader), KILL_GRACE_S)
    except asyncio.CancelledError:
        stopped = _why_cancelled()
        if stopped is None:  # the worker is shutting down (or not in an activity): as before
            raise
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()  # handled here: the waits below must not be cancelled again
    finally:
        # Always: the job's group goes (grandchildren included), even on cancellation, which
        # also closes any pipe a grandchild held, so the reader ends.
        kill_group(job.pid, signal.SIGKILL)
        heartbeat.cancel()
        try:
            await asyncio.wait_for(reader, KILL_GRACE_S)
        except TimeoutError:
            reader.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(job.exited.wait(), KILL_GRACE_S)
        job.close()
    code = job.returncode if job.returncode is not None else -9
    return Exited(code, output, timed_out, stopped)


def _why_cancelled() -> str | None:
    """Why Temporal cancelled the step, when it is the run's doing and not the worker's."""
    try:
        details = activity.cancellation_details()
    except RuntimeError:  # not in an activity
        return None
    if details is None:
        return None
    if details.cancel_requested:
        return "cancelled"
    if details.not_found:  # the heartbeat found no such step: the run was terminated or reset
        return "run ended"
    if details.timed_out:
        return "timed out"
    return None


async def _until_exit(job: Launched, reader: asyncio.Task[None]) -> None:
    """Return once the job process has exited (its output may still be draining)."""
    exited = asyncio.ensure_future(job.exited.wait())
    try:
        await asyncio.wait({exited, reader}, return_when=asyncio.FIRST_COMPLETED)
        await exited  # output closed first: the exit follows
    finally:
        exited.cancel()


async def _read(job: Launched, output: Output) -> None:
    while chunk := await job.stdout.read(READ_CHUNK):
        output.add(chunk)


async def _heartbeat(output: Output) -> None:
    while True:  # the task copies the activity's context, so heartbeat() reaches Temporal
        activity.heartbeat(output.total)
        await asyncio.sleep(HEARTBEAT_EVERY_S)
