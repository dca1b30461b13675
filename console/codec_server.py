"""The codec server: lets the Temporal UI (or `temporal workflow show --codec-endpoint`) show
sealed payloads in clear, to whoever can reach it.

Temporal's remote codec protocol: `POST /encode` and `POST /decode` take and answer
`{"payloads": [{"metadata": {name: base64}, "data": base64}, ...]}` (the proto JSON of
`temporalio.api.common.v1.Payloads`). The UI sends `X-Namespace` (accepted; one key set serves
every namespace) and, when it is configured to, `Authorization`. Browsers preflight with OPTIONS,
so the UI's origin is allowed by CORS.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from temporalio.api.common.v1 import Payload, Payloads

from remedy.codec import EncryptionCodec, SealedPayloadError

log = logging.getLogger("console.codec_server")

MAX_BODY_BYTES = 64 * 1024 * 1024
ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"
EXPECTED = '{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}'


class CodecServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        codec: EncryptionCodec,
        origins: Sequence[str],
        token: str | None = None,
    ) -> None:
        self.codec = codec
        self.origins = [o.rstrip("/") for o in origins]
        self.token = token
        super().__init__(address, CodecHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class CodecHandler(BaseHTTPRequestHandler):
    server: CodecServer
    protocol_version = "HTTP/1.1"

    def do_OPTIONS(self) -> None:
        self._answer(HTTPStatus.NO_CONTENT, None)

    def do_POST(self) -> None:
        actions: dict[str, Callable[[Sequence[Payload]], list[Payload]]] = {
            "/encode": self.server.codec.seal_all,
            "/decode": self.server.codec.open_all,
        }
        action = actions.get(self.path.split("?", 1)[0].rstrip("/"))
        if action is None:
            self._error(HTTPStatus.NOT_FOUND, "POST /encode or /decode")
            return
        if not self._authorized():
            self._error(HTTPStatus.UNAUTHORIZED, "send Authorization: Bearer <REMEDY_CODEC_TOKEN>")
            return
        payloads = self._payloads()
        if payloads is None:
            return
        try:
            answer = Payloads(payloads=action(payloads.payloads))
        except SealedPayloadError as exc:
            self._error(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc))
            return
        self._answer(HTTPStatus.OK, MessageToDict(answer))

    def _authorized(self) -> bool:
        if not self.server.token:
            return True
        scheme, _, presented = self.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), self.server.token.encode()
        )

    def _payloads(self) -> Payloads | None:
        """The request's payloads, or None once a 4xx saying what is wrong has been sent."""
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._error(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
            return None
        if length > MAX_BODY_BYTES:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"at most {MAX_BODY_BYTES} bytes")
            return None
        body = self.rfile.read(length)
        try:
            document = json.loads(body)
            if not isinstance(document, dict) or not isinstance(document.get("payloads"), list):
                raise ValueError("the body must be a JSON object with a list 'payloads'")
            return ParseDict(document, Payloads())
        except (ValueError, ParseError) as exc:
            self._error(HTTPStatus.BAD_REQUEST, f"{exc}; expected {EXPECTED}")
            return None

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._answer(status, {"error": message}, close=True)  # the body may be left unread

    def _answer(
        self, status: HTTPStatus, document: dict[str, Any] | None, *, close: bool = False
    ) -> None:
        body = json.dumps(document).encode() if document is not None else b""
        self.send_response(status)
        if close:
            self.send_header("Connection", "close")  # (this also closes it on our side)
        origin = self.headers.get("Origin", "").rstrip("/")
        if origin and (origin in self.server.origins or "*" in self.server.origins):
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Allow-Credentials", "true")
            self.send_header("Access-Control-Allow-Headers", ALLOWED_HEADERS)
            self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
            self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Vary", "Origin")
        if document is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # the request line, never a body
        log.info(format % args, extra={"client": self.address_string()})


def make_server(
    codec: EncryptionCodec,
    *,
    host: str = "127.0.0.1",
    port: int = 8081,
    origins: Sequence[str] = ("http://127.0.0.1:8233", "http://localhost:8233"),
    token: str | None = None,
) -> CodecServer:
    """Bound and ready; `serve_forever()` (or a thread running it) answers requests."""
    return CodecServer((host, port), codec, origins, token)
