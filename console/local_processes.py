"""Local processes for the stack, the demo and the tests: a worker, its log, Ctrl-C and SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from console.cli_output import make_console

console = make_console(stderr=True)
#: where the local stacks and the demo keep their state
STATE = Path(".remedy")


def worker_process(
    group: str, env: dict[str, str], log_file: Path, job_code: Path | None = None
) -> subprocess.Popen[bytes]:
    """`remedy worker` in its own process (as it is deployed), logging to `log_file`."""
    argv = [sys.executable, "-m", "console", "worker", "--group", group]
    if job_code:
        argv += ["--job-code", str(job_code)]
    out = open(log_file, "ab")  # noqa: SIM115 (the child owns it)
    process = subprocess.Popen(
        argv,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    out.close()
    return process


def wait_for_line(
    log_file: Path, text: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log_file.exists():
            for line in log_file.read_text(errors="replace").splitlines():
                if text in line:
                    return line
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.1)
    tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
    raise RuntimeError(f"{text!r} did not appear in {log_file} within {timeout_s:.0f} s:\n{tail}")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any AWS identity (the sandbox's is added explicitly)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(extra)
    return env


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """SIGTERM acts as Ctrl-C from now on, so the callers' `finally` stops what they started.
    Called first thing: a SIGTERM during start-up must clean up too."""
    signal.signal(signal.SIGTERM, _interrupt)


def wait_forever() -> None:
    """Block until Ctrl-C or SIGTERM."""
    console.print("running; Ctrl-C stops everything")
    stop_on_sigterm()
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)
