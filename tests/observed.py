"""A real `remedy worker` process with its HTTP endpoints, and reading a Prometheus scrape."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from sandbox.aws import AwsSandbox, free_port
from tests.conftest import DevServer
from tests.test_faults import start_worker_process


@dataclass
class ObservedWorker:
    group: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path


@contextmanager
def observed_worker(
    group: str, sandbox: AwsSandbox, server: DevServer, log: Path
) -> Iterator[ObservedWorker]:
    """`remedy worker` with REMEDY_WORKER_HTTP_PORT on a free loopback port; killed afterwards."""
    port = free_port()
    process = start_worker_process(group, sandbox, server, log, REMEDY_WORKER_HTTP_PORT=str(port))
    try:
        yield ObservedWorker(group, process, f"http://127.0.0.1:{port}", log)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


#: the Temporal SDK's metrics the alert rules use: tests/test_metrics.py sees each in a scrape
SDK_METRICS_ALERTED = (
    "temporal_activity_schedule_to_start_latency",
    "temporal_workflow_task_schedule_to_start_latency",
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(url: str) -> Samples:
    answer = httpx.get(f"{url}/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples carrying `labels` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)
