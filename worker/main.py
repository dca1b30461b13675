"""A Remedy worker: discover the jobs, then poll the worker group's Temporal task queue."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import socket
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.batch_jobs import BatchJobs
from activities.batch_opt_out import BatchOptOut
from activities.batch_tagging import BatchTagging
from activities.confine import landlock_abi
from activities.credentials import CredentialActivities, CredentialStore
from activities.job_deps import JobEnvs, prepare_job_envs
from activities.job_runner import JobRunner
from activities.launchers import ForkServerLauncher, Launcher, make_launcher
from activities.notify import NotifyActivities
from activities.opt_out import OptOutActivities
from activities.orphans import kill_orphaned_jobs
from activities.process_guard import holds_capabilities, make_undumpable
from activities.securityhub_pull import Deliver, PullActivities
from activities.tagging import TaggingActivities
from activities.validate import ValidationActivities
from activities.write_back import WriteBackActivities
from remedy import tracing
from remedy.config import WorkerSettings
from remedy.job_registry import Registry
from remedy.temporal import ensure_search_attributes, job_task_queue_for, task_queue_for
from worker import job_code_git, own_secrets
from worker.health import HealthServer, Readiness
from worker.hub_client import HubLink, client_from_env, hub_link
from worker.job_code import JobCode
from worker.run_metrics import RunMetrics
from worker.sdk_metrics import SdkMetricsBridge, on_runtime
from workflows.batch import BatchRemediationWorkflow
from workflows.notice import NoticeWorkflow
from workflows.remediation import RemediationWorkflow
from workflows.securityhub_pull import SecurityHubPullWorkflow

log = logging.getLogger("remedy.worker")

UNGUARDED_WARNING = (
    "jobs may read this worker's memory and environment: this system cannot make a process "
    "non-dumpable (prctl PR_SET_DUMPABLE needs Linux)"
)
UNCONFINED_WARNING = (
    "job writes are not confined: this kernel has no Landlock (needs Linux ≥ 5.13 with landlock in "
    "lsm=), or a seccomp profile refuses it; set REMEDY_CONFINE_WRITES=false to silence"
)


@dataclass
class WorkerParts:
    """Everything a worker runs, built once (the tests build the same parts)."""

    #: the versions of the job code it serves (worker/job_code.py)
    job_code: JobCode
    credentials: CredentialStore
    runner: JobRunner
    #: built with the others: it reads the Jira credentials, which leave the environment at start
    notify: NotifyActivities
    validation: ValidationActivities
    #: where pulled findings go: the hub link's delivery, once linked (none: pulls fail)
    deliver_findings: Deliver | None = None

    @property
    def registry(self) -> Registry:
        """The job code new runs are validated with (and pinned to)."""
        return self.job_code.current

    def activities(self) -> list[Callable[..., Any]]:
        return [
            self.validation.validate_finding,
            self.validation.validate_batch,
            CredentialActivities(self.credentials).assume_role,
            self.runner.run_job,
            BatchJobs(self.runner).run_batch_job,
            TaggingActivities(self.credentials).tag_resource,
            BatchTagging(self.credentials).tag_resources,
            OptOutActivities(self.credentials).read_opt_out,
            BatchOptOut(self.credentials).read_opt_out_many,
            self.notify.notify,
            WriteBackActivities(self.credentials).write_back_finding,
            PullActivities(self.credentials, lambda: self.deliver_findings).pull_security_hub,
        ]


def build_parts(settings: WorkerSettings, job_code: Path | None = None) -> WorkerParts:
    own_secrets.register_for_redaction(os.environ)
    source = job_code or settings.job_code
    store = Path(tempfile.mkdtemp(prefix="remedy-job-code-"))
    prepare = functools.partial(prepare_job_envs, envs=job_envs(settings))
    registry = JobCode.load(source, store, prepare)  # a snapshot: it runs after the folder changes
    credentials = CredentialStore(
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL"), reuse_sessions=settings.sts_reuse
    )
    # the job's environment is built from an allow-list (job_env.PASSED_THROUGH); never the
    # worker's secrets
    runner = JobRunner(
        registry,
        credentials,
        output_cap=settings.job_output_cap_bytes,
        tail_bytes=settings.log_tail_bytes,
        launcher=make_launcher(settings.launcher, confine_writes=settings.confine_writes),
    )
    if settings.confine_writes and not landlock_abi():
        log.warning(UNCONFINED_WARNING)
    validation = ValidationActivities(registry, settings.job_code_wait_s)
    versions = JobCode(
        source,
        runner,
        validation,
        keep_versions=settings.job_code_keep_versions,
        store=store,
        prepare=prepare,
    )
    return WorkerParts(
        versions, credentials, runner, NotifyActivities.from_environment(), validation
    )


def job_envs(settings: WorkerSettings) -> JobEnvs:
    """Where jobs' own environments are built, and what they install from."""
    return JobEnvs(
        settings.job_env_dir,
        settings.job_pip_index_url,
        settings.job_pip_extra_index_urls,
        settings.job_pip_find_links,
    )


