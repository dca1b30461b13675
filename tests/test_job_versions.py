"""Version-pinned runs and reloads without restart (issue 18), on the dev server.

A run is pinned at validation to the version of the job code the validating worker serves; its job
and verify steps run only on a worker serving exactly that version (worker/job_code.py,
workflows/pinned_code.py). Each job here prints the version written into it, so a run's log says
which code ran it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from temporalio.client import Client

from remedy.config import TemporalSettings, WorkerSettings
from remedy.starter import get_status, start_remediation, wait_for_result
from remedy.temporal import connect
from remedy.types import AccountAccess, JobStep, RemediationSpec, RunState, RunStatus, StepState
from sandbox.aws import AwsSandbox
from tests.conftest import DevServer, LogCapture
from tests.findings import aws_finding
from tests.hub_fixtures import hub_store, make_harness, new_group, wait_until
from worker.main import WorkerParts, build_parts, make_worker

JOB = "versioned_job"


def write_job(root: Path, version: str, name: str = JOB) -> None:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(f'print("running job code {version}")\n')
    (folder / "README.md").write_text(f"# {name}\n\nPrints its version.\n")
    (folder / "minimum_policy.json").write_text(
        json.dumps({"Version": "2012-10-17", "Statement": []})
    )


def spec(sandbox: AwsSandbox, job: str = JOB, **options: object) -> RemediationSpec:
    return RemediationSpec(
        steps=[JobStep(job=job, verify=False)],
        access=AccountAccess(role_arn=sandbox.role_arn, external_id=sandbox.external_id),
        tags={"enabled": False},  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


def finding() -> dict[str, object]:
    return aws_finding(f"sg-{uuid.uuid4().hex[:17]}")


def job_log(status: RunStatus) -> str:
    return next(s for s in status.steps if s.kind == "job").log_tail


@contextlib.asynccontextmanager
async def serving(
    client: Client, group: str, job_code: Path, **settings: object
) -> AsyncIterator[WorkerParts]:
    """One worker of `group` on `job_code`, watching it for changes when reload_s is given; its
    own connection, as a worker in another process would have (the SDK refuses two workers of one
    task queue on one client)."""
    worker_settings = WorkerSettings(**settings)  # type: ignore[arg-type]
    parts = build_parts(worker_settings, job_code)
    stop = asyncio.Event()
    own = await connect(TemporalSettings(address=client.service_client.config.target_host))
    async with make_worker(own, group, parts, worker_settings):
        watching = asyncio.create_task(
            parts.job_code.watch(worker_settings.job_code_reload_s, stop)
        )
        try:
            yield parts
        finally:
            stop.set()
            await watching
    await parts.runner.launcher.close()


async def until(client: Client, run_id: str, check: object, timeout_s: float = 60) -> RunStatus:
    for _ in range(int(timeout_s * 10)):
        status = await get_status(client, run_id)
        if check(status):  # type: ignore[operator]
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"{run_id} never got there: {status}")


def job_step_says(text: str) -> object:
    return lambda s: any(text in step.message for step in s.steps if step.kind == "job")


async def test_two_versions_in_one_group_each_run_uses_the_version_it_was_validated_with(
    client: Client, worker_env: AwsSandbox, tmp_path: Path
) -> None:
    group = f"test-{uuid.uuid4().hex[:10]}"
    write_job(tmp_path / "one", "one")
    write_job(tmp_path / "two", "two")
    # the run is validated by the worker of version one, then waits out a grace period
    async with serving(client, group, tmp_path / "one") as one:
        version_one = one.registry.version
        first = await start_remediation(client, finding(), spec(worker_env, grace_s=3), group)
        await until(client, first, lambda s: s.code_version is not None)
    # meanwhile the group's workers are upgraded: only version two serves
    async with serving(client, group, tmp_path / "two") as two:
        version_two = two.registry.version
        assert version_two != version_one
        second = await start_remediation(client, finding(), spec(worker_env), group)
        later = await wait_for_result(client, second)
        assert later.state == RunState.SUCCEEDED, later
        assert later.code_version == version_two
        assert "running job code two" in job_log(later)
        # the first run's job step never lands on the worker of version two: it waits, and says so
        waiting = await until(client, first, job_step_says("waiting for a worker serving"))
        assert waiting.state == RunState.RUNNING
        assert version_one in waiting.steps[3].message, waiting.steps
        # a worker of version one comes back (in the same group, beside version two)
        async with serving(client, group, tmp_path / "one"):
            earlier = await wait_for_result(client, first)
    assert earlier.state == RunState.SUCCEEDED, earlier
    assert earlier.code_version == version_one
    assert earlier.job_checksums[JOB] != later.job_checksums[JOB]
    assert "running job code one" in job_log(earlier)
    assert "running job code two" not in job_log(earlier)


async def test_a_run_whose_version_no_worker_serves_fails_with_the_reason(
    client: Client, worker_env: AwsSandbox, tmp_path: Path
) -> None:
    group = f"test-{uuid.uuid4().hex[:10]}"
    write_job(tmp_path / "one", "one")
    write_job(tmp_path / "two", "two")
    async with serving(client, group, tmp_path / "one") as one:
        version_one = one.registry.version
        run_id = await start_remediation(
            client, finding(), spec(worker_env, grace_s=2, code_wait_s=3), group
        )
        await until(client, run_id, lambda s: s.code_version is not None)
    async with serving(client, group, tmp_path / "two"):
        status = await wait_for_result(client, run_id)
    assert status.state == RunState.FAILED
    job = next(s for s in status.steps if s.kind == "job")
    assert job.state == StepState.FAILED and job.exit_code is None  # it never ran
    assert f"no worker serving job code {version_one}" in status.message
    assert "within 3 s" in status.message and "Start a worker with that job code" in status.message


async def test_a_reload_serves_new_runs_while_runs_in_flight_keep_their_version(
    client: Client, worker_env: AwsSandbox, tmp_path: Path, captured_logs: LogCapture
) -> None:
    group = f"test-{uuid.uuid4().hex[:10]}"
    code = tmp_path / "jobs"
    write_job(code, "one")
    async with serving(client, group, code, job_code_reload_s=0.2) as parts:
        version_one = parts.registry.version
        before = [
            await start_remediation(client, finding(), spec(worker_env, grace_s=4), group)
            for _ in range(3)
        ]
        for run_id in before:
            await until(client, run_id, lambda s: s.code_version is not None)
        write_job(code, "two")  # the job changes on disk while those runs wait
        write_job(code, "two", name="added_job")  # and a job is added
        for _ in range(100):
            if parts.registry.version != version_one:
                break
            await asyncio.sleep(0.1)
        version_two = parts.registry.version
        assert version_two != version_one and "added_job" in parts.registry.jobs
        after = [
            await start_remediation(client, finding(), spec(worker_env), group),
            await start_remediation(client, finding(), spec(worker_env, job="added_job"), group),
        ]
        old = [await wait_for_result(client, run_id) for run_id in before]
        new = [await wait_for_result(client, run_id) for run_id in after]

        # a broken change is refused: the version serving stays, and says why
        (code / "misnamed job").mkdir()
        (code / "misnamed job" / "entry.py").write_text("print('x')\n")
        write_job(code, "three")
        await asyncio.sleep(1.5)
        assert parts.registry.version == version_two
        refused = await wait_for_result(
            client, await start_remediation(client, finding(), spec(worker_env), group)
        )

    for status in old:
        assert status.state == RunState.SUCCEEDED, status
        assert status.code_version == version_one
        assert "running job code one" in job_log(status)
    for status in new:
        assert status.state == RunState.SUCCEEDED, status
        assert status.code_version == version_two
        assert "running job code two" in job_log(status)
    assert "job code reloaded" in captured_logs.text()
    assert "job code change refused" in captured_logs.text()
    assert "misnamed job" in captured_logs.text()
    assert refused.code_version == version_two
    assert "running job code two" in job_log(refused)


async def test_a_reload_registers_the_new_version_with_the_hub(
    client: Client, dev_server: DevServer, tmp_path: Path, hub_worker: Any
) -> None:
    code = tmp_path / "jobs"
    write_job(code, "one")
    temporal = TemporalSettings(address=dev_server.address)
    with hub_store("sqlite", tmp_path) as store:
        harness = make_harness(store, temporal, temporal_client=client)
        try:
            group = await new_group(harness)
            worker = await hub_worker(harness, group, code)
            before = worker.parts.registry.version

            async def registered() -> dict[str, Any]:
                workers = await harness.ok("GET", f"/worker-groups/{group.group_id}/workers")
                return next(w for w in workers if w["worker_id"] == worker.worker_id)

            assert (await registered())["code_version"] == before
            write_job(code, "two")
            assert await worker.parts.job_code.reload("test: the job changed")
            after = worker.parts.registry.version

            async def reregistered() -> bool:
                return (await registered())["code_version"] == after

            await wait_until(reregistered, what="the worker registering its new version")
            jobs = (await registered())["jobs"]
            assert [j["checksum"] for j in jobs if j["name"] == JOB] == [
                worker.parts.registry.jobs[JOB].checksum
            ]
        finally:
            await harness.aclose()
