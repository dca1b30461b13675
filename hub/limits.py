"""Size and nesting limits on every request body, checked before anything parses it.

A worker's credentials or a user's token must not be enough to fill the store or the hub's
memory: each body is read up to its route's limit (413 beyond it, naming the limit), and a JSON
body nested deeper than `hub_max_json_depth` is refused (422) before the JSON parser, pydantic or
`copy.deepcopy` recurse into it (a 500-deep array used to end in RecursionError, a 500).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from hub.config import HubSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_LOG_BATCH = re.compile(r"^/worker/runs/[^/]+/logs$")
# a JSON string, escapes included (unrolled, so long strings cost no backtracking)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def body_limit(settings: HubSettings, method: str, path: str) -> tuple[int, str]:
    """The byte limit of a request's body, and what to do when it is over."""
    if method == "POST" and path == "/findings":
        return settings.hub_max_findings_bytes, "send the findings in smaller batches"
    if method == "POST" and path == "/worker/register":
        return (
            settings.hub_max_registration_bytes,
            "register fewer jobs, or shorten their descriptions and parameter schemas",
        )
    if method == "POST" and _LOG_BATCH.match(path):
        return settings.hub_max_log_batch_bytes, "ship the lines in smaller batches"
    return settings.hub_max_body_bytes, "send a smaller request"


def json_depth_over(body: bytes, limit: int) -> bool:
    """True when the JSON text nests arrays and objects deeper than `limit` (no recursion)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class BodyLimits:
    """ASGI middleware: reads each request body up to its limit, refuses what is over it or
    nested too deep, and hands the app the body it read."""

    def __init__(self, app: App, settings: HubSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit, fix = body_limit(self.settings, scope["method"], scope["path"])
        where = f"{scope['method']} {scope['path'][:200]}"
        too_big = {
            "error": f"the request body is over the limit of {limit} bytes for {where}",
            "fix": fix,
            "limit": limit,
        }
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _answer(send, 413, too_big)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _answer(send, 413, too_big)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        depth = self.settings.hub_max_json_depth
        if json_depth_over(body, depth):
            await _answer(
                send,
                422,
                {
                    "error": f"body: JSON nested more than {depth} levels deep",
                    "fix": f"flatten the document: at most {depth} nested arrays and objects",
                    "field": "body",
                },
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # the app waits for a disconnect
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
