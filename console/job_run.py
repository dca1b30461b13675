"""`remedy jobs run`: one job, in one mode, on this machine, for people writing jobs.

It runs the job the way the worker does (`python <entry> '<payload>'` in a private copy of its
folder, the mode in REMEDY_MODE, a rollback's change records in the file REMEDY_RECORDS names)
but with this shell's environment: the credentials of the configured account, or the sandbox's
when AWS_ENDPOINT_URL / the AZURE_* variables point at it (`remedy sandbox` writes them). The
job's output is passed through; its exit code is the command's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from remedy.job_registry import Job
from remedy.jobkit.modes import MODE_VARIABLE, RECORD_PREFIX, RECORDS_VARIABLE, parse_records


class CannotRun(Exception):
    """The job cannot run in that mode, or its inputs are unusable (exit 2)."""


def run_job(
    job: Job,
    payload: dict[str, Any],
    mode: str,
    records_text: str | None = None,
    records_out: Path | None = None,
) -> int:
    """Run the job; return its exit code. Its RECORD lines go to `records_out` (a JSON list)."""
    if mode not in job.modes:
        reason = f"; its changes are irreversible: {job.irreversible}" if job.irreversible else ""
        raise CannotRun(
            f"job {job.name} does not support the {mode} mode (it lists "
            f"{', '.join(job.modes)}){reason}"
        )
    entry = job.verify_entry if mode == "verify" else job.entry
    assert entry is not None  # verify is listed only when verify.py is there (the registry)
    given = payload.get("remediationParameters") or {}
    if not isinstance(given, dict):
        raise CannotRun("the payload's remediationParameters must be an object")
    parameters = job.resolve_parameters(given)
    document = json.dumps({**payload, "remediationParameters": parameters})
    env = {k: v for k, v in os.environ.items() if k not in (MODE_VARIABLE, RECORDS_VARIABLE)}
    with tempfile.TemporaryDirectory(prefix=f"remedy-{job.folder.name}-") as root:
        copy = Path(root) / job.folder.name
        shutil.copytree(job.folder, copy, ignore=shutil.ignore_patterns("__pycache__"))
        if mode in ("plan", "rollback"):
            env[MODE_VARIABLE] = mode
        if mode == "rollback":
            if records_text is None:
                raise CannotRun("rollback needs --records FILE (the records a remediation printed)")
            path = Path(root) / "remedy-records.json"
            path.write_text(json.dumps(parse_records(records_text)), encoding="utf-8")
            env[RECORDS_VARIABLE] = str(path)
        process = subprocess.Popen(
            [sys.executable, entry.name, document],
            cwd=copy,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        printed: list[str] = []
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            printed.append(line)
        code = process.wait()
    if records_out is not None:
        kept = parse_records("".join(ln for ln in printed if ln.startswith(RECORD_PREFIX)))
        records_out.write_text(json.dumps(kept, indent=2) + "\n", encoding="utf-8")
    return code
