"""An attacker's job: every process of the worker's tree (the worker, the fork server, its
children, other jobs), read through /proc/<pid>/environ and /proc/<pid>/mem and ptrace, and
whether it may signal them.

Prints one `SNOOP: {json}` line: per process, what each way gave (or the errno refusing it) and
which secret markers it found; then its own environment's names and identity (it reads its own
environment normally).
"""

import ctypes
import errno
import json
import os
import sys

import boto3

MARKERS = (b"canary-", b"AWS_SECRET_ACCESS_KEY=", b"AWS_SESSION_TOKEN=", b"JIRA_API_TOKEN=")
PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SEIZE = 16, 17, 0x4206
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = (ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p)
libc.ptrace.restype = ctypes.c_long


def parents() -> dict[int, int]:
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as stat:
                    found[int(name)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return found


def tree(root: int) -> list[int]:
    ppid = parents()
    members, grew = {root}, True
    while grew:
        more = {pid for pid, parent in ppid.items() if parent in members} - members
        members |= more
        grew = bool(more)
    return sorted(members - {os.getpid()})


def refused(exc: OSError) -> str:
    return f"refused: {errno.errorcode.get(exc.errno or 0, exc.errno)}"


def markers(data: bytes) -> list[str]:
    return [m.decode() for m in MARKERS if m in data]


def read_environ(pid: int, report: dict) -> None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            data = f.read()
    except OSError as exc:
        report["environ"] = refused(exc)
        return
    report["environ"] = f"read {len(data)} bytes"
    report["found"] += markers(data)


def read_mem(pid: int, report: dict) -> None:
    try:
        with open(f"/proc/{pid}/maps") as maps:
            regions = [line.split() for line in maps]
        mem = open(f"/proc/{pid}/mem", "rb", buffering=0)  # noqa: SIM115
    except OSError as exc:
        report["mem"] = refused(exc)
        return
    total = 0
    with mem:
        for region in regions:
            if "r" not in region[1] or (len(region) > 5 and region[5].startswith("[v")):
                continue
            start, end = (int(x, 16) for x in region[0].split("-"))
            try:
                mem.seek(start)
                data = mem.read(min(end - start, 64 * 2**20))
            except (OSError, OverflowError, ValueError) as exc:
                report["mem"] = refused(exc) if isinstance(exc, OSError) else str(exc)
                if isinstance(exc, OSError) and exc.errno in (errno.EPERM, errno.EACCES):
                    return
                continue
            total += len(data)
            report["found"] += markers(data)
    report["mem"] = f"read {total} bytes"


def trace(pid: int, request: int, report: dict, key: str) -> None:
    ctypes.set_errno(0)
    if libc.ptrace(request, pid, None, None) == -1:
        code = ctypes.get_errno()
        report[key] = f"refused: {errno.errorcode.get(code, code)}"
        return
    report[key] = "attached"
    if request == PTRACE_ATTACH:  # the tracee stops: wait for it, or it stays stopped after us
        os.waitpid(pid, 0x40000000)  # __WALL
    libc.ptrace(PTRACE_DETACH, pid, None, None)


worker = json.loads(sys.argv[1])["remediationParameters"]["worker_pid"]
reports = []
for pid in tree(worker):
    report = {"pid": pid, "found": []}
    read_environ(pid, report)
    read_mem(pid, report)
    trace(pid, PTRACE_ATTACH, report, "ptrace_attach")
    trace(pid, PTRACE_SEIZE, report, "ptrace_seize")
    try:
        os.kill(pid, 0)  # may it signal (stop, kill) the process? signal 0 only asks
        report["signal"] = "allowed"
    except OSError as exc:
        report["signal"] = refused(exc)
    report["found"] = sorted(set(report["found"]))
    reports.append(report)
print("SNOOP:", json.dumps(reports))
print("own env:", ",".join(sorted(os.environ)))
print("own identity:", boto3.client("sts").get_caller_identity()["Arn"])
print("own secret key read:", bool(os.environ.get("AWS_SECRET_ACCESS_KEY")))
print("CHANGE: snooped")
