"""The worker's HTTP endpoints: `GET /metrics`, `/healthz` (liveness) and `/readyz` (readiness).

A stdlib server in a thread of its own, so a scrape or a probe never waits on the event loop;
liveness is the event loop answering a call from that thread within `LOOP_TIMEOUT_S`.
Readiness: 503 with a JSON reason until the worker polls its task queue and its fork server is
up, and again from the moment it drains (SIGTERM), so no new work is routed to it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from remedy.metrics import REGISTRY

log = logging.getLogger("remedy.worker")
LOOP_TIMEOUT_S = 5.0


@dataclass
class Readiness:
    """What the worker has reached; set from the event loop, read from the server's thread."""

    polling: bool = False
    draining: bool = False
    #: None when the fork server is up or not used; else why it is not
    fork_server: Callable[[], str | None] = lambda: None

    def reason(self) -> str | None:
        if self.draining:
            return "draining: the worker is stopping and takes no new work"
        if not self.polling:
            return "not polling its task queue yet"
        return self.fork_server()


@dataclass
class HealthServer:
    host: str
    port: int
    loop: asyncio.AbstractEventLoop
    readiness: Readiness
    #: served after Remedy's own metrics (the Temporal SDK's, through the bridge)
    extra: list[Collector] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        extra = CollectorRegistry(auto_describe=True)
        for collector in self.extra:
            extra.register(collector)
        handler = _handler(self, (REGISTRY, extra))
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self.port = self._server.server_address[1]  # the one picked when port 0 was asked for
        threading.Thread(target=self._server.serve_forever, daemon=True, name="health").start()
        log.info("health and metrics endpoints listening", extra={"port": self.port})

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def loop_answers(self) -> bool:
        async def answer() -> bool:
            return True

        probe = answer()
        try:
            return asyncio.run_coroutine_threadsafe(probe, self.loop).result(LOOP_TIMEOUT_S)
        except Exception:  # closed, stopped or too slow: not alive
            probe.close()
            return False


def _handler(
    server: HealthServer, registries: tuple[CollectorRegistry, ...]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body = b"".join(generate_latest(r) for r in registries)
                self._answer(200, body, CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                alive = server.loop_answers()
                status = "ok" if alive else "the event loop does not answer"
                self._json(200 if alive else 503, {"status": status})
            elif self.path == "/readyz":
                reason = server.readiness.reason()
                if reason is None:
                    self._json(200, {"status": "ready"})
                else:
                    self._json(503, {"status": "not ready", "reason": reason})
            else:
                self._json(404, {"error": "not found: /metrics, /healthz, /readyz"})

        def _json(self, code: int, document: dict[str, Any]) -> None:
            self._answer(code, json.dumps(document).encode(), "application/json")

        def _answer(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # probes every few seconds would flood the worker's log

    return Handler
