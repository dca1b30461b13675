"""Keep a job from reading another process's secrets through procfs or ptrace (issue #22).

Jobs run as the worker's user. Linux lets a process read `/proc/<pid>/environ` and
`/proc/<pid>/mem` of, and `ptrace`, any *dumpable* process of its own user (Yama, where the
kernel has it, only narrows ptrace). A process that is not dumpable (`prctl(PR_SET_DUMPABLE, 0)`)
is refused to every process without CAP_SYS_PTRACE: its procfs files belong to root and
`ptrace_may_access` says EPERM. So:

- the worker and the fork server make themselves non-dumpable first thing (`make_undumpable`):
  their memory holds the worker's identity, the run credentials, the hub and Jira secrets;
- every job process is non-dumpable too, so a concurrent job cannot read its credentials: the fork
  server's children inherit it; the plain launcher's job process sets it before it is handed its
  environment (activities/job_bootstrap.py), because `execve` makes a process dumpable again;
- a job started by a worker that has capabilities (root) gives them all up (`drop_capabilities`):
  CAP_SYS_PTRACE would override non-dumpability.

Works unprivileged on any Linux (PR_SET_DUMPABLE is 2.3.20; Docker's and Kubernetes'
RuntimeDefault seccomp profiles allow prctl and capset). Standard library only: the plain
launcher's bootstrap imports it before site-packages matter.
"""

from __future__ import annotations

import ctypes
import os

PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CAPABILITY_VERSION_3 = 0x20080522


class GuardError(OSError):
    """The process could not be made unreadable or give up its capabilities: run no job in it."""


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


_libc_loaded: list[ctypes.CDLL | None] = []


def _libc() -> ctypes.CDLL | None:
    if not _libc_loaded:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl, libc.capset  # noqa: B018 -- looked up once: a forked child inherits them
            _libc_loaded.append(libc)
        except (OSError, AttributeError):
            _libc_loaded.append(None)
    return _libc_loaded[0]


def _prctl(option: int, arg: int = 0) -> int:
    libc = _libc()
    if libc is None:
        raise GuardError(38, "no libc with prctl here (not Linux?)")
    args = [ctypes.c_ulong(option), ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0)]
    result = int(libc.prctl(*args, ctypes.c_ulong(0)))
    if result < 0:
        code = ctypes.get_errno()
        raise GuardError(code, os.strerror(code))
    return result


def is_dumpable() -> bool:
    """Whether processes of this user may read this one's memory and environment block."""
    try:
        return _prctl(PR_GET_DUMPABLE) != 0
    except GuardError:
        return True


def make_undumpable() -> bool:
    """Make this process (and the children it forks, not those it execs) non-dumpable.

    False where the system has no prctl (not Linux): the caller logs that the layer is missing.
    """
    try:
        _prctl(PR_SET_DUMPABLE, 0)
    except GuardError:
        return False
    return not is_dumpable()


def _capabilities() -> dict[str, int]:
    """CapInh, CapPrm, CapEff, CapBnd, CapAmb of this process, from /proc/self/status."""
    found: dict[str, int] = {}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Cap"):
                    name, _, value = line.partition(":")
                    found[name] = int(value.strip(), 16)
    except OSError:
        pass
    return found


def holds_capabilities() -> bool:
    caps = _capabilities()
    return bool(caps.get("CapPrm") or caps.get("CapEff") or caps.get("CapAmb"))


def drop_capabilities() -> None:
    """Give up every capability, for good: also from the bounding set, so that a program the job
    execs as uid 0 gets none back. Nothing to do for an ordinary (non-root) user.

    Raises GuardError when a capability stays: the job must not run with CAP_SYS_PTRACE.
    """
    if not holds_capabilities():
        return
    with open("/proc/sys/kernel/cap_last_cap") as last:
        last_cap = int(last.read())
    for cap in range(last_cap + 1):  # needs CAP_SETPCAP, which root holds: first, then capset
        _prctl(PR_CAPBSET_DROP, cap)
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    libc = _libc()
    assert libc is not None  # _prctl above would have raised
    header = _CapHeader(CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()  # all zero: no effective, permitted or inheritable capability
    if libc.capset(ctypes.byref(header), data) != 0:
        code = ctypes.get_errno()
        raise GuardError(code, f"capset: {os.strerror(code)}")
    if holds_capabilities():
        raise GuardError(1, "capabilities remain after dropping them")


def guard_job_process() -> None:
    """In a job's own process, before it is handed its credentials: no capability, not dumpable
    (where the system cannot, the worker has said so at start: see worker/main.py)."""
    drop_capabilities()
    make_undumpable()
