"""The Jira emulator's state: projects, issues and their comments, and how Jira shows each in JSON.

The workflow is Jira Cloud's simple one: To Do → In Progress → Done, through the transitions
"Start Progress", "Resolve" and "Reopen". A `JiraProblem` raised anywhere becomes Jira's error
answer (`errorMessages`, `errors`) with its status.
"""

from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]

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


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


@dataclass
class Issue:
    number: int
    project: str
    issue_type: str
    summary: str
    description: str
    labels: list[str]
    status: str = "To Do"
    created: str = field(default_factory=now)
    comments: list[Json] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(10000 + self.number)

    @property
    def key(self) -> str:
        return f"{self.project}-{self.number}"


class JiraStore:
    """What the emulator holds: projects, issues, requests seen, failures to inject; and how each
    looks in JSON. The endpoints (sandbox/jira_endpoints.py) read and change it."""

    def __init__(self, user: str, token: str, projects: tuple[str, ...], deployment: str) -> None:
        self.user, self.token, self.deployment = user, token, deployment
        self.projects = {key: str(10000 + n) for n, key in enumerate(projects)}
        self.issues: list[Issue] = []
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

    def rest(self, version: str, path: str) -> str:
        return f"{self.base_url}/rest/api/{version}/{path}"

    def find(self, key_or_id: str) -> Issue:
        for issue in self.issues:
            if key_or_id in (issue.key, issue.id):
                return issue
        raise JiraProblem(404, "Issue does not exist or you do not have permission to see it.")

    def project_key(self, reference: Json | str | None) -> str:
        wanted = reference if isinstance(reference, str) else None
        if isinstance(reference, dict):
            wanted = reference.get("key") or reference.get("id")
        for key, project_id in self.projects.items():
            if wanted in (key, project_id):
                return key
        raise JiraProblem(400, errors={"project": "valid project is required"})

    # -- resources as JSON ----------------------------------------------------------------------

    def project_json(self, version: str, key: str) -> Json:
        return {
            "self": self.rest(version, f"project/{self.projects[key]}"),
            "id": self.projects[key],
            "key": key,
            "name": f"{key} project",
            "projectTypeKey": "software",
            "issueTypes": [self.issue_type_json(version, name) for name in ISSUE_TYPES],
        }

    def issue_type_json(self, version: str, name: str) -> Json:
        type_id = ISSUE_TYPES[name]
        return {"self": self.rest(version, f"issuetype/{type_id}"), "id": type_id, "name": name}

    def status_json(self, version: str, name: str) -> Json:
        return {
            "self": self.rest(version, f"status/{STATUS_IDS[name]}"),
            "id": STATUS_IDS[name],
            "name": name,
            "statusCategory": STATUS_CATEGORIES[name],
        }

    def user_json(self) -> Json:
        return {
            "name": self.user,
            "key": self.user,
            "accountId": "5b10a2844c20165700ede21g",
            "emailAddress": self.user,
            "displayName": "Remedy bot",
            "active": True,
        }

    def comments_json(self, issue: Issue) -> Json:
        total = len(issue.comments)
        return {"comments": issue.comments, "startAt": 0, "maxResults": total, "total": total}

    def issue_json(self, version: str, issue: Issue) -> Json:
        return {
            "expand": "renderedFields,names,schema,transitions,changelog",
            "id": issue.id,
            "key": issue.key,
            "self": self.rest(version, f"issue/{issue.id}"),
            "fields": {
                "summary": issue.summary,
                "description": issue.description,
                "labels": list(issue.labels),
                "project": self.project_json(version, issue.project),
                "issuetype": self.issue_type_json(version, issue.issue_type),
                "status": self.status_json(version, issue.status),
                "created": issue.created,
                "updated": issue.created,
                "comment": self.comments_json(issue),
            },
        }
