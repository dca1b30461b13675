"""Write confinement for job processes with Landlock (Linux >= 5.13), unprivileged, stdlib only.

A job may read anything the worker's user can read, and reach the network, but write only under
its working directory (the parent of the job's private copy, which is also its HOME and TMPDIR)
and to a few character devices (/dev/null and friends). `confine_writes` is called in the job's
own process just before it becomes the job (the fork server's child, or the small
`activities/confined_exec.py` wrapper that then execs `python <job>.py`); the restriction holds
for the job and everything it starts, and can never be lifted by it.

`denied_writes` and `describe_denied` turn a job's log into a one-line account of what it was
refused, for the step's failure reason.

This module is also imported by the wrapper under `python -I -S`: keep it to the standard library.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat

# Syscall numbers: one table for every architecture since Linux 5.1 (asm-generic/unistd.h and
# x86's syscall_64.tbl agree on 444/445/446); only alpha (+110) and ia64 differ, and are not listed.
_SYSCALLS_ON = {"x86_64", "aarch64", "arm64", "i386", "i686", "riscv64", "ppc64le", "s390x"}
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

# LANDLOCK_ACCESS_FS_* (include/uapi/linux/landlock.h)
WRITE_FILE = 1 << 1
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5

WRITE_ACCESS_V1 = (
    WRITE_FILE
    | REMOVE_DIR
    | REMOVE_FILE
    | MAKE_CHAR
    | MAKE_DIR
    | MAKE_REG
    | MAKE_SOCK
    | MAKE_FIFO
    | MAKE_BLOCK
    | MAKE_SYM
)
#: the rights that may be granted on a file that is not a directory (else add_rule says EINVAL)
FILE_ACCESS = WRITE_FILE | TRUNCATE | IOCTL_DEV

#: Character devices a job may always open for writing (and use with ioctl): what Python,
#: subprocess.DEVNULL and ordinary tools expect. Missing ones (a bare container) are skipped.
WRITABLE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty")


class ConfinementError(OSError):
    """Landlock is there but the ruleset could not be made or applied: the job must not run."""


#: LANDLOCK_SCOPE_* (ABI 6, Linux 6.12): the job may neither signal nor connect to the abstract
#: unix sockets of a process outside its own domain (the worker, the fork server, another job)
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1
SCOPED_FROM_ABI = 6


class _RulesetAttr(ctypes.Structure):
    # struct landlock_ruleset_attr: only its first field is filled, and only its size is passed
    # (handled_access_net, ABI 4, and scoped, ABI 6, follow; the kernel takes a shorter struct).
    _fields_ = (("handled_access_fs", ctypes.c_uint64),)


class _ScopedRulesetAttr(ctypes.Structure):
    # the same struct up to `scoped` (ABI 6); network access stays unhandled (0: unchanged)
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # struct landlock_path_beneath_attr is __attribute__((packed)): 12 bytes
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


_libc_loaded: list[ctypes.CDLL | None] = []  # functools.cache would import more than ctypes does
_abi: int | None = None


def _libc() -> ctypes.CDLL | None:
    if not _libc_loaded:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall, libc.prctl  # noqa: B018 -- looked up once: a forked child inherits them
            _libc_loaded.append(libc)
        except OSError:
            _libc_loaded.append(None)
    return _libc_loaded[0]


def _syscall(number: int, *args: object) -> int:
    libc = _libc()
    if libc is None:
        raise OSError(errno.ENOSYS, "no libc to make system calls with")
    # syscall() is variadic and reads every argument as a long: pass Python ints as longs
    longs = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    result = int(libc.syscall(ctypes.c_long(number), *longs))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when there is none to use.

    0 covers: another OS or architecture, a kernel without Landlock (ENOSYS), Landlock built but
    not enabled in `lsm=` (EOPNOTSUPP), and a seccomp profile that refuses the call (EPERM or
    ENOSYS: the default profiles of container engines older than moby/moby#43199 and
    containerd/containerd#6494, 2022).
    """
    global _abi
    if _abi is None:
        _abi = _ask_landlock_abi()
    return _abi


def _ask_landlock_abi() -> int:
    system = os.uname()
    if system.sysname != "Linux" or system.machine not in _SYSCALLS_ON:
        return 0
    try:
        return _syscall(
            SYS_CREATE_RULESET, ctypes.c_void_p(None), ctypes.c_size_t(0), CREATE_RULESET_VERSION
        )
    except OSError:
        return 0


def handled_write_access(abi: int) -> int:
    """Every write-type right the kernel's ABI knows: the rights the ruleset takes away."""
    access = WRITE_ACCESS_V1
    if abi >= 2:
        access |= REFER
    if abi >= 3:
        access |= TRUNCATE
    if abi >= 5:
        access |= IOCTL_DEV
    return access


