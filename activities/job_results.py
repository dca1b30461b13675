"""What a finished job attempt means: its result, or the failure the workflow is told of.

A failure is classified for the workflow: `JobTransientFailure` when the log shows the cloud was
unreachable or throttling (`activities/transient.py`), `StillNonCompliant` when a `verify.py` says
so, `JobTimeout`, else `JobFailed`. Results of jobs that exited 0 are kept a while, so a retry
whose first completion was lost (a Temporal outage) is answered instead of run twice.
"""

from __future__ import annotations

import json
import re
import signal
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.exceptions import ApplicationError

from activities.transient import transient_sign
from remedy.job_registry import METADATA_FILE, VERIFY_FILE
from remedy.types import (
    EXIT_NONCOMPLIANT,
    JOB_STOPPED,
    STILL_NONCOMPLIANT,
    TRANSIENT_FAILURE,
    JobFailure,
    JobMode,
    JobResult,
)

CHANGE_PREFIX = "CHANGE: "
#: a change record, printed before a change (remedy/jobkit/modes.py)
RECORD_PREFIX = "RECORD: "
NONCOMPLIANT_PREFIX = "NONCOMPLIANT: "
#: finished jobs' results kept for answering a retry whose first completion was lost: 16 MB at
#: most with the default 8 KB log tail; at 10 jobs/s that reaches 200 s back
FINISHED_KEPT = 2_000
#: a job written on Remedy's kit (`jobkit.change()` prints the CHANGE lines)
_USES_KIT = re.compile(
    r"^\s*(from remedy import jobkit|from remedy\.jobkit|import remedy\.jobkit)", re.M
)

AttemptKey = tuple[str, str, str]  # (workflow id, workflow run id, activity id)


def job_log_summary(text: str) -> tuple[list[str], int]:
    """The changes a job reported (its `CHANGE:` lines) and how many error lines it logged."""
    changes, errors = [], 0
    for line in text.splitlines():
        if line.startswith(CHANGE_PREFIX):
            changes.append(line[len(CHANGE_PREFIX) :].strip())
        elif (
            line.startswith(("ERROR", "CRITICAL"))
            or " ERROR " in line
            or line.startswith("Traceback")
        ):
            errors += 1
    return changes, errors


def job_records(text: str) -> list[dict[str, Any]]:
    """The change records a job printed (`RECORD: <json object>` lines); a line that is not one
    is left in the log and not taken (a rollback refuses what it cannot read anyway)."""
    found: list[dict[str, Any]] = []
    for line in text.splitlines():
        if line.startswith(RECORD_PREFIX):
            try:
                value = json.loads(line[len(RECORD_PREFIX) :])
            except ValueError:
                continue
            if isinstance(value, dict):
                found.append(value)
    return found


def reports_changes(folder: Path, entry: Path) -> bool:
    """Whether the job says what it changed, so that no `CHANGE:` line means it changed nothing.

    Remedy's own jobs do (they carry `remedy.json` or are written on the kit); a foreign VSS job
    usually fixes its resource without a word, and its silence proves nothing.
    """
    if (folder / METADATA_FILE).is_file():
        return True
    try:
        return bool(_USES_KIT.search(entry.read_text(errors="replace")))
    except OSError:
        return False


@dataclass(frozen=True)
class Attempt:
    """One finished run of a job process, as the runner saw it."""

    job: str
    attempt: int
    verify: bool
    mode: JobMode
    timeout_s: float
    exit_code: int
    timed_out: bool
    duration_s: float
    #: the whole (redacted) output, and the part of it returned as the log tail
    text: str
    tail: str
    #: writes outside the working copy that were refused, described ("" when none)
    refused: str
    output_truncated: bool


