"""The sandbox's Jira: a small stateful emulator of Jira's REST API that the real `jira` client uses.

`start_jira_sandbox()` serves, on a free loopback port, what Remedy's notify activity (and the
client's own bookkeeping) calls, under `/rest/api/2/`, `/rest/api/3/` and `/rest/api/latest/`:

- `serverInfo` (anonymous allowed), `myself`, `project`, `project/{key}`, `field`, `issuetype`;
- `issue` (create), `issue/{key}` (get, update labels), `issue/{key}/comment` (list, add),
  `issue/{key}/transitions` (list, do);
- `search` (Jira Server / Data Center, `startAt` paging) and `search/jql` (Jira Cloud,
  `nextPageToken` paging), by GET or POST, with a JQL subset: `field = value` and `field != value`
  joined by AND, over labels, project, key, status, statusCategory and issuetype, then an optional
  `ORDER BY created|key [ASC|DESC]`.

Every request but an anonymous `serverInfo` must carry basic auth (user + API token) or a bearer
token (personal access token); anything else is answered 401. The workflow is Jira Cloud's simple
one: To Do → In Progress → Done, through the transitions "Start Progress", "Resolve" and "Reopen".
`fail_next()` and `down()` / `up()` make it refuse or vanish, for retry tests.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Json = dict[str, Any]

DEFAULT_USER = "remedy-bot@example.com"
STATUS_CATEGORIES: dict[str, Json] = {
    "To Do": {"id": 2, "key": "new", "name": "To Do", "colorName": "blue-gray"},
    "In Progress": {"id": 4, "key": "indeterminate", "name": "In Progress", "colorName": "yellow"},
    "Done": {"id": 3, "key": "done", "name": "Done", "colorName": "green"},
}
STATUS_IDS = {"To Do": "10000", "In Progress": "3", "Done": "10001"}
#: transition id → (name, target status)
TRANSITIONS = {
    "11": ("Reopen", "To Do"),
    "21": ("Start Progress", "In Progress"),
    "31": ("Resolve", "Done"),
}
ISSUE_TYPES = {"Task": "10001", "Bug": "10002", "Story": "10003"}
FIELDS = [
    "summary",
    "description",
    "labels",
    "status",
    "project",
    "issuetype",
    "comment",
    "created",
]


class JiraProblem(Exception):
    """An error answer: an HTTP status and Jira's error body."""

    def __init__(self, status: int, *messages: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(", ".join(messages) or str(errors))
        self.status = status
        self.body: Json = {"errorMessages": list(messages), "errors": errors or {}}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


# ------------------------------------------------------------------------------------------------
# JQL: the subset Remedy uses.
# ------------------------------------------------------------------------------------------------

_JQL_TOKEN = re.compile(r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<op>!=|=)|(?P<word>[\w.\-]+))')
JQL_FIELDS = {"labels", "project", "key", "status", "statuscategory", "issuetype", "type"}


@dataclass(frozen=True)
class Clause:
    field: str
    negated: bool
    value: str


@dataclass(frozen=True)
class Query:
    clauses: list[Clause]
    order_by: str = "key"
    descending: bool = False


def parse_jql(text: str) -> Query:
    """Parse `a = "x" AND b != y ORDER BY created DESC`; anything else is a JQL error (400)."""
    tokens: list[tuple[str, str]] = []
    position, text = 0, text.strip()
    while position < len(text):
        match = _JQL_TOKEN.match(text, position)
        if not match or match.end() == position:
            raise JiraProblem(
                400, f"Error in the JQL Query: unexpected text at {position}: {text!r}"
            )
        kind = match.lastgroup or ""
        value = match.group(kind)
        tokens.append((kind, re.sub(r"\\(.)", r"\1", value[1:-1]) if kind == "string" else value))
        position = match.end()
    index = 0

    def upcoming() -> str:
        return (
            tokens[index][1].upper() if index < len(tokens) and tokens[index][0] == "word" else ""
        )

    def take(*kinds: str) -> str:
        nonlocal index
        if index >= len(tokens) or tokens[index][0] not in kinds:
            raise JiraProblem(400, f"Error in the JQL Query: the query is incomplete: {text!r}")
        index += 1
        return tokens[index - 1][1]

    clauses: list[Clause] = []
    while index < len(tokens) and upcoming() != "ORDER":
        if clauses and take("word").upper() != "AND":
            raise JiraProblem(400, f"Error in the JQL Query: expected AND or ORDER BY: {text!r}")
        name = take("word")
        if name.lower() not in JQL_FIELDS:
            raise JiraProblem(
                400, f"Field '{name}' does not exist or you do not have permission to view it."
            )
        negated = take("op") == "!="
        clauses.append(Clause(name.lower(), negated, take("string", "word")))
    if index == len(tokens):
        return Query(clauses)
    take("word")  # ORDER
    if take("word").upper() != "BY":
        raise JiraProblem(400, f"Error in the JQL Query: expected BY after ORDER: {text!r}")
    order_by = take("word").lower()
    direction = take("word").upper() if index < len(tokens) else "ASC"
    if (
        index < len(tokens)
        or order_by not in ("created", "key")
        or direction not in ("ASC", "DESC")
    ):
        raise JiraProblem(400, f"Error in the JQL Query: unsupported ORDER BY: {text!r}")
    return Query(clauses, order_by, direction == "DESC")


