"""The worker's job code as a living thing: versions, snapshots, reloads.

Each load of the job-code directory becomes a *version* (`Registry.version`, a hash over every
job's checksum). Its job folders are copied into a private snapshot first, so the version can
still run after the directory changed on disk, and the version gets its own Temporal worker on
its own task queue (`remedy.temporal.job_task_queue_for`): the runs validated with it send their
job and verify steps there and nowhere else (workflows/pinned_code.py).

A reload (the directory changed, SIGHUP, a Git pull) discovers the directory again. A change
that breaks a job (a misnamed folder, invalid metadata, an error not there before) is refused
and logged, and the current version keeps serving; otherwise the new version starts serving new
runs while the older ones keep their task queues for the runs pinned to them (the newest
`keep_versions` are kept; an older one drains, then stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from temporalio.worker import Worker

from activities.job_runner import JobRunner
from activities.validate import ValidationActivities
from remedy.job_registry import Registry, discover, folder_checksum

log = logging.getLogger("remedy.worker.job_code")

#: builds the Temporal worker of one version's task queue around its job runner
VersionWorkerFactory = Callable[[str, JobRunner], Worker]
#: told of each version the worker starts serving (the hub link re-registers)
OnVersion = Callable[[Registry], None]
#: what each load goes through after its snapshot: the jobs' own environments are built
#: (activities/job_deps.py prepare_job_envs; a job whose requirements cannot be installed
#: becomes an error)
Prepare = Callable[[Registry], Registry]


def unprepared(registry: Registry) -> Registry:
    return registry


class ChangedWhileCopying(RuntimeError):
    """A job folder changed between its discovery and its copy: load again."""


def fingerprint(root: Path) -> str:
    """Cheap: names, sizes and modification times of every file under `root` (not contents)."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".git"))
        for name in sorted(files):
            path = os.path.join(folder, name)
            with contextlib.suppress(OSError):
                st = os.stat(path)
                digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def snapshot(source: Path, store: Path) -> Registry:
    """Discover `source` and copy its jobs into `store/<version>`: the registry returned runs
    them from the copy (its messages still name `source`)."""
    found = discover(source)
    target = store / found.version
    if not target.exists():
        partial = Path(tempfile.mkdtemp(prefix=f".{found.version}-", dir=store))
        for folder in {job.folder for job in found.jobs.values()}:
            shutil.copytree(
                folder, partial / folder.name, ignore=shutil.ignore_patterns("__pycache__")
            )
        partial.rename(target)
    jobs = {}
    for name, job in found.jobs.items():
        copy = target / job.folder.name
        jobs[name] = dataclasses.replace(job, folder=copy)
    for job in {j.folder: j for j in jobs.values() if j.alias_of is None}.values():
        if folder_checksum(job.folder) != job.checksum:
            shutil.rmtree(target, ignore_errors=True)
            raise ChangedWhileCopying(job.name)
    return Registry(root=source, jobs=jobs, errors=found.errors, warnings=found.warnings)


@dataclasses.dataclass
class Version:
    registry: Registry
    runner: JobRunner
    worker: Worker
    task: asyncio.Task[None]


