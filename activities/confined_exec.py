"""Confine this process's writes, then become the job: `confined_exec.py WRITABLE -- ARGV...`.

The plain launcher starts jobs through this wrapper, run as `python -I -S confined_exec.py`
(no site-packages, no environment-driven imports: a few milliseconds), because confining in a
`preexec_fn` is not safe in the worker, which has threads. The wrapper keeps the job's pid,
process group, cwd, environment and file descriptors: `os.execv` replaces it with the job.

Exit 71 (EX_OSERR) without running the job when the kernel has Landlock but refuses the ruleset.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from activities.confine import ConfinementError, confine_writes

EX_OSERR = 71


def main(args: list[str]) -> None:
    if len(args) < 3 or args[1] != "--":
        sys.stderr.write("usage: confined_exec.py WRITABLE -- ARGV...\n")
        sys.exit(2)
    writable, argv = args[0], args[2:]
    try:
        confine_writes([writable])
    except ConfinementError as exc:
        sys.stderr.write(
            f"remedy: could not confine the job's writes ({exc}); the job was not run\n"
        )
        sys.exit(EX_OSERR)
    sys.stdout.flush()
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
