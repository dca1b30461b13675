"""worker/hub_client.py over real HTTP: configured from the environment, registering, heartbeating
(and registering again when the hub forgot the worker), shipping job logs; harmless without a hub."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, select

from hub.models import LogEntry, Worker
from remedy.types import JobInfo
from tests.hub_fixtures import hub_store, make_harness, new_group, plant_run, served, wait_until
from worker.hub_client import JOB_LOGGER, hub_link

JOBS = [JobInfo(name="probe_env", provider="aws", checksum="b" * 64)]


async def test_without_a_hub_url_the_worker_runs_standalone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REMEDY_HUB_URL", raising=False)
    async with hub_link(JOBS, "w1") as link:
        assert link is None
    monkeypatch.setenv("REMEDY_HUB_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("VSS_CLIENT_ID", raising=False)
    with pytest.raises(ValueError, match="VSS_CLIENT_ID or VSS_CLIENT_SECRET"):
        async with hub_link(JOBS, "w1"):
            pass


async def test_an_unreachable_hub_never_stops_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDY_HUB_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("VSS_CLIENT_ID", "rmc_x")
    monkeypatch.setenv("VSS_CLIENT_SECRET", "rms_x")
    async with hub_link(JOBS, "w1", flush_interval_s=0.05) as link:
        assert link is not None
        await asyncio.sleep(0.3)
        assert not link.registered.is_set()


async def test_the_link_registers_heartbeats_and_ships_logs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with hub_store("sqlite", tmp_path, hub_heartbeat_interval_s=0.2) as store:
        h = make_harness(store)
        group = await new_group(h)
        plant_run(h, group.group_id, "run-9")  # the hub takes logs of its group's runs only
        with served(h.app) as url:
            monkeypatch.setenv("REMEDY_HUB_URL", url)
            monkeypatch.setenv("VSS_CLIENT_ID", group.client_id)
            monkeypatch.setenv("VSS_CLIENT_SECRET", group.client_secret)
            job_log = logging.getLogger(JOB_LOGGER)
            level = job_log.level
            job_log.setLevel(logging.INFO)  # the worker's default level
            async with hub_link(JOBS, "w1", group.group_id, flush_interval_s=0.05) as link:
                assert link is not None
                await asyncio.wait_for(link.registered.wait(), 10)
                assert link.heartbeat_interval_s == 0.2
                workers = await h.ok("GET", f"/worker-groups/{group.group_id}/workers")
                assert workers[0]["jobs"][0]["checksum"] == "b" * 64

                def rows() -> list[Worker]:
                    return list(h.hub.db.run(lambda s: s.scalars(select(Worker)).all()))

                h.hub.db.run(lambda s: s.execute(delete(Worker)))  # the hub forgets it
                await wait_until(lambda: _true(bool(rows())), what="registering again")

                for index in range(3):
                    job_log.info(
                        f"job line {index}",
                        extra={"runId": "run-9", "job": "probe_env", "stream": "job"},
                    )
                job_log.info("not a job line", extra={"runId": "run-9"})

                def shipped() -> list[str]:
                    entries = h.hub.db.run(lambda s: s.scalars(select(LogEntry)).all())
                    return [e.text for e in entries]

                await wait_until(lambda: _true(bool(shipped())), what="shipping the log")
            job_log.setLevel(level)
            assert shipped() == ["job line 0\njob line 1\njob line 2"]
            async with httpx.AsyncClient(base_url=url) as api:
                online = await api.get(
                    f"/worker-groups/{group.group_id}/workers",
                    headers={"Authorization": f"Bearer {h.tokens['viewer']}"},
                )
            assert online.json()[0]["state"] == "Online"
        await h.aclose()


async def _true(value: bool) -> bool:
    return value
