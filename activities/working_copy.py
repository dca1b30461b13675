"""A job's private working copy: a fresh temporary copy of its folder, removed afterwards.

The job runs with this copy as its cwd and HOME, and its writes are confined to it, so one run
cannot change the job code another run sees.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WorkingCopy:
    #: the temporary directory (the job's HOME and TMPDIR, the root of its allowed writes)
    root: Path
    #: the copy of the job folder inside it (the job's cwd)
    folder: Path


@contextmanager
def working_copy(job_folder: Path) -> Iterator[WorkingCopy]:
    root = Path(tempfile.mkdtemp(prefix=f"remedy-{job_folder.name}-"))
    try:
        copy = root / job_folder.name
        shutil.copytree(job_folder, copy, ignore=shutil.ignore_patterns("__pycache__"))
        yield WorkingCopy(root, copy)
    finally:
        shutil.rmtree(root, ignore_errors=True)
