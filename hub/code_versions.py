"""Which job code a group's online workers serve, and a warning when they differ.

A worker registers its job code's version (`Registry.version`: a hash over every job's name and
checksum), the code's Git commit and each job's checksum; it registers again after a reload.
Each run keeps the version it was validated with (workflows/pinned_code.py), but which version a
new run gets depends on the worker that validates it: while a group's workers serve different
code the hub names the versions, the workers on each and the jobs that differ.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.models import Worker
from hub.schemas import CodeVersion, JobVersion
from remedy.types import JobInfo

UNKNOWN = "(unknown: a worker from before code versions)"
SHOWN = 12  # hex digits of a checksum or commit shown in a warning


def code_versions(online: Sequence[Worker]) -> list[CodeVersion]:
    """The versions the online workers serve, most workers first, each with its workers."""
    found: dict[tuple[str, str], list[str]] = {}
    for worker in online:
        found.setdefault((worker.code_version, worker.code_commit), []).append(worker.worker_id)
    ordered = sorted(found.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        CodeVersion(code_version=version, code_commit=commit, workers=sorted(workers))
        for (version, commit), workers in ordered
    ]


def job_versions(online: Sequence[Worker]) -> dict[str, list[JobVersion]]:
    """Per job: each checksum the online workers registered, with the workers serving it."""
    found: dict[str, dict[str, list[str]]] = {}
    for worker in online:
        for raw in worker.jobs:
            info = JobInfo.model_validate(raw)
            found.setdefault(info.name, {}).setdefault(info.checksum, []).append(worker.worker_id)
    return {
        name: [
            JobVersion(checksum=checksum, workers=sorted(workers))
            for checksum, workers in sorted(by_checksum.items(), key=lambda i: (-len(i[1]), i[0]))
        ]
        for name, by_checksum in sorted(found.items())
    }


def job_warning(name: str, versions: list[JobVersion], online: Sequence[Worker]) -> str | None:
    """How the online workers differ on job `name`, or None when they all serve one checksum."""
    serving = {w for v in versions for w in v.workers}
    missing = sorted(w.worker_id for w in online if w.worker_id not in serving)
    if len(versions) < 2 and not missing:
        return None
    parts = [f"{v.checksum[:SHOWN]}… on {', '.join(v.workers)}" for v in versions]
    if missing:
        parts.append(f"missing on {', '.join(missing)}")
    return f"job {name} differs ({'; '.join(parts)})"


def drift_warnings(group_id: str, online: Sequence[Worker]) -> list[str]:
    """One warning when the group's online workers serve different job code, else none."""
    versions = code_versions(online)
    by_job = job_versions(online)
    differing = [
        warning
        for name, found in by_job.items()
        if (warning := job_warning(name, found, online)) is not None
    ]
    if len({v.code_version for v in versions}) < 2 and not differing:
        return []
    served = "; ".join(f"{_version(v)} on {', '.join(v.workers)}" for v in versions)
    count = len({v.code_version for v in versions})
    what = f"{count} versions of the job code" if count > 1 else "different job code"
    message = f"workers of group {group_id} serve {what}: {served}. "
    if differing:
        message += "; ".join(differing) + ". "
    message += (
        "Each run keeps the version it was validated with, but a new run gets the version of "
        "whichever worker validates it: deploy the same job code (one commit or image) to every "
        "worker of the group, or stop the workers on the old one."
    )
    return [message]


def _version(version: CodeVersion) -> str:
    shown = version.code_version or UNKNOWN
    if version.code_commit:
        shown += f" (commit {version.code_commit[:SHOWN]})"
    return shown
