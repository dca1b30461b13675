"""One job process for a batch of findings (remedy/batch_protocol.py): the worker's side.

Everything a one-finding attempt gets (activities/job_runner.py: a private working copy, an
environment with only the contract's variables, the run's credentials assumed once, a timeout
that kills the process group, the confinement of writes, a redacted log) the batch gets once;
the batch is written to `remedy-batch.json` in the working copy and named in `REMEDY_BATCH`, and
`sys.argv[1]` is the first member's payload.

What comes back is per member: its exit code, its own log lines (and the batch's shared lines
when it failed), its changes and change records, and, for a failure, the reason and whether it
looks transient, worded as a one-finding attempt's would be (activities/job_results.py). A member
the process never finished (it crashed or timed out before the member's `EXIT` line) fails alone
with the process's reason. The activity itself fails only when the batch cannot run at all (an
unknown job, a job that does not take batches, credentials unavailable): then every member
shares that failure, and the workflow says so for each.

A batch process that finished on this worker is not run again for a retry of the same activity
(its completion was lost, e.g. in a Temporal outage): the retry is answered with the kept result
(`FinishedBatches`, as `run_job` does with `job_results.FinishedResults`), so each member's changes
stay the ones the one process made.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.confine import denied_writes, describe_denied
from activities.job_env import cloud_credentials
from activities.job_launch import Exited
from activities.job_results import (
    Attempt,
    AttemptKey,
    failure,
    job_log_summary,
    job_records,
    reports_changes,
    stopped_failure,
)
from activities.job_runner import JobRunner
from remedy.batch_protocol import BATCH_FILE, BATCH_VARIABLE, split_output
from remedy.batch_types import BatchJobInput, BatchJobResult, MemberResult
from remedy.logs import redact
from remedy.types import RunJobInput

log = logging.getLogger("remedy.job")
#: each member's log tail at most (a batch's result carries every member's)
MEMBER_TAIL_CHARS = 2_000
#: finished batches' results kept for answering a retry whose completion was lost, counted in
#: members: 16 MB at most with the members' 2 KB log tails, as much as run_job keeps
FINISHED_MEMBERS_KEPT = 8_000


class FinishedBatches:
    """Results of the batch processes this worker finished, by attempt key, the oldest dropped
    once they hold more than `FINISHED_MEMBERS_KEPT` members.

    A retry of one of these means its completion never reached Temporal (an outage): it is
    answered with the same result, not run again (each member's changes stay the ones the one
    process made, not "no change needed" from a second).
    """

    def __init__(self, members_kept: int = FINISHED_MEMBERS_KEPT) -> None:
        self._kept = members_kept
        self._members = 0
        self._results: OrderedDict[AttemptKey, BatchJobResult] = OrderedDict()

    def get(self, key: AttemptKey) -> BatchJobResult | None:
        return self._results.get(key)

    def keep(self, key: AttemptKey, result: BatchJobResult) -> None:
        if (old := self._results.pop(key, None)) is not None:
            self._members -= len(old.members)
        self._results[key] = result
        self._members += len(result.members)
        while self._members > self._kept and len(self._results) > 1:
            self._members -= len(self._results.popitem(last=False)[1].members)


def as_single(request: BatchJobInput) -> RunJobInput:
    """The one-finding request the runner's checks and credentials take (the batch's first
    finding, the batch's id for the session name)."""
    return RunJobInput(
        job=request.job,
        parameters=request.parameters,
        payload=request.members[0].payload,
        account=request.account,
        run_id=request.batch_id,
        timeout_s=request.timeout_s,
        verify=request.verify,
    )


