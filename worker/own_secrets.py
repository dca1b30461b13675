"""The worker's own secrets: read once at start, then gone from its environment (issue #22).

The worker is configured by environment variables, some of them secret (its cloud identity, the
group's hub secret, the Jira token, the payload keys). Once the parts that use them are built,
`withdraw` removes them from `os.environ`, so no child and no later lookup sees them, and
overwrites their values in the process's initial environment block: the copy the kernel made at
`execve`, which `/proc/<pid>/environ` shows whatever `os.environ` says later. Non-dumpability
(activities/process_guard.py) is what keeps a job from reading that block, and the worker's
memory, in the meantime and afterwards; the overwrite keeps the secrets out of it even for a
reader with CAP_SYS_PTRACE (a root user on the host).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import MutableMapping

from remedy.logs import register_secret

#: The worker's own secrets: registered for redaction, never passed to a job, withdrawn at start.
SECRET_VARIABLES = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_CLIENT_SECRET",
    "VSS_CLIENT_SECRET",
    "TEMPORAL_API_KEY",
    "JIRA_API_TOKEN",
    "JIRA_TOKEN",
    "REMEDY_PAYLOAD_KEY",
    "REMEDY_PAYLOAD_OLD_KEYS",
    "GIT_PERSONAL_TOKEN",
)
#: withdrawn with the secret key: botocore refuses an access key id without its secret
WITHDRAWN_WITH_THEM = ("AWS_ACCESS_KEY_ID",)

# /proc/self/stat: env_start and env_end are fields 50 and 51 (proc(5)); the fields after the
# command's closing parenthesis start at field 3
ENV_START_FIELD, ENV_END_FIELD = 50 - 3, 51 - 3


def register_for_redaction(environ: MutableMapping[str, str]) -> None:
    for name in SECRET_VARIABLES:
        register_secret(environ.get(name))
        for value in environ.get(name, "").split(","):  # the old payload keys are a list
            register_secret(value.strip() or None)


def withdraw(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Remove the worker's secrets from its environment; return the names removed.

    Call once the parts that read them are built: nothing reads them from the environment after.
    """
    environ = os.environ if environ is None else environ
    names = [n for n in (*SECRET_VARIABLES, *WITHDRAWN_WITH_THEM) if n in environ]
    for name in names:
        del environ[name]
    if environ is os.environ:
        scrub_initial_environment(names)
    return names


def _environment_block() -> tuple[int, int] | None:
    try:
        with open("/proc/self/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        start, end = int(fields[ENV_START_FIELD]), int(fields[ENV_END_FIELD])
    except (OSError, IndexError, ValueError):
        return None
    return (start, end) if 0 < start < end else None


def scrub_initial_environment(names: list[str]) -> int:
    """Overwrite with NUL bytes the values of `names` in this process's initial environment
    block (in its own stack memory); return how many were overwritten. Linux only; elsewhere 0."""
    block = _environment_block()
    if block is None or not names:
        return 0
    start, end = block
    raw = ctypes.string_at(start, end - start)
    prefixes = tuple(name.encode() + b"=" for name in names)
    scrubbed, offset = 0, 0
    for entry in raw.split(b"\0"):
        if entry.startswith(prefixes):
            value_at = start + offset + entry.index(b"=") + 1
            ctypes.memset(value_at, 0, len(entry) - entry.index(b"=") - 1)
            scrubbed += 1
        offset += len(entry) + 1
    return scrubbed
