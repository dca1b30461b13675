"""Run a job the way the worker does, for the job tests: a private copy, the payload in argv[1]."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from activities.confine import landlock_abi
from activities.launchers import confined_argv


def run_like_the_worker(
    job_folder: Path, workdir: Path, payload: Any, env: dict[str, str], entry: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python <name>.py '<payload>'` (or `entry`, e.g. verify.py) in a copy of the folder, with
    only `env` (plus PATH, HOME), its writes confined to the copy's parent as the worker confines
    them (when the kernel can)."""
    copy = shutil.copytree(job_folder, workdir)
    argv = [sys.executable, entry or f"{job_folder.name}.py"]
    if payload is not None:
        argv.append(payload if isinstance(payload, str) else json.dumps(payload))
    if landlock_abi():
        argv = confined_argv(argv, workdir.parent)
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir.parent), "LANG": "C.UTF-8"}
    return subprocess.run(
        argv, cwd=copy, env={**base, **env}, capture_output=True, text=True, timeout=60
    )