# ------------------------------------------------------------------------------------------------
# The state: projects, issues, comments, and injected failures.
# ------------------------------------------------------------------------------------------------


@dataclass
class _Issue:
    number: int
    project: str
    issue_type: str
    summary: str
    description: str
    labels: list[str]
    status: str = "To Do"
    created: str = field(default_factory=_now)
    comments: list[Json] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(10000 + self.number)

    @property
    def key(self) -> str:
        return f"{self.project}-{self.number}"


class JiraState:
    """What the emulator holds and does; the HTTP handler only routes to it."""

    def __init__(self, user: str, token: str, projects: tuple[str, ...], deployment: str) -> None:
        self.user, self.token, self.deployment = user, token, deployment
        self.projects = {key: str(10000 + n) for n, key in enumerate(projects)}
        self.issues: list[_Issue] = []
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.base_url = ""
        self._failures: list[int] = []

    # -- plumbing -------------------------------------------------------------------------------

    def fail_next(self, count: int, status: int) -> None:
        with self.lock:
            self._failures.extend([status] * count)

    def take_failure(self) -> int | None:
        with self.lock:
            return self._failures.pop(0) if self._failures else None

    def authorised(self, header: str | None) -> bool:
        scheme, _, credentials = (header or "").partition(" ")
        if scheme.lower() == "bearer":
            return secrets.compare_digest(credentials.strip(), self.token)
        if scheme.lower() == "basic":
            try:
                user, _, token = base64.b64decode(credentials).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return user == self.user and secrets.compare_digest(token, self.token)
        return False

    def _rest(self, version: str, path: str) -> str:
        return f"{self.base_url}/rest/api/{version}/{path}"

    def _find(self, key_or_id: str) -> _Issue:
        for issue in self.issues:
            if key_or_id in (issue.key, issue.id):
                return issue
        raise JiraProblem(404, "Issue does not exist or you do not have permission to see it.")

    def _project_key(self, reference: Json | str | None) -> str:
        wanted = reference if isinstance(reference, str) else None
        if isinstance(reference, dict):
            wanted = reference.get("key") or reference.get("id")
        for key, project_id in self.projects.items():
            if wanted in (key, project_id):
                return key
        raise JiraProblem(400, errors={"project": "valid project is required"})

    # -- resources as JSON ----------------------------------------------------------------------

    def _project_json(self, version: str, key: str) -> Json:
        return {
            "self": self._rest(version, f"project/{self.projects[key]}"),
            "id": self.projects[key],
            "key": key,
            "name": f"{key} project",
            "projectTypeKey": "software",
            "issueTypes": [self._issue_type_json(version, name) for name in ISSUE_TYPES],
        }

    def _issue_type_json(self, version: str, name: str) -> Json:
        type_id = ISSUE_TYPES[name]
        return {"self": self._rest(version, f"issuetype/{type_id}"), "id": type_id, "name": name}

    def _status_json(self, version: str, name: str) -> Json:
        return {
            "self": self._rest(version, f"status/{STATUS_IDS[name]}"),
            "id": STATUS_IDS[name],
            "name": name,
            "statusCategory": STATUS_CATEGORIES[name],
        }

    def _user_json(self) -> Json:
        return {
            "name": self.user,
            "key": self.user,
            "accountId": "5b10a2844c20165700ede21g",
            "emailAddress": self.user,
            "displayName": "Remedy bot",
            "active": True,
        }

    def _comments_json(self, issue: _Issue) -> Json:
        total = len(issue.comments)
        return {"comments": issue.comments, "startAt": 0, "maxResults": total, "total": total}

    def _issue_json(self, version: str, issue: _Issue) -> Json:
        return {
            "expand": "renderedFields,names,schema,transitions,changelog",
            "id": issue.id,
            "key": issue.key,
            "self": self._rest(version, f"issue/{issue.id}"),
            "fields": {
                "summary": issue.summary,
                "description": issue.description,
                "labels": list(issue.labels),
                "project": self._project_json(version, issue.project),
                "issuetype": self._issue_type_json(version, issue.issue_type),
                "status": self._status_json(version, issue.status),
                "created": issue.created,
                "updated": issue.created,
                "comment": self._comments_json(issue),
            },
        }

    # -- endpoints ------------------------------------------------------------------------------

    def server_info(self, version: str, query: Json, body: Json) -> tuple[int, Any]:
        return 200, {
            "baseUrl": self.base_url,
            "version": "10.3.0" if self.deployment != "Cloud" else "1001.0.0-SNAPSHOT",
            "versionNumbers": [10, 3, 0] if self.deployment != "Cloud" else [1001, 0, 0],
            "deploymentType": self.deployment,
            "buildNumber": 100300,
            "serverTitle": "Remedy Jira sandbox",
        }

    def myself(self, version: str, query: Json, body: Json) -> tuple[int, Any]:
        return 200, self._user_json()

    def projects_list(self, version: str, query: Json, body: Json) -> tuple[int, Any]:
        return 200, [self._project_json(version, key) for key in self.projects]

    def project(self, version: str, query: Json, body: Json, key: str) -> tuple[int, Any]:
        for project_key, project_id in self.projects.items():
            if key in (project_key, project_id):
                return 200, self._project_json(version, project_key)
        raise JiraProblem(404, f"No project could be found with key '{key}'.")

    def fields(self, version: str, query: Json, body: Json) -> tuple[int, Any]:
        return 200, [
            {"id": name, "key": name, "name": name.title(), "custom": False, "clauseNames": [name]}
            for name in FIELDS
        ]

    def issue_types(self, version: str, query: Json, body: Json) -> tuple[int, Any]:
        return 200, [self._issue_type_json(version, name) for name in ISSUE_TYPES]

    def create_issue(self, version: str, query: Json, body: Json) -> tuple[int, Any]:
        fields: Json = body.get("fields") or {}
        project = self._project_key(fields.get("project"))
        wanted_type = fields.get("issuetype") or {}
        issue_type = next(
            (
                n
                for n, i in ISSUE_TYPES.items()
                if wanted_type.get("name") == n or wanted_type.get("id") == i
            ),
            None,
        )
        summary = fields.get("summary")
        errors: dict[str, str] = {}
        if issue_type is None:
            errors["issuetype"] = "Specify a valid issue type"
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif "\n" in summary or len(summary) > 255:
            errors["summary"] = "The summary is invalid because it contains newline characters."
        labels = fields.get("labels") or []
        if any(not isinstance(label, str) or re.search(r"\s", label) for label in labels):
            errors["labels"] = "The label contains spaces which is invalid."
        description = fields.get("description") or ""
        if not isinstance(description, str):
            errors["description"] = "Operation value must be a string"
        if errors:
            raise JiraProblem(400, errors=errors)
        number = 1 + sum(1 for i in self.issues if i.project == project)
        issue = _Issue(number, project, issue_type or "Task", str(summary), description, labels)
        self.issues.append(issue)
        return 201, {
            "id": issue.id,
            "key": issue.key,
            "self": self._rest(version, f"issue/{issue.id}"),
        }

    def get_issue(self, version: str, query: Json, body: Json, key: str) -> tuple[int, Any]:
        return 200, self._issue_json(version, self._find(key))

    def update_issue(self, version: str, query: Json, body: Json, key: str) -> tuple[int, Any]:
        issue = self._find(key)
        for operation in (body.get("update") or {}).get("labels", []):
            for verb, label in operation.items():
                if verb == "add" and label not in issue.labels:
                    issue.labels.append(label)
                elif verb == "remove" and label in issue.labels:
                    issue.labels.remove(label)
        if "labels" in (body.get("fields") or {}):
            issue.labels = list(body["fields"]["labels"])
        return 204, None

    def comments(self, version: str, query: Json, body: Json, key: str) -> tuple[int, Any]:
        return 200, self._comments_json(self._find(key))

    def add_comment(self, version: str, query: Json, body: Json, key: str) -> tuple[int, Any]:
        issue = self._find(key)
        if not isinstance(body.get("body"), str) or not body["body"].strip():
            raise JiraProblem(400, errors={"comment": "Comment body can not be empty!"})
        comment_id = str(20000 + sum(len(i.comments) for i in self.issues))
        comment = {
            "self": self._rest(version, f"issue/{issue.id}/comment/{comment_id}"),
            "id": comment_id,
            "author": self._user_json(),
            "body": body["body"],
            "created": _now(),
            "updated": _now(),
        }
        issue.comments.append(comment)
        return 201, comment

    def transitions(self, version: str, query: Json, body: Json, key: str) -> tuple[int, Any]:
        issue = self._find(key)
        return 200, {
            "expand": "transitions",
            "transitions": [
                {"id": t_id, "name": name, "to": self._status_json(version, target)}
                for t_id, (name, target) in TRANSITIONS.items()
                if target != issue.status
            ],
        }

    def do_transition(self, version: str, query: Json, body: Json, key: str) -> tuple[int, Any]:
        issue = self._find(key)
        wanted = str((body.get("transition") or {}).get("id"))
        if wanted not in TRANSITIONS or TRANSITIONS[wanted][1] == issue.status:
            raise JiraProblem(400, f"Transition id '{wanted}' is not valid for this issue.")
        issue.status = TRANSITIONS[wanted][1]
        return 204, None

    def _matches(self, issue: _Issue, clause: Clause) -> bool:
        category = STATUS_CATEGORIES[issue.status]
        values: list[str] = {
            "labels": issue.labels,
            "project": [issue.project, self.projects[issue.project]],
            "key": [issue.key, issue.id],
            "status": [issue.status, STATUS_IDS[issue.status]],
            "statuscategory": [category["name"], category["key"], str(category["id"])],
            "issuetype": [issue.issue_type, ISSUE_TYPES[issue.issue_type]],
            "type": [issue.issue_type, ISSUE_TYPES[issue.issue_type]],
        }[clause.field]
        found = clause.value.casefold() in {v.casefold() for v in values}
        if clause.field == "labels":
            found = clause.value in values  # labels are case-sensitive
        return found != clause.negated

    def _search(self, jql: str) -> list[_Issue]:
        query = parse_jql(jql)
        for clause in query.clauses:
            if clause.field == "project" and not any(
                clause.value in (k, i) for k, i in self.projects.items()
            ):
                raise JiraProblem(
                    400,
                    f"The value '{clause.value}' does not exist for the field 'project'.",
                )
        found = [i for i in self.issues if all(self._matches(i, c) for c in query.clauses)]
        order: Callable[[_Issue], Any] = (
            (lambda i: (i.created, i.number))
            if query.order_by == "created"
            else (lambda i: (i.project, i.number))
        )
        return sorted(found, key=order, reverse=query.descending)

    def search(self, version: str, query: Json, body: Json) -> tuple[int, Any]:
        """Jira Server / Data Center: `startAt` / `maxResults` / `total`."""
        params = {**query, **body}
        found = self._search(str(params.get("jql") or ""))
        start = int(params.get("startAt") or 0)
        size = int(params.get("maxResults") or 50)
        page = found[start : start + size]
        return 200, {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": size,
            "total": len(found),
            "issues": [self._issue_json(version, i) for i in page],
        }

    def search_jql(self, version: str, query: Json, body: Json) -> tuple[int, Any]:
        """Jira Cloud's enhanced search: `nextPageToken` paging, no total."""
        params = {**query, **body}
        found = self._search(str(params.get("jql") or ""))
        start = int(params.get("nextPageToken") or 0)
        size = int(params.get("maxResults") or 50)
        page = found[start : start + size]
        answer: Json = {"issues": [self._issue_json(version, i) for i in page]}
        if start + size < len(found):
            answer["nextPageToken"] = str(start + size)
        answer["isLast"] = "nextPageToken" not in answer
        return 200, answer


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: JiraState) -> None:
        super().__init__(address, _Handler)
        self.state = state


class _Handler(BaseHTTPRequestHandler):
    server: _Server
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


@dataclass
class JiraSandbox:
    """A running emulator. `url` is the Jira server address to put in JiraSettings."""

    url: str
    user: str
    token: str = field(repr=False)
    state: JiraState = field(repr=False)
    _server: _Server | None = field(default=None, repr=False)
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
            self._server = _Server(("127.0.0.1", self.port), self.state)
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
    server = _Server(("127.0.0.1", 0), state)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    state.base_url = url
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="jira-sandbox", daemon=True
    )
    thread.start()
    return JiraSandbox(url, user, state.token, state, server, thread)
