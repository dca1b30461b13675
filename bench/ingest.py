"""Ingest speed: findings per second into the hub, on SQLite and PostgreSQL; triage speed.

For each store (a SQLite file; a fresh schema of the PostgreSQL at 127.0.0.1:5432, database
`test`, dropped afterwards) the hub app runs in-process behind httpx's ASGI transport (the real
routes, auth and middleware, no sockets) with one published auto-remediating action that matches
every finding, so each new finding is read, stored, matched, and its run claimed and queued:

- new findings in batches of 1 and of 100, then the same findings again (deduplicated: updates);
- the baseline, in the same run on the same store: a raw executemany INSERT of the same rows
  (id, columns, payload JSON) into a scratch table; the ratio is the hub's cost over it;
- ingest to run started: with the real Temporal dev server, the time from POST to each run
  `submitted` (the queue's drain started its workflow); no worker is needed for a start;
- `remedy findings triage`'s engine on a Security Hub export of N findings (default 10 000).

    .venv/bin/python bench/ingest.py [--findings 2000] [--export 10000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import JSON, Column, MetaData, String, Table, create_engine, text

from bench.hub_load import postgres_url
from hub.app import create_app
from hub.auth import Role, create_user
from hub.config import HubSettings
from hub.models import CloudAccount, GroupAccount, Remediation, Run, WorkerGroup
from remedy.config import TemporalSettings
from remedy.intake import read_all
from remedy.intake.matching import JobIndex
from remedy.intake.triage import triage
from remedy.job_registry import discover
from remedy.temporal import start_dev_server, stop_process
from sandbox.aws import free_port

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "samples" / "asff_securityhub_cis41_sg_port22.json"
ACCOUNT = "123456789012"


def asff(index: int, tag: str) -> dict[str, Any]:
    """The CIS 4.1 sample (tests/samples) on its own security group and id."""
    finding: dict[str, Any] = json.loads(SAMPLE.read_text().replace("111111111111", ACCOUNT))
    sg = f"sg-{tag}{index:08x}"
    finding["Id"] = f"arn:aws:securityhub:us-east-1:{ACCOUNT}:subscription/bench/{tag}/{index}"
    finding["Resources"][0]["Id"] = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{sg}"
    finding["Compliance"] = {"Status": "FAILED", "SecurityControlId": "EC2.19"}
    return finding


@contextmanager
def store(kind: str, directory: Path) -> Iterator[HubSettings]:
    common: dict[str, Any] = {"hub_poll_interval_s": 0, "hub_start_interval_s": 0}
    if kind == "sqlite":
        yield HubSettings(database_url=f"sqlite:///{directory / 'hub.db'}", **common)
        return
    url, schema = postgres_url(), f"bench_ingest_{uuid.uuid4().hex[:8]}"
    try:
        yield HubSettings(database_url=url, database_schema=schema, **common)
    finally:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def seed(app: Any) -> str:
    """An admin, a group with the account, one published auto action for EC2.19."""
    db = app.state.hub.db

    def work(session: Any) -> str:
        _, token = create_user(session, "bench-admin", Role.ADMIN)
        group = WorkerGroup(id="wg-bench", name="bench", client_id="rmc_bench", secret_hash="x")
        session.add(group)
        session.add(
            CloudAccount(
                id=ACCOUNT,
                provider="aws",
                name="bench",
                role_arn=f"arn:aws:iam::{ACCOUNT}:role/remedy-remediation",
                external_id="bench",
            )
        )
        session.flush()
        session.add(GroupAccount(group_id=group.id, account_id=ACCOUNT))
        session.add(
            Remediation(
                name="bench-close-22",
                provider="aws",
                group_id=group.id,
                rule_ids=["EC2.19"],
                steps=[{"job": "security_group_close_port_22"}],
                status="published",
                auto_remediate=True,
            )
        )
        return token

    token: str = db.run(work)
    return token


async def post_all(api: httpx.AsyncClient, findings: list[Any], batch: int) -> float:
    began = time.perf_counter()
    for start in range(0, len(findings), batch):
        chunk = findings[start : start + batch]
        answer = await api.post("/findings", json=chunk if batch > 1 else chunk[0])
        assert answer.status_code == 200, answer.text[:300]
    return len(findings) / (time.perf_counter() - began)


def baseline(settings: HubSettings, findings: list[Any], batch: int) -> float:
    """A raw executemany INSERT of the same rows, `batch` per transaction."""
    engine = create_engine(
        settings.database_url,
        connect_args={"options": f"-csearch_path={settings.database_schema}"}
        if settings.database_schema
        else {},
    )
    meta = MetaData()
    table = Table(
        f"bench_raw_{uuid.uuid4().hex[:6]}",
        meta,
        Column("id", String(200), primary_key=True),
        Column("account_id", String(64)),
        Column("object_id", String(2048)),
        Column("payload", JSON),
        Column("original", JSON),
    )
    meta.create_all(engine)
    rows = [
        {
            "id": f["Id"],
            "account_id": ACCOUNT,
            "object_id": f["Resources"][0]["Id"],
            "payload": f,
            "original": f,
        }
        for f in findings
    ]
    began = time.perf_counter()
    for start in range(0, len(rows), batch):
        with engine.begin() as connection:
            connection.execute(table.insert(), rows[start : start + batch])
    rate = len(rows) / (time.perf_counter() - began)
    meta.drop_all(engine)
    engine.dispose()
    return rate


async def measure(kind: str, n: int, profile: bool) -> dict[str, float]:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as directory, store(kind, Path(directory)) as settings:
        # Temporal where nothing listens: starts fail fast and stay queued (measured apart)
        app = create_app(settings, TemporalSettings(address="127.0.0.1:1"))
        token = seed(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://hub.bench",
            headers={"Authorization": f"Bearer {token}"},
            timeout=600,
        ) as api:
            app.state.hub.runs.start_soon = lambda claimed: None  # measured apart, below
            for batch in (1, 100):
                count = n // 10 if batch == 1 else n  # batches of 1 are slow: fewer of them
                findings = [asff(i, f"{batch:03d}") for i in range(count)]
                profiler = cProfile.Profile() if profile and batch == 100 else None
                if profiler:
                    profiler.enable()
                results[f"new, batch {batch}"] = await post_all(api, findings, batch)
                if profiler:
                    profiler.disable()
                    print(f"\n-- profile: {kind}, new findings in batches of 100 --")
                    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
                results[f"seen again, batch {batch}"] = await post_all(api, findings, batch)
                results[f"raw INSERT, batch {batch}"] = baseline(settings, findings, batch)
        app.state.hub.db.dispose()
    return results


async def to_started(n: int) -> list[float]:
    """Seconds from POST to each run `submitted`, with the real dev server (no worker)."""
    with tempfile.TemporaryDirectory() as directory:
        port = free_port()
        server = start_dev_server(port, Path(directory) / "temporal")
        try:
            with store("sqlite", Path(directory)) as settings:
                settings = settings.model_copy(update={"search_attributes": False})
                app = create_app(settings, TemporalSettings(address=f"127.0.0.1:{port}"))
                token = seed(app)
                db = app.state.hub.db
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://hub.bench",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=600,
                ) as api:
                    findings = [asff(i, "start") for i in range(n)]
                    posted = time.perf_counter()
                    answer = (await api.post("/findings", json=findings)).json()
                    assert answer["queued"] == n, answer
                    started: dict[str, float] = {}
                    while len(started) < n and time.perf_counter() - posted < 120:
                        rows = db.run(
                            lambda s: [r.id for r in s.query(Run).filter(Run.status == "submitted")]
                        )
                        now = time.perf_counter() - posted
                        for run_id in rows:
                            started.setdefault(run_id, now)
                        await asyncio.sleep(0.02)
                    await app.state.hub.runs.close()
                db.dispose()
                return sorted(started.values())
        finally:
            stop_process(server)


def triage_export(n: int) -> tuple[float, int, int]:
    """Seconds to parse and triage the export (as `remedy findings triage` does, the job
    catalogue read once), its rows, and how many are fixable."""
    text = json.dumps({"Findings": [asff(i, "tri") for i in range(n)]})
    began = time.perf_counter()
    index = JobIndex.of(discover(ROOT / "jobs").jobs.values())
    rows, totals = triage(read_all(json.loads(text)), index)
    return time.perf_counter() - began, len(rows), totals.fixable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--findings", type=int, default=2000)
    parser.add_argument("--export", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(f"ingest: {args.findings} findings in batches of 100, {args.findings // 10} of 1")
    for kind in ("sqlite", "postgresql"):
        results = asyncio.run(measure(kind, args.findings, args.profile))
        print(f"\n{kind}")
        for batch in (1, 100):
            raw = results[f"raw INSERT, batch {batch}"]
            for what in ("new", "seen again"):
                rate = results[f"{what}, batch {batch}"]
                print(
                    f"  {what:>10}, batch {batch:>3}: {rate:8.0f} findings/s"
                    f"   raw INSERT {raw:8.0f}/s   ratio {rate / raw:.2f}"
                )
    waits = asyncio.run(to_started(100))
    if waits:
        print(
            f"\ningest -> run started (100 in one POST, dev server): first {waits[0]:.2f} s, "
            f"p50 {statistics.median(waits):.2f} s, last {waits[-1]:.2f} s ({len(waits)} started)"
        )
    took, rows, fixable = triage_export(args.export)
    print(
        f"\ntriage of a {args.export}-finding Security Hub export: {took:.2f} s "
        f"({rows} rows, {fixable} fixable)"
    )


if __name__ == "__main__":
    main()