class BatchJobs:
    """The `run_batch_job` activity of a runner (one per version of the job code served)."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        self.finished = FinishedBatches()

    @activity.defn(name="run_batch_job")
    async def run_batch_job(self, request: BatchJobInput) -> BatchJobResult:
        info = activity.info()
        key: AttemptKey = (info.workflow_id or "", info.workflow_run_id or "", info.activity_id)
        if info.attempt > 1 and (done := self.finished.get(key)) is not None:
            log.warning(
                "this batch job already finished on this worker but Temporal did not hear of it "
                "(its completion was lost, e.g. while the server was unreachable): reporting that "
                "result again instead of running the batch twice",
                extra={
                    "runId": request.batch_id,
                    "job": request.job,
                    "attempt": info.attempt,
                    "members": len(done.members),
                },
            )
            return done
        result = await run_batch_job(self.runner, request)
        self.finished.keep(key, result)
        return result


async def run_batch_job(runner: JobRunner, request: BatchJobInput) -> BatchJobResult:
    info = activity.info()
    single = as_single(request)
    job, entry, parameters = runner.resolve(single)
    if not job.batch:
        raise ApplicationError(
            f"job {request.job} does not take batches (its remedy.json does not say "
            '"batch": true): run its findings one by one',
            type="NotABatchJob",
            non_retryable=True,
        )
    cloud = await cloud_credentials(runner.credentials, single, info.attempt)
    members = [
        {"key": m.run_id, "payload": {**m.payload, "remediationParameters": parameters}}
        for m in request.members
    ]

    def batch_file(root: Path) -> dict[str, str]:
        path = root / BATCH_FILE
        path.write_text(json.dumps(members), encoding="utf-8")
        return {BATCH_VARIABLE: str(path)}

    first = json.dumps(members[0]["payload"])
    exited, duration, root = await runner.launch(
        job, entry, single, cloud, first, batch_file, output_cap=runner.output_cap * 4
    )
    refused = describe_denied(denied_writes(exited.output.text(), str(root)))
    text = redact(exited.output.text(), cloud.secrets)
    split = split_output(text, len(request.members))
    _log_lines(request, split.shared, request.batch_id, info.attempt)
    results = []
    for index, member in enumerate(request.members):
        said = split.members[index]
        _log_lines(request, said.lines, member.run_id, info.attempt)
        results.append(
            _member_result(request, member.run_id, said.lines, said.exit_code, split.shared, exited)
        )
    if exited.stopped:  # cancelled: what the members changed so far, in the failure
        whole = _attempt(request, info.attempt, exited, duration, text, refused)
        raise stopped_failure(whole, exited.stopped)
    log.info(
        "batch job finished",
        extra={
            "runId": request.batch_id,
            "job": request.job,
            "attempt": info.attempt,
            "members": len(results),
            "failed": sum(1 for r in results if r.exit_code != 0),
            "exitCode": exited.exit_code,
            "durationS": round(duration, 3),
            **({"verify": True} if request.verify else {}),
        },
    )
    return BatchJobResult(
        job=request.job,
        attempt=info.attempt,
        duration_s=duration,
        exit_code=None if exited.timed_out else exited.exit_code,
        members=results,
        reports_changes=reports_changes(job.folder, job.entry),
        warnings=[refused] if refused else [],
    )


def _attempt(
    request: BatchJobInput, number: int, exited: Exited, duration: float, text: str, refused: str
) -> Attempt:
    return Attempt(
        job=request.job,
        attempt=number,
        verify=request.verify,
        mode="remediate",
        timeout_s=request.timeout_s,
        exit_code=exited.exit_code,
        timed_out=exited.timed_out,
        duration_s=duration,
        text=text,
        tail=text[-MEMBER_TAIL_CHARS:],
        refused=refused,
        output_truncated=exited.output.dropped > 0,
    )


def _member_result(
    request: BatchJobInput,
    run_id: str,
    lines: list[str],
    exit_code: int | None,
    shared: list[str],
    exited: Exited,
) -> MemberResult:
    own = "\n".join(lines)
    changes, errors = job_log_summary(own)
    if exit_code == 0:
        return MemberResult(
            run_id=run_id,
            exit_code=0,
            log_tail=own[-MEMBER_TAIL_CHARS:],
            changes=changes,
            records=job_records(own),
            errors_logged=errors,
        )
    # failed, or never finished: worded as a one-finding attempt's failure would be
    unfinished = exit_code is None
    text = "\n".join([*lines, *shared]) if unfinished else own
    attempt = Attempt(
        job=request.job,
        attempt=1,
        verify=request.verify,
        mode="remediate",
        timeout_s=request.timeout_s,
        exit_code=exited.exit_code if exit_code is None else exit_code,
        timed_out=exited.timed_out if unfinished else False,
        duration_s=0.0,
        text=text,
        tail=text[-MEMBER_TAIL_CHARS:],
        refused="",
        output_truncated=False,
    )
    error = failure(attempt)
    details = error.details[0] if error.details and isinstance(error.details[0], dict) else {}
    reason = error.message
    if unfinished:
        reason = f"the batch's process ended before this finding was done: {reason}"
    return MemberResult(
        run_id=run_id,
        exit_code=exit_code,
        log_tail=text[-MEMBER_TAIL_CHARS:],
        changes=changes,
        records=job_records(own),
        errors_logged=errors,
        reason=reason,
        transient=details.get("transient"),
    )


def _log_lines(request: BatchJobInput, lines: list[str], run_id: str, attempt: int) -> None:
    """A member's lines under its own run id (shipped to the hub with the run's log)."""
    fields = {
        "runId": run_id,
        "job": request.job,
        "attempt": attempt,
        "batchId": request.batch_id,
        **({"verify": True} if request.verify else {}),
    }
    for line in lines[:500]:
        log.info(line, extra={**fields, "stream": "job"})
