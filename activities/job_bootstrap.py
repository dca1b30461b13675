"""The plain launcher's job process: guard itself, take the job's environment, become the job.

    python job_bootstrap.py ENV_FD WRITABLE REMEDY_JOB_OWNER=<token> -- python <job>.py '<payload>'

`execve` makes a process dumpable again, and the environment a process is exec'd with stays
readable in `/proc/<pid>/environ` for as long as it lives. So the plain launcher does not exec
the job with its credentials: it starts this bootstrap with only the job's non-secret start-up
variables, and writes the job's whole environment (credentials included) into the pipe ENV_FD.
The bootstrap first gives up any capability and makes itself non-dumpable
(activities/process_guard.py), only then reads the environment, confines its writes to WRITABLE
(Landlock, activities/confine.py; "" when off), and runs `<job>.py` as `__main__` in this
interpreter, as the fork server's children do: same pid, process group, cwd and descriptors.

The owner token is in the command line (which stays world-readable) so that a restarted worker can
still find an orphaned job (activities/orphans.py). Exit 71 (EX_OSERR) without running the job
when it could not be guarded or confined.
"""

from __future__ import annotations

import json
import os
import runpy
import sys

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the job's, below

from activities.confine import ConfinementError, confine_writes  # noqa: E402
from activities.process_guard import GuardError, guard_job_process  # noqa: E402

EX_OSERR = 71


def read_environment(fd: int) -> dict[str, str]:
    chunks = []
    with os.fdopen(fd, "rb") as pipe:
        while chunk := pipe.read(65536):
            chunks.append(chunk)
    env: dict[str, str] = json.loads(b"".join(chunks))
    return env


def main(args: list[str]) -> None:
    if len(args) < 6 or args[3] != "--":
        sys.stderr.write("usage: job_bootstrap.py ENV_FD WRITABLE OWNER -- PYTHON JOB.py ...\n")
        sys.exit(2)
    env_fd, writable, argv = int(args[0]), args[1], args[4:]
    try:
        guard_job_process()  # before the credentials reach this process
    except GuardError as exc:
        sys.stderr.write(f"remedy: could not isolate the job's process ({exc}); not run\n")
        sys.exit(EX_OSERR)
    env = read_environment(env_fd)
    if writable:
        try:
            confine_writes([writable])
        except ConfinementError as exc:
            sys.stderr.write(
                f"remedy: could not confine the job's writes ({exc}); the job was not run\n"
            )
            sys.exit(EX_OSERR)
    os.environ.clear()
    os.environ.update(env)
    script = argv[1]
    sys.argv = argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