def log_isolation(unreadable: bool, withdrawn: list[str]) -> None:
    """Say at start which of the layers that keep jobs from the worker's secrets are missing."""
    if not unreadable:
        log.warning(UNGUARDED_WARNING)
    if holds_capabilities():
        log.info(
            "the worker runs with capabilities (as root): each job gives them all up, so that "
            "non-dumpability holds against it; run the worker as an ordinary user where you can"
        )
    log.info("the worker's own secrets left its environment", extra={"variables": withdrawn})


#: how long, at most, a cancel takes to reach a running job (see make_worker)
JOB_CANCEL_DELIVERY = timedelta(seconds=2)


def worker_options(settings: WorkerSettings) -> dict[str, Any]:
    """What every Temporal worker of a Remedy worker shares (the group's, and each version's)."""
    return dict(
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_activity_task_polls=settings.activity_pollers,
        graceful_shutdown_timeout=timedelta(seconds=settings.drain_timeout_s),
        # a cancel reaches a job in the answer to its step's heartbeat: send them every 2 s at
        # most (the SDK would wait 80% of the 30 s heartbeat timeout), so a cancelled or
        # terminated run's job is killed within a few seconds, not half a minute
        max_heartbeat_throttle_interval=JOB_CANCEL_DELIVERY,
        default_heartbeat_throttle_interval=JOB_CANCEL_DELIVERY,
        interceptors=[RunMetrics(), *tracing.temporal_interceptors()],
    )


class GroupWorker:
    """A Remedy worker's Temporal workers: one on the group's task queue (workflows, and every
    activity but the job steps of pinned runs) and one per version of the job code it serves,
    on that version's task queue (worker/job_code.py). Used as `async with`."""

    def __init__(
        self, client: Client, group_id: str, parts: WorkerParts, settings: WorkerSettings
    ) -> None:
        self.client, self.group_id, self.parts = client, group_id, parts
        self.options = worker_options(settings)
        self.group = Worker(
            client,
            task_queue=task_queue_for(group_id),
            workflows=[
                RemediationWorkflow,
                BatchRemediationWorkflow,
                SecurityHubPullWorkflow,
                NoticeWorkflow,
            ],
            activities=parts.activities(),
            max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
            max_concurrent_workflow_task_polls=settings.workflow_pollers,
            **self.options,
        )

    def version_worker(self, version: str, runner: JobRunner) -> Worker:
        return Worker(
            self.client,
            task_queue=job_task_queue_for(self.group_id, version),
            activities=[runner.run_job, BatchJobs(runner).run_batch_job],
            **self.options,
        )

    async def __aenter__(self) -> GroupWorker:
        await self.group.__aenter__()
        await self.parts.job_code.start(self.version_worker)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.parts.job_code.stop()
        finally:
            await self.group.__aexit__(exc_type, exc, tb)


def make_worker(
    client: Client, group_id: str, parts: WorkerParts, settings: WorkerSettings
) -> GroupWorker:
    return GroupWorker(client, group_id, parts, settings)


def fork_server_check(launcher: Launcher) -> Callable[[], str | None]:
    """Readiness's question about the fork server: None when it is up (or not used)."""

    def check() -> str | None:
        if isinstance(launcher, ForkServerLauncher) and launcher.server_pid is None:
            return "the fork server is not up"
        return None

    return check


async def start_launcher(launcher: Launcher) -> None:
    """Start the fork server now, not at the first job; a failure is logged, readiness says it."""
    if isinstance(launcher, ForkServerLauncher):
        try:
            await launcher.start()
        except Exception:  # jobs fall back to the plain launcher; /readyz answers 503 meanwhile
            log.exception("the fork server did not start")