def confine_writes(writable: list[str]) -> bool:
    """Confine this process (and all it will start) to writing only beneath `writable`.

    Reads, execution and the network stay as they were. /dev/null and the other
    WRITABLE_DEVICES stay writable too. With Landlock ABI 6 (Linux 6.12) the process may also no
    longer signal, or reach the abstract unix sockets of, any process outside its own domain. Returns False, without confining, when the kernel has no
    Landlock (the worker warns once at start); True once confined. Raises ConfinementError when
    Landlock is there but refuses the ruleset: the caller must then not run the job.
    """
    abi = landlock_abi()
    if abi == 0:
        return False
    handled = handled_write_access(abi)
    attr: ctypes.Structure = (
        _ScopedRulesetAttr(handled, 0, SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET)
        if abi >= SCOPED_FROM_ABI
        else _RulesetAttr(handled)
    )
    try:
        ruleset = _syscall(
            SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), 0
        )
    except OSError as exc:
        raise ConfinementError(exc.errno, f"landlock_create_ruleset: {exc.strerror}") from None
    try:
        for path in writable:
            _allow(ruleset, path, handled, required=True)
        for device in WRITABLE_DEVICES:
            _allow(ruleset, device, handled, required=False)
        try:
            _set_no_new_privs()  # required by landlock_restrict_self for an unprivileged process
            _syscall(SYS_RESTRICT_SELF, ruleset, 0)
        except OSError as exc:
            raise ConfinementError(exc.errno, f"landlock_restrict_self: {exc.strerror}") from None
    finally:
        os.close(ruleset)
    return True


def _set_no_new_privs() -> None:
    libc = _libc()
    args = (ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    if libc is None or libc.prctl(PR_SET_NO_NEW_PRIVS, *args) != 0:
        code = ctypes.get_errno() if libc is not None else errno.ENOSYS
        raise OSError(code, os.strerror(code))


def _allow(ruleset: int, path: str, handled: int, *, required: bool) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        if required:
            raise ConfinementError(exc.errno, f"{path}: {exc.strerror}") from None
        return
    try:
        allowed = handled if stat.S_ISDIR(os.fstat(fd).st_mode) else handled & FILE_ACCESS
        rule = _PathBeneathAttr(allowed, fd)
        try:
            _syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), 0)
        except OSError as exc:
            if required:
                raise ConfinementError(
                    exc.errno, f"landlock_add_rule {path}: {exc.strerror}"
                ) from None
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------------------
# Reporting: which writes a job was refused, from its log.
# ------------------------------------------------------------------------------------------------

_REFUSED = ("Permission denied", "Read-only file system")
# Python: PermissionError: [Errno 13] Permission denied: '/x'  (rename: '/a' -> '/b');
# OSError: [Errno 30] Read-only file system: '/x'
_PYTHON = r"\[Errno (?:13|30)\] (?:Permission denied|Read-only file system): (.*)"
_QUOTED = r"'((?:[^'\\]|\\.)+)'|\"((?:[^\"\\]|\\.)+)\"|[\u2018`]([^\u2019']+)[\u2019']"
# shells and coreutils: "touch: cannot touch '/x': Permission denied", "bash: /x: Permission
# denied", "sh: 1: cannot create /x: Permission denied", "tee: /x: Read-only file system"
_BARE = r"(?:^|[\s:])(/[^\s:'\"\u2018\u2019`]*)(?=: (?:Permission denied|Read-only file system))"


def denied_writes(output_text: str, workdir: str) -> list[str]:
    """Absolute paths outside `workdir` that the job's log says it was refused, in order, once each.

    Reads the shapes Python, shells and coreutils print. A log cannot tell a refused write from a
    refused read of a file the worker's user may not read: both are "Permission denied".
    Relative paths are left out (they name the working copy or cannot be placed).
    """
    import re  # here, not at the top: the wrapper imports this module on every plain launch

    python_error, quoted, bare = re.compile(_PYTHON), re.compile(_QUOTED), re.compile(_BARE)
    inside = os.path.normpath(workdir)
    found: list[str] = []
    for line in output_text.splitlines():
        if not any(word in line for word in _REFUSED):
            continue
        candidates: list[str] = []
        python = python_error.search(line)
        if python:
            candidates = [
                _unescape(next(g for g in m.groups() if g))
                for m in quoted.finditer(python.group(1))
            ]
        else:
            candidates = [next(g for g in m.groups() if g) for m in quoted.finditer(line)]
            candidates += bare.findall(line)
        for candidate in candidates:
            if not candidate.startswith("/"):
                continue
            path = os.path.normpath(candidate)
            if path == inside or path.startswith(inside.rstrip("/") + "/"):
                continue
            if path not in found:
                found.append(path)
    return found


def _unescape(quoted: str) -> str:
    return quoted.replace("\\\\", "\\").replace("\\'", "'")


def describe_denied(paths: list[str], limit: int = 3) -> str:
    """One line for the step's failure reason; "" when nothing was refused."""
    if not paths:
        return ""
    shown = ", ".join(paths[:limit])
    if len(paths) > limit:
        shown += f" and {len(paths) - limit} more"
    return (
        f"the job tried to write outside its working copy and was refused: {shown} (Remedy lets a "
        "job write only under its working copy; write temporary files to $TMPDIR)"
    )
