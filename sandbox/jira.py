"""The sandbox's Jira: a small stateful emulator of Jira's REST API that the real `jira` client uses.

`start_jira_sandbox()` serves, on a free loopback port, what Remedy's notify activity (and the
client's own bookkeeping) calls, under `/rest/api/2/`, `/rest/api/3/` and `/rest/api/latest/`:

- `serverInfo` (anonymous allowed), `myself`, `project`, `project/{key}`, `field`, `issuetype`;
- `issue` (create), `issue/{key}` (get, update labels), `issue/{key}/comment` (list, add),
  `issue/{key}/transitions` (list, do);
- `search` (Jira Server / Data Center, `startAt` paging) and `search/jql` (Jira Cloud,
  `nextPageToken` paging), by GET or POST, with a JQL subset (sandbox/jira_search.py).

Every request but an anonymous `serverInfo` must carry basic auth (user + API token) or a bearer
token (personal access token); anything else is answered 401. The workflow is Jira Cloud's simple
one: To Do → In Progress → Done, through the transitions "Start Progress", "Resolve" and "Reopen".
`fail_next()` and `down()` / `up()` make it refuse or vanish, for retry tests.

The parts: sandbox/jira_store.py (the state and its JSON), sandbox/jira_search.py (JQL),
sandbox/jira_endpoints.py (the REST endpoints), sandbox/jira_server.py (HTTP and auth).
"""

from __future__ import annotations

import copy
import secrets
import threading
from dataclasses import dataclass, field

from sandbox.jira_endpoints import JiraState
from sandbox.jira_search import Clause, Query, parse_jql
from sandbox.jira_server import JiraHttpServer
from sandbox.jira_store import JiraProblem, Json

__all__ = [
    "DEFAULT_USER",
    "Clause",
    "JiraProblem",
    "JiraSandbox",
    "JiraState",
    "Query",
    "parse_jql",
    "start_jira_sandbox",
]

DEFAULT_USER = "remedy-bot@example.com"


@dataclass
class JiraSandbox:
    """A running emulator. `url` is the Jira server address to put in JiraSettings."""

    url: str
    user: str
    token: str = field(repr=False)
    state: JiraState = field(repr=False)
    _server: JiraHttpServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def worker_env(self) -> dict[str, str]:
        """Basic auth as Jira Cloud takes it: the account's email and an API token; and the
        worker's leave to notify on loopback, where the sandbox serves."""
        return {"JIRA_USER": self.user, "JIRA_API_TOKEN": self.token, **self.allowed_env()}

    def allowed_env(self) -> dict[str, str]:
        """REMEDY_NOTIFY_ALLOWED_HOSTS naming loopback explicitly (remedy/destinations.py)."""
        return {"REMEDY_NOTIFY_ALLOWED_HOSTS": "127.0.0.1"}

    def pat_env(self) -> dict[str, str]:
        """A personal access token (bearer), as Jira Server / Data Center takes it."""
        return {"JIRA_TOKEN": self.token, **self.allowed_env()}

    def issues(self) -> list[Json]:
        """Every stored issue, oldest first: key, project, issue_type, summary, description,
        labels, status and the comments' bodies."""
        with self.state.lock:
            return [
                {
                    "key": i.key,
                    "project": i.project,
                    "issue_type": i.issue_type,
                    "summary": i.summary,
                    "description": i.description,
                    "labels": list(i.labels),
                    "status": i.status,
                    "comments": [c["body"] for c in i.comments],
                }
                for i in self.state.issues
            ]

    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request received, in order."""
        with self.state.lock:
            return copy.copy(self.state.requests)

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """Answer the next `count` requests with `status` (503, 429, 500, 403...) instead."""
        self.state.fail_next(count, status)

    def down(self) -> None:
        """Stop listening (connections are refused) but keep the state; `up()` brings it back."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def up(self) -> None:
        if self._server is None:
            self._server = JiraHttpServer(("127.0.0.1", self.port), self.state)
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="jira-sandbox", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self.down()


def start_jira_sandbox(
    user: str = DEFAULT_USER,
    token: str | None = None,
    *,
    projects: tuple[str, ...] = ("SEC",),
    deployment: str = "Server",
) -> JiraSandbox:
    """Start the emulator on a free loopback port. `deployment` "Cloud" makes the client use
    Cloud-only calls (the enhanced `search/jql`)."""
    state = JiraState(user, token or f"jira-{secrets.token_urlsafe(18)}", projects, deployment)
    server = JiraHttpServer(("127.0.0.1", 0), state)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    state.base_url = url
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="jira-sandbox", daemon=True
    )
    thread.start()
    return JiraSandbox(url, user, state.token, state, server, thread)
