"""Jobs whose worker died must not run on, racing the retry of their step on another worker.

When a worker is killed (SIGKILL, OOM) Temporal hands its steps to another worker after the
heartbeat timeout; the dead worker's job processes live on in their own process groups.
- Jobs forked by the fork server: the server notices its worker is gone (within a second), kills
  every job's process group and exits (activities/forkserver.py).
- Jobs started by the plain launcher carry `REMEDY_JOB_OWNER=<worker pid>:<start time>` in their
  command line (the job bootstrap's, which stays world-readable when the job is non-dumpable) and
  in the environment of the programs they exec; a worker starting on the same machine kills the
  process groups of jobs whose owner is no longer alive (here).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from pathlib import Path

log = logging.getLogger("remedy.orphans")

OWNER_VARIABLE = "REMEDY_JOB_OWNER"


def process_start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_token(pid: int | None = None) -> str:
    """This process's token: pid and start time, so a reused pid is not mistaken for it."""
    pid = pid or os.getpid()
    return f"{pid}:{process_start_time(pid)}"


def _owner_alive(token: str) -> bool:
    pid_text, _, started = token.partition(":")
    return pid_text.isdigit() and process_start_time(int(pid_text)) == started


def _job_owner(pid: int) -> str | None:
    # a non-dumpable job's environ is unreadable (activities/process_guard.py): its command line
    for name in ("cmdline", "environ"):
        try:
            entries = Path(f"/proc/{pid}/{name}").read_bytes().split(b"\0")
        except OSError:
            continue
        for entry in entries:
            if entry.startswith(OWNER_VARIABLE.encode() + b"="):
                return entry.split(b"=", 1)[1].decode(errors="replace")
    return None


def kill_orphaned_jobs() -> list[int]:
    """Kill the process group of every job whose worker is gone; return the groups killed."""
    killed: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        owner = _job_owner(pid)
        if owner is None or _owner_alive(owner):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            group = os.getpgid(pid)
            if group not in killed and group != os.getpgid(0):
                os.killpg(group, signal.SIGKILL)
                killed.append(group)
    if killed:
        log.warning(
            "killed the process groups of jobs whose worker had died",
            extra={"processGroups": killed},
        )
    return killed