class JobCode:
    """The versions of the job code one worker serves; `current` validates new runs."""

    def __init__(
        self,
        source: Path,
        runner: JobRunner,
        validation: ValidationActivities,
        *,
        keep_versions: int = 3,
        store: Path,
        prepare: Prepare = unprepared,
    ) -> None:
        self.source = source
        #: the worker's runner: the group's queue (runs validated before versions) and the
        #: template every version's runner is made from
        self.runner = runner
        self.validation = validation
        self.keep_versions = max(1, keep_versions)
        #: the snapshots (made by `load` at start, then by each reload); removed at stop
        self.store = store
        self.prepare = prepare
        self.current: Registry = runner.registry
        self.versions: dict[str, Version] = {}
        self.on_version: list[OnVersion] = []
        self._make_worker: VersionWorkerFactory | None = None
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()
        #: the errors the last change brought, when it was refused (else empty)
        self.refused: list[str] = []
        self._seen = fingerprint(source) if source.is_dir() else ""

    @staticmethod
    def load(source: Path, store: Path, prepare: Prepare = unprepared) -> Registry:
        """A load: at start (before the worker's parts exist), and at each reload."""
        for _ in range(5):
            with contextlib.suppress(ChangedWhileCopying):
                return prepare(snapshot(source, store))
        return prepare(discover(source))  # changing all the time: serve it in place

    async def start(self, make_worker: VersionWorkerFactory) -> None:
        """Serve the current version on its task queue."""
        self._make_worker = make_worker
        await self._serve(self.current)

    async def stop(self) -> None:
        """Stop every version's worker (each drains its jobs) and drop the snapshots."""
        versions, self.versions = list(self.versions.values()), {}
        await asyncio.gather(*(self._retire(v) for v in versions), *self._retiring)
        shutil.rmtree(self.store, ignore_errors=True)

    async def _serve(self, registry: Registry) -> None:
        if registry.version in self.versions or self._make_worker is None:
            return
        runner = self.runner.for_registry(registry)
        worker = self._make_worker(registry.version, runner)
        task = asyncio.create_task(worker.run(), name=f"job code {registry.version}")
        self.versions[registry.version] = Version(registry, runner, worker, task)
        for tell in self.on_version:
            tell(registry)

    async def _retire(self, version: Version) -> None:
        with contextlib.suppress(Exception):
            await version.worker.shutdown()  # waits for its jobs (the drain timeout)
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await version.task
        if version.registry.version != self.current.version:
            shutil.rmtree(self.store / version.registry.version, ignore_errors=True)

    def changed(self) -> bool:
        """Has anything under the directory changed since the last look?"""
        now = fingerprint(self.source) if self.source.is_dir() else ""
        changed, self._seen = now != self._seen, now
        return changed

    async def reload(self, reason: str) -> bool:
        """Load the directory again; True when a new version now serves new runs."""
        async with self._lock:
            try:  # in a thread: a job's requirements may take pip a while
                fresh = await asyncio.to_thread(
                    lambda: self.prepare(snapshot(self.source, self.store))
                )
            except (ChangedWhileCopying, OSError) as exc:
                log.warning(
                    "job code reload postponed: %s changed while it was read (%s)", self.source, exc
                )
                return False
            new_errors = sorted(set(fresh.errors) - set(self.current.errors))
            self.refused = new_errors
            if new_errors:
                log.error(
                    "job code change refused: version %s keeps serving; fix the job-code "
                    "directory and the next change is tried again",
                    self.current.version,
                    extra={"jobCode": str(self.source), "errors": new_errors, "reason": reason},
                )
                return False
            if fresh.version == self.current.version:
                return False
            before, self.current = self.current, fresh
            self.validation.registry = fresh  # new runs are validated with (pinned to) it
            self.runner.registry = fresh  # steps of runs from before versions
            await self._serve(fresh)
            log.info(
                "job code reloaded: new runs use version %s; runs pinned to earlier versions "
                "finish on them",
                fresh.version,
                extra={
                    "reason": reason,
                    "previous": before.version,
                    "added": sorted(set(fresh.jobs) - set(before.jobs)),
                    "removed": sorted(set(before.jobs) - set(fresh.jobs)),
                    "changed": sorted(
                        n
                        for n in set(fresh.jobs) & set(before.jobs)
                        if fresh.jobs[n].checksum != before.jobs[n].checksum
                    ),
                },
            )
            await self._retire_old()
            return True

    async def _retire_old(self) -> None:
        while len(self.versions) > self.keep_versions:
            oldest = next(iter(self.versions))
            version = self.versions.pop(oldest)
            log.info(
                "job code version %s no longer served (older than the newest %d)",
                oldest,
                self.keep_versions,
            )
            self._retiring.add(asyncio.create_task(self._retire(version)))

    async def watch(
        self, interval_s: float, stop: asyncio.Event, wake: asyncio.Event | None = None
    ) -> None:
        """Reload when the directory has changed and then held still for one interval, or when
        `wake` is set (SIGHUP)."""
        wake = wake or asyncio.Event()
        pending = False
        while not stop.is_set():
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
            await asyncio.wait(waits, timeout=interval_s, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
            if stop.is_set():
                return
            if wake.is_set():
                wake.clear()
                self.changed()
                pending = False
                await self.reload("asked to (SIGHUP)")
                continue
            moved = await asyncio.to_thread(self.changed)
            if moved:
                pending = True  # wait for it to hold still
            elif pending:
                pending = False
                await self.reload(f"{self.source} changed")
