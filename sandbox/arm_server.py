"""The Azure emulator on HTTPS: one threaded server on 127.0.0.1 for Entra ID and Resource Manager.

The TLS handshake runs in each request's thread, with a certificate from the CA made at start
(sandbox/tls.py). `close_connections()` ends kept-alive connections at stop, so no handler thread
outlives the server.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import SHUT_RDWR, socket
from typing import Any

from sandbox.azure_emulator import AzureEmulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: AzureHttpsServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.server.emulator.handle(self.command, self.path, headers, body)
        payload = b"" if answer.body is None else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read state, not access logs


class AzureHttpsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, emulator: AzureEmulator, context: ssl.SSLContext, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.emulator = emulator
        self.context = context
        self.connections: set[socket] = set()
        self.connections_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        # the TLS handshake happens here, in the request's thread, not in the accept loop
        try:
            wrapped: socket = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self.connections_lock:
            self.connections.add(wrapped)
        try:
            super().finish_request(wrapped, client_address)
        finally:
            with self.connections_lock:
                self.connections.discard(wrapped)

    def close_connections(self) -> None:
        """End the kept-alive connections, so no handler thread outlives the server."""
        with self.connections_lock:
            open_ones = list(self.connections)
        for connection in open_ones:
            with contextlib.suppress(OSError):
                connection.shutdown(SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-request is not the emulator's problem
