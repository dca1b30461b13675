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
  in the step's result.

A failure is classified for the workflow: `JobTransientFailure` when the log shows the cloud was
unreachable or throttling (`activities/transient.py`), `StillNonCompliant` when a `verify.py` says
so, `JobTimeout`, else `JobFailed`. A retry of a job that already exited 0 here (its completion
lost in a Temporal outage) gets the kept result instead of a second run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.confine import denied_writes, describe_denied
from activities.credentials import CredentialStore
from activities.launchers import Launched, Launcher, SubprocessLauncher
from activities.orphans import OWNER_VARIABLE, owner_token
from activities.transient import transient_sign
from remedy.logs import redact
from remedy.types import (
    EXIT_NONCOMPLIANT,
    STILL_NONCOMPLIANT,
    TRANSIENT_FAILURE,
    JobFailure,
    JobResult,
    RunJobInput,
)
from worker.registry import VERIFY_FILE, ParameterError, Registry, UnknownJobError

log = logging.getLogger("remedy.job")

PASSED_THROUGH = (
    "AWS_ENDPOINT_URL",
    "AWS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_RESOURCE_MANAGER_ENDPOINT",
)
CHANGE_PREFIX = "CHANGE: "
NONCOMPLIANT_PREFIX = "NONCOMPLIANT: "
KILL_GRACE_S = 3.0
#: finished jobs' results kept for answering a retry whose first completion was lost: 16 MB at
#: most with the default 8 KB log tail; at 10 jobs/s that reaches 200 s back
FINISHED_KEPT = 2_000
HEARTBEAT_EVERY_S = 5.0
READ_CHUNK = 65536


