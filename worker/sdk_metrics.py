"""The Temporal SDK's metrics, and what workflows count with `workflow.metric_meter()`, served on
the worker's own `GET /metrics` beside Remedy's.

Why a bridge and not the SDK's own Prometheus exporter (`PrometheusConfig`): that one needs a
second port, which every deployment would have to publish and scrape as well. Here the SDK's
runtime writes into a `MetricBuffer`; each scrape (and a drain every few seconds, so the buffer
never overflows) folds the updates into totals that a Prometheus collector serves: counters are
summed, gauges keep their last value, histogram values fall into fixed buckets (seconds).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from temporalio.client import Client
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
)
from temporalio.service import ServiceClient

from remedy.metrics import DURATION_BUCKETS

#: updates the SDK may buffer between two drains before it drops some
BUFFER_SIZE = 50_000
DRAIN_INTERVAL_S = 5.0

Labels = tuple[tuple[str, str], ...]


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        self.buckets[bisect_left(DURATION_BUCKETS, value)] += 1
        self.total += value
        self.count += 1


@dataclass
class _Family:
    kind: int
    description: str
    values: dict[Labels, float] = field(default_factory=lambda: defaultdict(float))
    histograms: dict[Labels, _Histogram] = field(default_factory=lambda: defaultdict(_Histogram))


def _name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_:]", "_", name)


class SdkMetricsBridge(Collector):
    """A Prometheus collector over a Temporal runtime's metric buffer."""

    def __init__(self) -> None:
        self.buffer = MetricBuffer(BUFFER_SIZE, MetricBufferDurationFormat.SECONDS)
        self.runtime = Runtime(telemetry=TelemetryConfig(metrics=self.buffer))
        self._families: dict[str, _Family] = {}
        self._lock = threading.Lock()

    def drain(self) -> None:
        with self._lock:
            for update in self.buffer.retrieve_updates():
                metric = update.metric
                family = self._families.setdefault(
                    _name(metric.name), _Family(metric.kind, metric.description or metric.name)
                )
                labels = tuple(sorted((_name(k), str(v)) for k, v in update.attributes.items()))
                if metric.kind == BUFFERED_METRIC_KIND_COUNTER:
                    family.values[labels] += update.value
                elif metric.kind == BUFFERED_METRIC_KIND_GAUGE:
                    family.values[labels] = update.value
                else:
                    family.histograms[labels].observe(update.value)

    def collect(self) -> Iterator[Metric]:
        self.drain()
        with self._lock:
            for name, family in sorted(self._families.items()):
                yield _exposed(name, family)

    async def drain_forever(self) -> None:
        while True:
            await asyncio.sleep(DRAIN_INTERVAL_S)
            self.drain()


def _exposed(name: str, family: _Family) -> Metric:
    if family.kind == BUFFERED_METRIC_KIND_COUNTER:
        metric = Metric(name, family.description, "counter")
        for labels, value in family.values.items():
            metric.add_sample(f"{name}_total", dict(labels), value)
        return metric
    if family.kind == BUFFERED_METRIC_KIND_GAUGE:
        metric = Metric(name, family.description, "gauge")
        for labels, value in family.values.items():
            metric.add_sample(name, dict(labels), value)
        return metric
    metric = Metric(name, family.description, "histogram")
    for labels, histogram in family.histograms.items():
        cumulative = 0
        for bound, count in zip((*DURATION_BUCKETS, float("inf")), histogram.buckets, strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else repr(float(bound))
            metric.add_sample(f"{name}_bucket", {**dict(labels), "le": le}, cumulative)
        metric.add_sample(f"{name}_sum", dict(labels), histogram.total)
        metric.add_sample(f"{name}_count", dict(labels), histogram.count)
    return metric


async def on_runtime(client: Client, runtime: Runtime) -> Client:
    """The same client (address, namespace, converter, interceptors) on `runtime`: the metrics of
    a worker built on it reach that runtime's buffer."""
    service = await ServiceClient.connect(
        dataclasses.replace(client.service_client.config, runtime=runtime)
    )
    config = client.config()
    config["service_client"] = service
    return Client(**config)
