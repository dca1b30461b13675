"""The hub under load: concurrent clients posting findings and reading runs, on PostgreSQL.

Starts `remedy hub serve` as its own process on a loopback port, its tables in a fresh schema of
the PostgreSQL at 127.0.0.1:5432 (database `test`; dropped afterwards), seeded with 2 000 runs.
Temporal is not needed (no action is published, so no run starts). Then N clients (default 20),
each with its own connection, loop for a bounded time: post a finding (a new one, or one seen
before), list runs, read a run, list findings. Prints per request kind the count and p50 / p99
latency, the error count (anything but the expected status), requests per second, and the hub's
resident memory before and after.

    .venv/bin/python bench/hub_load.py [--clients 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from hub.auth import Role, create_user
from hub.config import HubSettings
from hub.db import Database
from hub.models import Finding, Remediation, Run, WorkerGroup
from sandbox.aws import free_port
from tests.findings import aws_finding

PG_USERS = ("postgres", "root")
SEED_RUNS = 2_000


def postgres_url() -> str:
    for user in PG_USERS:
        url = f"postgresql+psycopg://{user}@127.0.0.1:5432/test"
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect():
                return url
        except Exception:
            continue
        finally:
            engine.dispose()
    raise SystemExit("PostgreSQL does not answer on 127.0.0.1:5432 (database test)")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def seed(settings: HubSettings) -> tuple[str, list[str]]:
    """Migrate, make an admin, and 2 000 runs to read; the admin's token and some run ids."""
    db = Database(settings)
    db.migrate()

    def work(session: Session) -> tuple[str, list[str]]:
        _, token = create_user(session, "bench-admin", Role.ADMIN)
        group = WorkerGroup(id="wg-bench", name="bench", client_id="rmc_bench", secret_hash="x")
        action = Remediation(name="bench", provider="aws", group_id=group.id)
        session.add(group)
        session.flush()  # no ORM relationships: the group's row goes first
        session.add(action)
        session.flush()
        run_ids = []
        for index in range(SEED_RUNS):
            finding = Finding(
                id=f"seed-{index}",
                provider="aws",
                account_id="123456789012",
                object_id=f"sg-{index}",
                payload=aws_finding(f"sg-{index}", finding_id=f"seed-{index}"),
            )
            session.add(finding)
            run_id = f"remedy-bench-{index:05d}"
            session.add(
                Run(
                    id=run_id,
                    finding_id=finding.id,
                    remediation_id=action.id,
                    group_id=group.id,
                    trigger="auto",
                    status=random.choice(["succeeded", "failed", "running"]),
                )
            )
            run_ids.append(run_id)
        return token, run_ids

    found = db.run(work)
    db.dispose()
    return found


async def client_loop(
    base: str, token: str, run_ids: list[str], deadline: float, number: int, stats: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as api:
        index = 0
        while time.monotonic() < deadline:
            index += 1
            seen_before = index % 4 == 0  # some deliveries are repeats (deduplicated)
            finding_id = f"load-{number}-{1 if seen_before else index}"
            calls = [
                (
                    "post finding",
                    "POST",
                    "/findings",
                    aws_finding("sg-1", finding_id=finding_id),
                    200,
                ),
                ("list runs", "GET", "/runs?limit=50", None, 200),
                ("run logs", "GET", f"/runs/{random.choice(run_ids)}/logs", None, 200),
                ("list findings", "GET", "/findings?limit=50", None, 200),
            ]
            for kind, method, path, body, expected in calls:
                started = time.perf_counter()
                try:
                    response = await api.request(method, path, json=body)
                    ok = response.status_code == expected
                except httpx.HTTPError:
                    ok = False
                stats["latency"].setdefault(kind, []).append(time.perf_counter() - started)
                if not ok:
                    stats["errors"] += 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    url = postgres_url()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    settings = HubSettings(database_url=url, database_schema=schema, hub_poll_interval_s=0)
    try:
        report(args, url, schema, *seed(settings))
    finally:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def report(args: argparse.Namespace, url: str, schema: str, token: str, run_ids: list[str]) -> None:
    port = free_port()
    env = {
        **os.environ,
        "REMEDY_DATABASE_URL": url,
        "REMEDY_DATABASE_SCHEMA": schema,
        "REMEDY_HUB_POLL_INTERVAL_S": "0",
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
        "REMEDY_LOG_LEVEL": "WARNING",
    }
    hub = subprocess.Popen(
        [sys.executable, "-m", "console", "hub", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("the hub did not start")
        before = rss_mb(hub.pid)
        stats: dict[str, Any] = {"latency": {}, "errors": 0}
        deadline = time.monotonic() + args.seconds
        started = time.monotonic()

        async def run() -> None:
            await asyncio.gather(
                *(
                    client_loop(base, token, run_ids, deadline, n, stats)
                    for n in range(args.clients)
                )
            )

        asyncio.run(run())
        elapsed = time.monotonic() - started
        after = rss_mb(hub.pid)
    finally:
        hub.terminate()
        hub.wait(timeout=30)

    every = [v for values in stats["latency"].values() for v in values]
    print(f"{args.clients} clients for {elapsed:.1f} s against the hub on PostgreSQL")
    print(f"{'request':15} {'count':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for kind, values in [*stats["latency"].items(), ("all", every)]:
        print(
            f"{kind:15} {len(values):7d} {statistics.median(values) * 1000:8.1f} "
            f"{percentile(values, 0.99) * 1000:8.1f}"
        )
    print(f"requests/s {len(every) / elapsed:.0f}; errors {stats['errors']}")
    print(f"hub RSS {before:.0f} MB before, {after:.0f} MB after")
    if stats["errors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
