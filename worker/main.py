"""A Remedy worker: discover the jobs, then poll the worker group's Temporal task queue."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.confine import landlock_abi
from activities.credentials import CredentialActivities, CredentialStore
from activities.job_runner import JobRunner
from activities.launchers import make_launcher
from activities.notify import NotifyActivities
from activities.orphans import kill_orphaned_jobs
from activities.tagging import TaggingActivities
from activities.validate import ValidationActivities
from remedy.config import WorkerSettings
from remedy.job_registry import Registry, discover
from remedy.logs import register_secret
from remedy.temporal import ensure_search_attributes, task_queue_for
from worker.hub_client import hub_link
from workflows.remediation import RemediationWorkflow

log = logging.getLogger("remedy.worker")

#: The worker's own secrets: registered for redaction, never passed to a job.
SECRET_VARIABLES = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_CLIENT_SECRET",
    "VSS_CLIENT_SECRET",
    "TEMPORAL_API_KEY",
    "JIRA_API_TOKEN",
    "JIRA_TOKEN",
    "REMEDY_PAYLOAD_KEY",
    "REMEDY_PAYLOAD_OLD_KEYS",
)

UNCONFINED_WARNING = (
    "job writes are not confined: this kernel has no Landlock (needs Linux ≥ 5.13 with landlock in "
    "lsm=), or a seccomp profile refuses it; set REMEDY_CONFINE_WRITES=false to silence"
)


@dataclass
class WorkerParts:
    """Everything a worker runs, built once (the tests build the same parts)."""

    registry: Registry
    credentials: CredentialStore
    runner: JobRunner

    def activities(self) -> list[Callable[..., Any]]:
        return [
            ValidationActivities(self.registry).validate_finding,
            CredentialActivities(self.credentials).assume_role,
            self.runner.run_job,
            TaggingActivities(self.credentials).tag_resource,
            NotifyActivities.from_environment().notify,
        ]


def build_parts(settings: WorkerSettings, job_code: Path | None = None) -> WorkerParts:
    for name in SECRET_VARIABLES:
        register_secret(os.environ.get(name))
        for value in os.environ.get(name, "").split(","):  # the old payload keys are a list
            register_secret(value.strip() or None)
    registry = discover(job_code or settings.job_code)
    credentials = CredentialStore(endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
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
    return WorkerParts(registry, credentials, runner)


#: how long, at most, a cancel takes to reach a running job (see make_worker)
JOB_CANCEL_DELIVERY = timedelta(seconds=2)


def make_worker(
    client: Client, group_id: str, parts: WorkerParts, settings: WorkerSettings
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue_for(group_id),
        workflows=[RemediationWorkflow],
        activities=parts.activities(),
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        max_concurrent_activity_task_polls=settings.activity_pollers,
        max_concurrent_workflow_task_polls=settings.workflow_pollers,
        graceful_shutdown_timeout=timedelta(seconds=30),
        # a cancel reaches a job in the answer to its step's heartbeat: send them every 2 s at
        # most (the SDK would wait 80% of the 30 s heartbeat timeout), so a cancelled or
        # terminated run's job is killed within a few seconds, not half a minute
        max_heartbeat_throttle_interval=JOB_CANCEL_DELIVERY,
        default_heartbeat_throttle_interval=JOB_CANCEL_DELIVERY,
    )


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
    kill_orphaned_jobs()  # jobs left running by a worker that died on this machine
    parts = build_parts(settings, job_code)
    if settings.search_attributes:
        await ensure_search_attributes(client)
    if stop is None:  # the worker owns its lifetime: SIGTERM / Ctrl-C drain it
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    # with REMEDY_HUB_URL set: register with the hub, heartbeat, ship job logs (else a no-op)
    async with (
        make_worker(client, group_id, parts, settings),
        hub_link(parts.registry.infos(), worker_id, group_id),
    ):
        log.info(
            "Worker started and is waiting for work",
            extra={
                "workerID": worker_id,
                "workerGroupID": group_id,
                "taskQueue": task_queue_for(group_id),
                "jobs": len(parts.registry.jobs),
                "jobErrors": len(parts.registry.errors),
            },
        )
        await stop.wait()
        log.info(
            "Worker stopping: finishing in-flight work",
            extra={"workerID": worker_id, "workerGroupID": group_id},
        )
    await parts.runner.launcher.close()
    log.info("Worker stopped", extra={"workerID": worker_id, "workerGroupID": group_id})