async def serve_health(
    client: Client, settings: WorkerSettings, readiness: Readiness
) -> tuple[Client, HealthServer | None, SdkMetricsBridge | None]:
    """With REMEDY_WORKER_HTTP_PORT set (default 9464): the endpoints, and the client moved onto
    a runtime whose SDK metrics they serve."""
    if not settings.worker_http_port:
        return client, None, None
    bridge = SdkMetricsBridge()
    server = HealthServer(
        settings.worker_http_host,
        settings.worker_http_port,
        asyncio.get_running_loop(),
        readiness,
        extra=[bridge],
    )
    try:
        server.start()
    except OSError as exc:  # e.g. a second worker on this host: it works, unobserved
        log.error(
            "the health and metrics endpoints could not listen on %s:%d (%s); running without "
            "them (set REMEDY_WORKER_HTTP_PORT to a free port, or 0)",
            settings.worker_http_host,
            settings.worker_http_port,
            exc.strerror or exc,
        )
        return client, None, None
    client = await on_runtime(client, bridge.runtime)
    return client, server, bridge


def offer_new_versions(job_code: JobCode, link: HubLink | None) -> None:
    """Each version the worker starts serving is registered with the hub (its jobs, checksums,
    version and Git commit)."""
    if link is None:
        return

    def offer(registry: Registry) -> None:
        link.offer(registry.infos(), registry.version, link.code_commit)

    job_code.on_version.append(offer)


def new_worker_id() -> str:
    return os.environ.get("REMEDY_WORKER_ID") or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


async def run_worker(
    client: Client,
    group_id: str,
    settings: WorkerSettings,
    *,
    job_code: Path | None = None,
    worker_id: str | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until `stop` is set or SIGTERM/SIGINT arrives; in-flight work drains before exit."""
    worker_id = worker_id or new_worker_id()
    unreadable = make_undumpable()  # before anything else: `remedy worker` did it already
    kill_orphaned_jobs()  # jobs left running by a worker that died on this machine
    # REMEDY_JOB_CODE_GIT: the job code is a checkout, cloned or pulled now (else None)
    git = await job_code_git.checkout_at_start(settings)
    parts = build_parts(settings, git.job_code if git else job_code)
    hub = client_from_env()
    parts.deliver_findings = hub.post_findings if hub else None
    parts.credentials.load_own_identity()
    # every part that needs the worker's secrets holds them now: they leave its environment
    withdrawn = own_secrets.withdraw()
    parts.runner.worker_env = {
        k: v for k, v in parts.runner.worker_env.items() if k not in withdrawn
    }
    log_isolation(unreadable, withdrawn)
    if settings.search_attributes:
        await ensure_search_attributes(client)
    tracing.configure("remedy-worker")
    readiness = Readiness(fork_server=fork_server_check(parts.runner.launcher))
    client, health, bridge = await serve_health(client, settings, readiness)
    drain = asyncio.create_task(bridge.drain_forever()) if bridge else None
    reload_now = asyncio.Event()  # SIGHUP: load the job code again
    if stop is None:  # the worker owns its lifetime: SIGTERM / Ctrl-C drain it
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload_now.set)
    # with REMEDY_HUB_URL set: register with the hub, heartbeat, ship job logs (else a no-op)
    async with (
        hub_link(
            parts.registry.infos(),
            worker_id,
            group_id,
            client=hub,
            code_version=parts.registry.version,
        ) as link,
        make_worker(client, group_id, parts, settings),
    ):
        offer_new_versions(parts.job_code, link)
        watching = asyncio.create_task(
            parts.job_code.watch(settings.job_code_reload_s, stop, reload_now)
        )
        pulls = job_code_git.start_pulling(git, link, parts.job_code, stop) if git else None
        # the clients of the worker's own calls, made while the fork server starts
        warming = asyncio.create_task(asyncio.to_thread(parts.credentials.warm_clients))
        await start_launcher(parts.runner.launcher)
        readiness.polling = True
        log.info(
            "Worker started and is waiting for work",
            extra={
                "workerID": worker_id,
                "workerGroupID": group_id,
                "taskQueue": task_queue_for(group_id),
                "jobCodeVersion": parts.registry.version,
                "jobTaskQueue": job_task_queue_for(group_id, parts.registry.version),
                "jobs": len(parts.registry.jobs),
                "jobErrors": len(parts.registry.errors),
            },
        )
        await stop.wait()
        watching.cancel()
        await warming  # a second at most, long done by now
        readiness.draining = True
        log.info(
            "Worker stopping: finishing in-flight work",
            extra={"workerID": worker_id, "workerGroupID": group_id},
        )
    if pulls is not None:  # a pull in flight is abandoned: the next start pulls again
        pulls.cancel()
    await parts.runner.launcher.close()
    if drain is not None:
        drain.cancel()
    if health is not None:
        health.stop()
    tracing.shutdown()
    log.info("Worker stopped", extra={"workerID": worker_id, "workerGroupID": group_id})