def succeeded(attempt: Attempt, changes_reported: bool) -> JobResult | None:
    """The job's result when it exited 0 (and did not time out); None when it failed."""
    if attempt.exit_code != 0 or attempt.timed_out:
        return None
    changes, errors = job_log_summary(attempt.text)
    refused = attempt.refused
    return JobResult(
        job=attempt.job,
        exit_code=0,
        attempt=attempt.attempt,
        duration_s=attempt.duration_s,
        log_tail=attempt.tail,
        changes=changes,
        errors_logged=errors + (1 if refused else 0),  # a refused write it swallowed
        warnings=[refused] if refused else [],
        output_truncated=attempt.output_truncated,
        reports_changes=changes_reported or bool(changes),
        mode=attempt.mode,
        records=job_records(attempt.text),
    )


def failure(attempt: Attempt) -> ApplicationError:
    """The error the workflow gets for a failed attempt, typed for its retry decision."""
    noncompliant = (
        attempt.verify and attempt.exit_code == EXIT_NONCOMPLIANT and not attempt.timed_out
    )
    reason = _failure_reason(attempt, noncompliant)
    sign = None if attempt.timed_out or noncompliant else transient_sign(attempt.text)
    details = JobFailure(
        job=attempt.job,
        exit_code=None if attempt.timed_out else attempt.exit_code,
        attempt=attempt.attempt,
        reason=reason,
        log_tail=attempt.tail,
        transient=sign,
        records=job_records(attempt.text),
    )
    if noncompliant:
        kind = STILL_NONCOMPLIANT
    elif attempt.timed_out:
        kind = "JobTimeout"
    else:
        kind = TRANSIENT_FAILURE if sign else "JobFailed"
    return ApplicationError(reason, details.model_dump(mode="json"), type=kind)


def stopped_failure(attempt: Attempt, why: str) -> ApplicationError:
    """The error for a job stopped because Temporal cancelled its step: not retried, and
    carrying the changes the job printed before it stopped (the workflow lists them)."""
    changes = job_log_summary(attempt.text)[0]
    reason = f"job {attempt.job} was stopped ({why}) after {attempt.duration_s:.1f} s; " + (
        f"changes made before it stopped: {'; '.join(changes)}" if changes else "no change"
    )
    details = JobFailure(
        job=attempt.job,
        exit_code=attempt.exit_code,
        attempt=attempt.attempt,
        reason=reason,
        log_tail=attempt.tail,
        changes=changes,
        records=job_records(attempt.text),
    )
    return ApplicationError(
        reason, details.model_dump(mode="json"), type=JOB_STOPPED, non_retryable=True
    )


def _failure_reason(attempt: Attempt, noncompliant: bool) -> str:
    what = f"{VERIFY_FILE} of job {attempt.job}" if attempt.verify else f"job {attempt.job}"
    lines = attempt.text.splitlines()
    if noncompliant:
        problems = [
            ln[len(NONCOMPLIANT_PREFIX) :].strip()
            for ln in lines
            if ln.startswith(NONCOMPLIANT_PREFIX)
        ]
        return (
            f"{attempt.job} did not fix the resource, it is still "
            f"non-compliant: {'; '.join(problems)[:500] or '(verify.py gave no reason)'}"
        )
    if attempt.timed_out:
        return f"{what} did not finish within {attempt.timeout_s:g} s; its process group was killed"
    code = attempt.exit_code
    how = (
        f"was killed by signal {signal.Signals(-code).name}"
        if code < 0
        else f"exited with code {code}"
    )
    last = next((ln for ln in reversed(lines) if ln.strip()), "(no output)")
    reason = f"{what} {how}: {last[:300]}"
    return f"{reason} ({attempt.refused})" if attempt.refused else reason


class FinishedResults:
    """Results of jobs that exited 0, by attempt key, the oldest dropped past `FINISHED_KEPT`.

    A retry of one of these means its completion never reached Temporal: it is answered, not
    re-run.
    """

    def __init__(self, kept: int = FINISHED_KEPT) -> None:
        self._kept = kept
        self._results: OrderedDict[AttemptKey, JobResult] = OrderedDict()

    def get(self, key: AttemptKey) -> JobResult | None:
        return self._results.get(key)

    def keep(self, key: AttemptKey, result: JobResult) -> None:
        self._results[key] = result
        while len(self._results) > self._kept:
            self._results.popitem(last=False)
