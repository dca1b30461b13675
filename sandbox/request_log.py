"""Which requests reached an emulator: the proof that a job's plan mode changes nothing.

`RequestLog` keeps (method, path, action) for each request and tells the mutating ones apart.
For AWS, `RecordingProxy` sits in front of moto's server (point AWS_ENDPOINT_URL at its url): it
forwards every request unchanged (the Host header too, so SigV4 signatures still match) and logs
it, the query API's `Action` read from the query string or the form body (the JSON protocol's
from its `X-Amz-Target` header). The Azure emulator logs
into its own `RequestLog` (sandbox/azure_emulator.py).
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: query-API (EC2, IAM, STS) actions that only read, by prefix
READ_ACTIONS = ("Describe", "Get", "List")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    action: str = ""

    @property
    def mutating(self) -> bool:
        if self.method in READ_METHODS:
            return False
        if self.action:
            return not self.action.startswith(READ_ACTIONS)
        # a sign-in (Entra ID's token endpoint) asks for a token; it changes no resource
        return "/oauth2/" not in self.path

    def __str__(self) -> str:
        return f"{self.method} {self.path}" + (f" ({self.action})" if self.action else "")


class RequestLog:
    """The requests seen, in order (thread-safe: the servers answer on many threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[Request] = []

    def add(self, method: str, target: str, body: bytes = b"", amz_target: str = "") -> None:
        """`amz_target`: the JSON API's X-Amz-Target header (`<Service>.<Operation>`); the RPC v2
        CBOR API (CloudWatch) names its operation in the path (`.../operation/<Operation>`)."""
        url = urllib.parse.urlsplit(target)
        fields = dict(urllib.parse.parse_qsl(url.query))
        if not fields.get("Action") and body[:1024].find(b"Action=") >= 0:
            fields.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        action = fields.get("Action") or amz_target.rpartition(".")[2]
        if not action and "/operation/" in url.path:
            action = url.path.rpartition("/operation/")[2]
        with self._lock:
            self._entries.append(Request(method.upper(), url.path, action))

    @property
    def entries(self) -> list[Request]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def mutating(self) -> list[Request]:
        return [r for r in self.entries if r.mutating]


class RecordingProxy:
    """An HTTP reverse proxy on loopback that logs every request before forwarding it."""

    def __init__(self, target: str) -> None:
        self.log = RequestLog()
        parsed = urllib.parse.urlsplit(target)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
        log = self.log

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                log.add(self.command, self.path, body, self.headers.get("X-Amz-Target", ""))
                upstream = http.client.HTTPConnection(host, port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body, dict(self.headers.items()))
                    answer = upstream.getresponse()
                    data = answer.read()
                    self.send_response_only(answer.status, answer.reason)
                    for name, value in answer.getheaders():
                        if name.lower() not in (
                            "transfer-encoding",
                            "connection",
                            "content-length",
                        ):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the log is self.log

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
