"""The hub's Prometheus metrics (`GET /metrics`; docs/observability.md lists each).

Counters live in one registry for the process; what the store knows (the start queue's depth,
online workers per group) is read at each scrape by a collector of the app's own store. Labels
are formats, results, group ids: never a user name, a token or a finding's content.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import start_queue
from hub.db import Database
from hub.groups import is_online
from hub.models import Worker, WorkerGroup, utcnow
from hub.schemas import IngestItem

log = logging.getLogger("remedy.hub")

REGISTRY = CollectorRegistry()

FINDINGS_RECEIVED = Counter(
    "remedy_hub_findings_received",
    "Findings posted to the hub, by format and what became of each (created, updated, rejected)",
    ["format", "result"],
    registry=REGISTRY,
)
RUNS_QUEUED = Counter(
    "remedy_hub_runs_queued",
    "Runs claimed and queued to start (auto runs at ingest, manual runs at a trigger)",
    ["trigger"],
    registry=REGISTRY,
)
RUN_STARTS = Counter(
    "remedy_hub_run_starts",
    "Attempts to start a queued run on Temporal: started, retry (Temporal did not answer), "
    "refused (the finding cannot be remediated)",
    ["result"],
    registry=REGISTRY,
)


def count_ingested(items: Sequence[IngestItem]) -> None:
    for item in items:
        FINDINGS_RECEIVED.labels(item.format or "unknown", item.result).inc()
        RUNS_QUEUED.labels("auto").inc(len(item.queued))


class StoreGauges(Collector):
    """Read from the store at each scrape; a store that does not answer leaves them out (the
    hub's /readyz says why)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        try:
            depth, online = self.db.run(self._read)
        except Exception:  # a scrape must answer; readiness reports the store
            log.warning("the store did not answer a metrics scrape", exc_info=True)
            return
        yield GaugeMetricFamily(
            "remedy_hub_start_queue_depth", "Runs queued to start on Temporal", value=depth
        )
        workers = GaugeMetricFamily(
            "remedy_hub_workers_online",
            "Workers of each enabled worker group heartbeating in time (0: the group is offline)",
            labels=["group_id"],
        )
        for group_id, count in sorted(online.items()):
            workers.add_metric([group_id], count)
        yield workers

    def _read(self, session: Session) -> tuple[int, dict[str, int]]:
        now = utcnow()
        enabled = session.scalars(select(WorkerGroup.id).where(WorkerGroup.enabled)).all()
        online = dict.fromkeys(enabled, 0)
        for worker in session.scalars(select(Worker).where(Worker.group_id.in_(enabled))):
            if is_online(worker, self.db.settings, now):
                online[worker.group_id] += 1
        return start_queue.queued(session), online
