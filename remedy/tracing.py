"""OpenTelemetry traces, off unless an exporter is configured.

With `OTEL_EXPORTER_OTLP_ENDPOINT` set (the standard variable; the OTLP/HTTP exporter reads it
and its siblings, `OTEL_EXPORTER_OTLP_HEADERS`, ...), or a test passing an exporter, the worker
and the hub put Temporal's `TracingInterceptor` on their clients and workers, and the hub opens
a span around each ingest and manual trigger: a finding's path, hub ingest -> start ->
RemediationWorkflow -> each activity, is one trace (Temporal carries the context in headers).
Spans carry ids and names only (run id, job), never a payload.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"

_provider: TracerProvider | None = None


def configure(service: str, exporter: SpanExporter | None = None) -> bool:
    """Turn tracing on for this process: with `exporter` (tests), else OTLP/HTTP when its
    endpoint variable is set; whether it is on. Idempotent: the first configuration stays."""
    global _provider
    if _provider is not None:
        return True
    if exporter is None:
        if not os.environ.get(ENDPOINT_VARIABLE):
            return False
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)  # so other libraries' spans join ours
    else:
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _provider = provider
    return True


def enabled() -> bool:
    return _provider is not None


def tracer() -> trace.Tracer:
    if _provider is None:
        return trace.NoOpTracer()
    return _provider.get_tracer("remedy")


def temporal_interceptors() -> list[TracingInterceptor]:
    """Temporal's tracing interceptor for a client or a worker; none when tracing is off."""
    return [TracingInterceptor(tracer())] if enabled() else []


@contextmanager
def span(name: str, **attributes: str | int) -> Iterator[None]:
    """A span (a no-op when tracing is off); attributes are ids and counts, never payloads."""
    with tracer().start_as_current_span(name, attributes=attributes):
        yield


def shutdown() -> None:
    """Flush what is buffered (a process about to exit)."""
    if _provider is not None:
        _provider.shutdown()


def traced_client(client: Client) -> Client:
    """The same client (connection, namespace, converter) with the tracing interceptor, when
    tracing is on: a workflow it starts continues the caller's trace."""
    interceptors = temporal_interceptors()
    config = client.config()
    if not interceptors or any(isinstance(i, TracingInterceptor) for i in config["interceptors"]):
        return client
    config["interceptors"] = [*config["interceptors"], *interceptors]
    return Client(**config)


def disable() -> None:
    """Tracing off again (tests: each configures its own exporter)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
    _provider = None
