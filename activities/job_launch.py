"""Launch one job process and wait for it: capped output, heartbeats, a timeout, no survivors.

The job's whole process group is killed when it times out, and again after it exits (a job cannot
leave a grandchild running); its merged stdout and stderr are kept up to a cap, with the tail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from temporalio import activity

from activities.launchers import Launched, Launcher

KILL_GRACE_S = 3.0
HEARTBEAT_EVERY_S = 5.0
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
) -> Exited:
    """Run the job to its end (or its timeout), heartbeating its output size meanwhile."""
    job = await launcher.launch(argv, cwd, env)
    reader = asyncio.create_task(_read(job, output))
    heartbeat = asyncio.create_task(_heartbeat(output))
    timed_out = False
    try:
        await asyncio.wait_for(_until_exit(job, reader), timeout=timeout_s)
    except TimeoutError:
        timed_out = True
        kill_group(job.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_until_exit(job, reader), KILL_GRACE_S)
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
    return Exited(job.returncode if job.returncode is not None else -9, output, timed_out)


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