@dataclass
class Output:
    """A job's merged output: the first `cap` bytes and the last `tail` bytes kept, the rest counted."""

    cap: int
    tail: int = 8_000
    kept: bytearray = field(default_factory=bytearray)
    last: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.cap - len(self.kept)
        if room > 0:
            self.kept.extend(chunk[:room])
            chunk = chunk[room:]
        if chunk:
            self.last.extend(chunk)
            del self.last[: max(0, len(self.last) - self.tail)]

    @property
    def dropped(self) -> int:
        return self.total - len(self.kept) - len(self.last)

    def text(self) -> str:
        body = self.kept.decode("utf-8", errors="replace")
        if self.dropped:
            body += f"\n[remedy: {self.dropped} bytes of output were discarded here]\n"
        return body + self.last.decode("utf-8", errors="replace")


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def base_environment(workdir: Path, worker_env: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": worker_env.get("PATH", os.defpath),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update({name: worker_env[name] for name in PASSED_THROUGH if worker_env.get(name)})
    return env


def job_log_summary(text: str) -> tuple[list[str], int]:
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
        #: results of jobs that exited 0, by (workflow, run, activity): a retry of one of these
        #: means its completion never reached Temporal (an outage); it is answered, not re-run
        self._finished: OrderedDict[tuple[str, str, str], JobResult] = OrderedDict()

    @activity.defn(name="run_job")
    async def run_job(self, request: RunJobInput) -> JobResult:
        info = activity.info()
        key = (info.workflow_id or "", info.workflow_run_id or "", info.activity_id)
        if info.attempt > 1 and (done := self._finished.get(key)) is not None:
            log.warning(
                "this job already finished on this worker but Temporal did not hear of it (its "
                "completion was lost, e.g. while the server was unreachable): reporting that "
                "result again instead of running the job twice",
                extra={"runId": request.run_id, "job": request.job, "attempt": info.attempt},
            )
            return done
        try:
            job = self.registry.get(request.job)
            parameters = job.resolve_parameters(request.parameters)
        except (UnknownJobError, ParameterError) as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from None
        entry = job.verify_entry if request.verify else job.entry
        if entry is None:
            raise ApplicationError(
                f"job {request.job} has no {VERIFY_FILE} on this worker: it cannot verify its fix",
                type="UnknownJob",
                non_retryable=True,
            )
        try:
            cloud_env, secrets = await asyncio.to_thread(
                self.credentials.job_env, request.account, request.run_id
            )
        except ApplicationError:
            raise
        except Exception as exc:  # the STS / Entra ID endpoint down or throttling: not the job's
            raise ApplicationError(
                f"could not get credentials for account {request.account.account_id}: "
                f"{redact(str(exc))[:300]}",
                JobFailure(
                    job=request.job,
                    exit_code=None,
                    attempt=info.attempt,
                    reason="credentials unavailable",
                    log_tail="",
                    transient=f"the credential endpoint failed ({type(exc).__name__})",
                ).model_dump(mode="json"),
                type=TRANSIENT_FAILURE,
            ) from None
        payload = json.dumps({**request.payload, "remediationParameters": parameters})
        workdir = Path(tempfile.mkdtemp(prefix=f"remedy-{job.folder.name}-"))
        try:
            copy = workdir / job.folder.name
            shutil.copytree(job.folder, copy, ignore=shutil.ignore_patterns("__pycache__"))
            env = base_environment(workdir, self.worker_env)
            env.update(cloud_env)
            env["REMEDY_RUN_ID"] = request.run_id
            env[OWNER_VARIABLE] = self.owner  # lets a restarted worker find a dead worker's jobs
            started = time.monotonic()
            launcher = self.launcher
            if (job.folder / "requirements.txt").exists() and launcher.name != "subprocess":
                # its own dependencies may differ from the pre-imported ones
                log.info(
                    "job has its own requirements.txt: using the plain launcher",
                    extra={"runId": request.run_id, "job": request.job},
                )
                launcher = self.plain_launcher
            exit_code, output, timed_out = await self._execute(
                launcher, [sys.executable, entry.name, payload], copy, env, request.timeout_s
            )
            duration = time.monotonic() - started
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

        text = redact(output.text(), secrets)
        changes, errors = job_log_summary(text)
        refused = describe_denied(denied_writes(text, str(workdir)))
        tail = text[-self.tail_bytes :]
        fields = {
            "runId": request.run_id,
            "job": request.job,
            "attempt": info.attempt,
            **({"verify": True} if request.verify else {}),
        }
        for line in text.splitlines()[:2000]:
            log.info(line, extra={**fields, "stream": "job"})
        log.info(
            "job finished",
            extra={
                **fields,
                "exitCode": exit_code,
                "durationS": round(duration, 3),
                "changes": len(changes),
                "timedOut": timed_out,
            },
        )
        what = f"{VERIFY_FILE} of job {request.job}" if request.verify else f"job {request.job}"
        noncompliant = request.verify and exit_code == EXIT_NONCOMPLIANT and not timed_out
        if noncompliant:
            problems = [
                ln[len(NONCOMPLIANT_PREFIX) :].strip()
                for ln in text.splitlines()
                if ln.startswith(NONCOMPLIANT_PREFIX)
            ]
            reason = (
                f"{request.job} did not fix the resource, it is still "
                f"non-compliant: {'; '.join(problems)[:500] or '(verify.py gave no reason)'}"
            )
        elif timed_out:
            reason = (
                f"{what} did not finish within {request.timeout_s:g} s; its process "
                "group was killed"
            )
        elif exit_code != 0:
            how = (
                f"was killed by signal {signal.Signals(-exit_code).name}"
                if exit_code < 0
                else f"exited with code {exit_code}"
            )
            last = next((ln for ln in reversed(text.splitlines()) if ln.strip()), "(no output)")
            reason = f"{what} {how}: {last[:300]}"
            if refused:
                reason += f" ({refused})"
        else:
            result = JobResult(
                job=request.job,
                exit_code=0,
                attempt=info.attempt,
                duration_s=duration,
                log_tail=tail,
                changes=changes,
                errors_logged=errors + (1 if refused else 0),  # a refused write it swallowed
                warnings=[refused] if refused else [],
                output_truncated=output.dropped > 0,
            )
            self._finished[key] = result
            while len(self._finished) > FINISHED_KEPT:
                self._finished.popitem(last=False)
            return result
        sign = None if timed_out or noncompliant else transient_sign(text)
        failure = JobFailure(
            job=request.job,
            exit_code=None if timed_out else exit_code,
            attempt=info.attempt,
            reason=reason,
            log_tail=tail,
            transient=sign,
        )
        if noncompliant:
            kind = STILL_NONCOMPLIANT
        elif timed_out:
            kind = "JobTimeout"
        else:
            kind = TRANSIENT_FAILURE if sign else "JobFailed"
        raise ApplicationError(reason, failure.model_dump(mode="json"), type=kind)

    async def _execute(
        self, launcher: Launcher, argv: list[str], cwd: Path, env: dict[str, str], timeout_s: float
    ) -> tuple[int, Output, bool]:
        job = await launcher.launch(argv, cwd, env)
        output = Output(self.output_cap, self.tail_bytes)
        reader = asyncio.create_task(self._read(job, output))
        heartbeat = asyncio.create_task(self._heartbeat(output))
        timed_out = False
        try:
            await asyncio.wait_for(self._until_exit(job, reader), timeout=timeout_s)
        except TimeoutError:
            timed_out = True
            kill_group(job.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._until_exit(job, reader), KILL_GRACE_S)
        finally:
            # Always: the job's group goes (grandchildren included), even on cancellation, which
            # also closes any pipe a grandchild held, so the reader ends.
            kill_group(job.pid, signal.SIGKILL)
            heartbeat.cancel()
            try:
                await asyncio.wait_for(reader, KILL_GRACE_S)
            except TimeoutError:
                reader.cancel()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.exited.wait(), KILL_GRACE_S)
            job.close()
        return (job.returncode if job.returncode is not None else -9), output, timed_out

    @staticmethod
    async def _until_exit(job: Launched, reader: asyncio.Task[None]) -> None:
        """Return once the job process has exited (its output may still be draining)."""
        exited = asyncio.ensure_future(job.exited.wait())
        try:
            await asyncio.wait({exited, reader}, return_when=asyncio.FIRST_COMPLETED)
            await exited  # output closed first: the exit follows
        finally:
            exited.cancel()

    @staticmethod
    async def _read(job: Launched, output: Output) -> None:
        while chunk := await job.stdout.read(READ_CHUNK):
            output.add(chunk)

    @staticmethod
    async def _heartbeat(output: Output) -> None:
        while True:  # the task copies the activity's context, so heartbeat() reaches Temporal
            activity.heartbeat(output.total)
            await asyncio.sleep(HEARTBEAT_EVERY_S)
