"""The Jira emulator on HTTP: routes `/rest/api/{2,3,latest}/...` to the endpoints of its state.

Every request is recorded; an injected failure (`fail_next`) answers first; then every request but
an anonymous `serverInfo` must carry basic auth (user + API token) or a bearer token (personal
access token), else 401.
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.jira_endpoints import JiraState
from sandbox.jira_store import JiraProblem, Json

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(f"^{pattern}$"), handler)
    for method, pattern, handler in [
        ("GET", r"serverInfo", "server_info"),
        ("GET", r"myself", "myself"),
        ("GET", r"project", "projects_list"),
        ("GET", r"project/(?P<key>[^/]+)", "project"),
        ("GET", r"field", "fields"),
        ("GET", r"issuetype", "issue_types"),
        ("POST", r"issue", "create_issue"),
        ("GET", r"issue/(?P<key>[^/]+)", "get_issue"),
        ("PUT", r"issue/(?P<key>[^/]+)", "update_issue"),
        ("GET", r"issue/(?P<key>[^/]+)/comment", "comments"),
        ("POST", r"issue/(?P<key>[^/]+)/comment", "add_comment"),
        ("GET", r"issue/(?P<key>[^/]+)/transitions", "transitions"),
        ("POST", r"issue/(?P<key>[^/]+)/transitions", "do_transition"),
        ("GET", r"search", "search"),
        ("POST", r"search", "search"),
        ("GET", r"search/jql", "search_jql"),
        ("POST", r"search/jql", "search_jql"),
    ]
]
_API = re.compile(r"^/rest/api/(?P<version>2|3|latest)/(?P<route>.*?)/?$")


class JiraHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: JiraState) -> None:
        super().__init__(address, _Handler)
        self.state = state


class _Handler(BaseHTTPRequestHandler):
    server: JiraHttpServer
    # HTTP/1.0: one request per connection, so `down()` really leaves nothing listening

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _send(self, status: int, body: Any) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="protected-area"')
        if status == 429:
            self.send_header("Retry-After", "1")
        if data:
            self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with state.lock:
            state.requests.append((method, url.path))
        injected = state.take_failure()
        if injected is not None:
            self._send(injected, {"errorMessages": [f"sandbox: injected HTTP {injected}"]})
            return
        api = _API.match(url.path)
        if api is None:
            self._send(404, {"errorMessages": [f"no such resource: {url.path}"]})
            return
        version, route = api.group("version"), api.group("route")
        anonymous = (
            method == "GET" and route == "serverInfo" and "Authorization" not in self.headers
        )
        if not anonymous and not state.authorised(self.headers.get("Authorization")):
            self._send(
                401, {"errorMessages": ["You are not authenticated. Authentication required."]}
            )
            return
        query: Json = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            body = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            self._send(400, {"errorMessages": ["Unexpected character in the request body"]})
            return
        for route_method, pattern, handler in _ROUTES:
            match = pattern.match(route)
            if match and route_method == method:
                try:
                    with state.lock:
                        status, answer = getattr(state, handler)(
                            version,
                            query,
                            body if isinstance(body, dict) else {},
                            **match.groupdict(),
                        )
                except JiraProblem as problem:
                    status, answer = problem.status, problem.body
                self._send(status, answer)
                return
        self._send(404 if method == "GET" else 405, {"errorMessages": [f"{method} {url.path}"]})
