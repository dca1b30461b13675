"""One finding's path is one trace: hub ingest -> start -> RemediationWorkflow -> its activities."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client

from remedy import tracing
from remedy.config import TemporalSettings
from sandbox.aws import AwsSandbox
from tests.conftest import DevServer
from tests.findings import aws_finding
from tests.hub_fixtures import associate_account, hub_store, make_harness, new_group
from tests.test_hub_runs import Setup, ended, make_action


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.configure("remedy-test", exporter)
    try:
        yield exporter
    finally:
        tracing.disable()


@pytest_asyncio.fixture
async def traced(
    spans: InMemorySpanExporter,
    client: Client,
    dev_server: DevServer,
    aws_sandbox: AwsSandbox,
    tmp_path: Path,
    hub_worker: Any,
) -> AsyncIterator[Setup]:
    """The hub and a linked worker built while tracing is on."""
    with hub_store("sqlite", tmp_path) as store:
        h = make_harness(
            store, TemporalSettings(address=dev_server.address), temporal_client=client
        )
        group = await new_group(h)
        await associate_account(h, group, aws_sandbox.role_arn, aws_sandbox.external_id)
        await hub_worker(h, group)
        yield Setup(h, group, f"rule-{uuid.uuid4().hex[:8]}")
        await h.aclose()


def test_tracing_is_off_without_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tracing.ENDPOINT_VARIABLE, raising=False)
    assert not tracing.configure("remedy-test")
    assert tracing.temporal_interceptors() == []


async def test_a_finding_from_hub_ingest_to_its_job_step_is_one_trace(
    traced: Setup, spans: InMemorySpanExporter, client: Client, aws_sandbox: AwsSandbox
) -> None:
    s = traced
    await make_action(s, auto_remediate=True)
    sg = aws_sandbox.open_security_group(22, "traced")
    posted = await s.hub.ok("POST", "/findings", json=aws_finding(sg, rule_id=s.rule))
    run_id = posted["items"][0]["runs"][0]
    assert (await ended(s, client, run_id))["status"] == "succeeded"

    finished = spans.get_finished_spans()
    (ingest,) = [span for span in finished if span.name == "remedy.hub.ingest"]
    assert ingest.context is not None and ingest.parent is None  # the trace's root
    trace = [
        span
        for span in finished
        if span.context is not None and span.context.trace_id == ingest.context.trace_id
    ]
    names = {span.name for span in trace}
    assert {
        "remedy.hub.ingest",
        "remedy.hub.start_run",
        "StartWorkflow:RemediationWorkflow",
        "RunWorkflow:RemediationWorkflow",
        "StartActivity:assume_role",
        "RunActivity:assume_role",
        "StartActivity:run_job",
        "RunActivity:run_job",
    } <= names, names
    (start,) = [span for span in trace if span.name == "remedy.hub.start_run"]
    assert start.parent is not None and start.parent.span_id == ingest.context.span_id
    assert start.attributes is not None and start.attributes["run_id"] == run_id
    # ids and names only: nothing of the finding or the account's access in a span
    attributes = " ".join(str(v) for span in trace for v in (span.attributes or {}).values())
    assert sg not in attributes and aws_sandbox.external_id not in attributes
