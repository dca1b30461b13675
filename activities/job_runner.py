"""Run one job the way the VSS worker does: `python <job>/<job>.py '<payload JSON>'`.

A job is untrusted code. Each attempt gets:
- a fresh process in its own process group, stdin closed;
- cwd = a private temporary copy of the job folder, removed afterwards;
- an environment holding only what the contract gives (the run's credentials and region, plus the
  endpoint, CA bundle and proxy variables when configured) and never the worker's own secrets;
- a timeout that kills the whole process group (and the group is killed after a normal exit too,
  so a job cannot leave a grandchild running);
- stdout and stderr merged, capped, redacted, returned as the step's log tail and written line by
  line to the worker's structured log;
- writes confined to its working directory (Landlock, `activities/confine.py`), refused ones named
  in the step's result;
- its mode (remedy/jobkit/modes.py) in `REMEDY_MODE` when it is not remediate, only for a job
  whose remedy.json lists it; for rollback, the change records in a file of the working copy
  named by `REMEDY_RECORDS`. The `RECORD:` lines a job prints are returned with its result;
- a job with a requirements.txt runs in its own environment (activities/job_deps.py, recorded in
  `Registry.envs`): on the fork server when none of the environment's packages is imported there,
  else with the plain launcher and the environment's Python; its first log line says which.

The concerns live beside it: the environment and credentials (`job_env.py`), the working copy
(`working_copy.py`), the process and its output (`job_launch.py`), and what the attempt means:
result, classified failure, kept results for a retry whose completion was lost (`job_results.py`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import batch_jobs
from activities.confine import denied_writes, describe_denied
from activities.credentials import CredentialStore
from activities.job_deps import REQUIREMENTS_FILE, JobEnv
from activities.job_env import cloud_credentials, job_environment
from activities.job_launch import Exited, Output, execute
from activities.job_results import (
    Attempt,
    AttemptKey,
    FinishedResults,
    failure,
    job_log_summary,
    reports_changes,
    stopped_failure,
    succeeded,
)
from activities.launchers import ForkServerLauncher, Launcher, SubprocessLauncher
from activities.orphans import owner_token
from activities.working_copy import working_copy
from remedy.batch_types import BatchJobInput, BatchJobResult
from remedy.job_registry import VERIFY_FILE, Job, ParameterError, Registry, UnknownJobError
from remedy.logs import redact
from remedy.metrics import JOB_DURATION
from remedy.types import JobResult, RunJobInput

log = logging.getLogger("remedy.job")
#: the file of the working copy a rollback reads its change records from
RECORDS_FILE = "remedy-records.json"


def mode_environment(request: RunJobInput, workdir: Path) -> dict[str, str]:
    """REMEDY_MODE (and REMEDY_RECORDS, written into the working copy) for a plan or rollback."""
    if request.verify or request.mode == "remediate":
        return {}
    env: dict[str, str] = {"REMEDY_MODE": request.mode}
    if request.mode == "rollback":
        path = workdir / RECORDS_FILE
        path.write_text(json.dumps(request.records), encoding="utf-8")
        env["REMEDY_RECORDS"] = str(path)
    return env


def _outcome(exited: Exited) -> str:
    if exited.stopped:
        return "stopped"
    if exited.timed_out:
        return "timed_out"
    return "exit_0" if exited.exit_code == 0 else "exit_nonzero"


class JobRunner:
    def __init__(
        self,
        registry: Registry,
        credentials: CredentialStore,
        *,
        output_cap: int = 1_000_000,
        tail_bytes: int = 8_000,
        worker_env: dict[str, str] | None = None,
        launcher: Launcher | None = None,
    ) -> None:
        self.registry = registry
        self.credentials = credentials
        self.launcher: Launcher = launcher or SubprocessLauncher()
        self.plain_launcher = SubprocessLauncher(confine_writes=self.launcher.confine_writes)
        self.owner = owner_token()
        self.output_cap = output_cap
        self.tail_bytes = tail_bytes
        self.worker_env = dict(os.environ if worker_env is None else worker_env)
        self._finished = FinishedResults()
        #: the same for batch processes (activities/batch_jobs.py)
        self.finished_batches = batch_jobs.FinishedBatches()
        #: per job environment: the environment, and whether the fork server can run it
        self._envs: dict[Path, tuple[JobEnv, str | None]] = {}

    def for_registry(self, registry: Registry) -> JobRunner:
        """A runner of another version of the job code, sharing this one's launchers,
        credentials and settings (worker/job_code.py)."""
        other = JobRunner(
            registry,
            self.credentials,
            output_cap=self.output_cap,
            tail_bytes=self.tail_bytes,
            worker_env=self.worker_env,
            launcher=self.launcher,
        )
        other.plain_launcher, other.owner = self.plain_launcher, self.owner
        return other

    @activity.defn(name="run_job")
    async def run_job(self, request: RunJobInput) -> JobResult:
        info = activity.info()
        key: AttemptKey = (info.workflow_id or "", info.workflow_run_id or "", info.activity_id)
        if info.attempt > 1 and (done := self._finished.get(key)) is not None:
            log.warning(
                "this job already finished on this worker but Temporal did not hear of it (its "
                "completion was lost, e.g. while the server was unreachable): reporting that "
                "result again instead of running the job twice",
                extra={"runId": request.run_id, "job": request.job, "attempt": info.attempt},
            )
            return done
        job, entry, parameters = self.resolve(request)
        cloud = await cloud_credentials(self.credentials, request, info.attempt)
        payload = json.dumps({**request.payload, "remediationParameters": parameters})
        launcher, job_env, how = await self.launcher_for(job, request)
        output = Output(self.output_cap, self.tail_bytes)
        if how:
            output.add(f"remedy: {how}\n".encode())
        with working_copy(job.folder) as copy:
            env = job_environment(copy.root, self.worker_env, cloud, request.run_id, self.owner)
            env.update(mode_environment(request, copy.root))
            started = time.monotonic()
            exited = await execute(
                launcher,
                [sys.executable, entry.name, payload],
                copy.folder,
                env,
                request.timeout_s,
                output,
                job_env,
            )
            duration = time.monotonic() - started
        JOB_DURATION.labels(request.job, _outcome(exited)).observe(duration)
        attempt = self._attempt(request, info.attempt, exited, duration, cloud.secrets, copy.root)
        if exited.stopped:
            raise self._stopped(request, attempt, exited.stopped)
        result = succeeded(attempt, reports_changes(job.folder, job.entry))
        if result is None:
            if self.credentials.forget_rejected(
                request.account, request.run_id, cloud, attempt.text
            ):
                log.warning(
                    "the cloud rejected the job's session (expired or invalid): it left the "
                    "cache, the retry assumes the role again",
                    extra={"runId": request.run_id, "job": request.job, "identity": cloud.identity},
                )
            raise failure(attempt)
        self._finished.keep(key, result)
        return result

    @activity.defn(name="run_batch_job")
    async def run_batch_job(self, request: BatchJobInput) -> BatchJobResult:
        """One process of a batch job for many findings (activities/batch_jobs.py)."""
        return await batch_jobs.run_batch_job(self, request)

    def _stopped(self, request: RunJobInput, attempt: Attempt, why: str) -> Exception:
        """Say what a stopped job changed: in the worker's log (shipped to the hub) always, since
        a run that has ended (terminated) can no longer report it, and to the workflow."""
        error = stopped_failure(attempt, why)
        ended = "" if why == "cancelled" else "; its run had ended, so only this log reports them"
        log.warning(
            f"remedy: {error.message}{ended}",
            # stream "job": shipped to the hub with the job's own lines, under the run
            extra={"runId": request.run_id, "job": request.job, "stream": "job", "stopped": why},
        )
        return error

    def resolve(self, request: RunJobInput) -> tuple[Job, Path, dict[str, object]]:
        """The job, the file to run (its entry point or its `verify.py`) and its parameters."""
        try:
            job = self.registry.get(request.job)
            parameters = job.resolve_parameters(request.parameters)
        except (UnknownJobError, ParameterError) as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from None
        if not request.verify and request.mode not in job.modes:
            raise ApplicationError(
                f"job {request.job} does not support the {request.mode} mode (its remedy.json "
                f"lists {', '.join(job.modes)})"
                + (
                    f"; its changes are irreversible: {job.irreversible}"
                    if job.irreversible
                    else ""
                ),
                type="UnsupportedMode",
                non_retryable=True,
            )
        entry = job.verify_entry if request.verify else job.entry
        if entry is None:
            raise ApplicationError(
                f"job {request.job} has no {VERIFY_FILE} on this worker: it cannot verify its fix",
                type="UnknownJob",
                non_retryable=True,
            )
        return job, entry, parameters

    async def launcher_for(
        self, job: Job, request: RunJobInput
    ) -> tuple[Launcher, JobEnv | None, str]:
        """The launcher, the job's own environment (if any) and, then, a line saying which."""
        root = self.registry.envs.get(job.name)
        if root is None:
            if (job.folder / REQUIREMENTS_FILE).is_file():
                raise ApplicationError(
                    f"job {job.name} has a {REQUIREMENTS_FILE} but this worker has not built its "
                    "environment (activities/job_deps.py: prepare_job_envs after discover, as "
                    "worker/main.py does); it was not run with the worker's packages instead",
                    type="JobEnvMissing",
                    non_retryable=True,
                )
            return self.launcher, None, ""
        job_env, clash = await self._job_env(root)
        how = f"the job runs in its own environment {job_env.name}"
        if clash is None:
            how += " on the fork server"
            launcher = self.launcher
        else:
            how += f" with the plain launcher ({clash})"
            launcher = self.plain_launcher
        log.info(how, extra={"runId": request.run_id, "job": request.job, "jobEnv": job_env.name})
        return launcher, job_env, how

    async def _job_env(self, root: Path) -> tuple[JobEnv, str | None]:
        """The environment at `root` and why the fork server cannot run it (None: it can),
        decided once per environment."""
        if root in self._envs:
            return self._envs[root]
        try:
            job_env = JobEnv.read(root)
        except (OSError, ValueError, KeyError):
            raise ApplicationError(
                f"the job's environment {root} is gone (was REMEDY_JOB_ENV_DIR cleaned?): "
                "restart the worker to build it again",
                type="JobEnvMissing",
            ) from None
        clash: str | None = "the worker's launcher is the plain one"
        if isinstance(self.launcher, ForkServerLauncher):
            try:
                await self.launcher.start()
            except Exception as exc:  # the plain launcher then, saying why; asked again next time
                return job_env, f"the fork server is not up: {exc}"
            shadowed = sorted(set(job_env.modules) & self.launcher.preloaded)
            clash = (
                f"the fork server has already imported {', '.join(shadowed)}, which it pins"
                if shadowed
                else None
            )
        self._envs[root] = (job_env, clash)
        return job_env, clash

    def _attempt(
        self,
        request: RunJobInput,
        number: int,
        exited: Exited,
        duration: float,
        secrets: list[str],
        workdir: Path,
    ) -> Attempt:
        """The attempt's redacted output, logged line by line to the worker's log."""
        text = redact(exited.output.text(), secrets)
        fields = {
            "runId": request.run_id,
            "job": request.job,
            "attempt": number,
            **({"verify": True} if request.verify else {}),
            **({"mode": request.mode} if request.mode != "remediate" else {}),
        }
        for line in text.splitlines()[:2000]:
            log.info(line, extra={**fields, "stream": "job"})
        log.info(
            "job finished",
            extra={
                **fields,
                "exitCode": exited.exit_code,
                "durationS": round(duration, 3),
                "changes": len(job_log_summary(text)[0]),
                "timedOut": exited.timed_out,
            },
        )
        return Attempt(
            job=request.job,
            attempt=number,
            verify=request.verify,
            mode=request.mode,
            timeout_s=request.timeout_s,
            exit_code=exited.exit_code,
            timed_out=exited.timed_out,
            duration_s=duration,
            text=text,
            tail=text[-self.tail_bytes :],
            refused=describe_denied(denied_writes(text, str(workdir))),
            output_truncated=exited.output.dropped > 0,
        )
