"""The Jira emulator's REST endpoints, one method each (sandbox/jira_server.py routes to them).

Each takes the API version (2, 3 or latest: it only changes the `self` links), the query
parameters and the JSON body, plus what the route captured, and answers (status, JSON); a
`JiraProblem` is Jira's error answer. The server holds the state's lock around each call.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.jira_search import find_issues
from sandbox.jira_store import (
    FIELDS,
    ISSUE_TYPES,
    TRANSITIONS,
    Issue,
    JiraProblem,
    JiraStore,
    Json,
    now,
)


class JiraState(JiraStore):
    """What the emulator holds and does; the HTTP handler only routes to it."""

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
        return 200, self.user_json()

    def projects_list(self, version: str, query: Json, body: Json) -> tuple[int, Any]:
        return 200, [self.project_json(version, key) for key in self.projects]

    def project(self, version: str, query: Json, body: Json, key: str) -> tuple[int, Any]:
        for project_key, project_id in self.projects.items():
            if key in (project_key, project_id):
                return 200, self.project_json(version, project_key)
        raise JiraProblem(404, f"No project could be found with key '{key}'.")

    def fields(self, version: str, query: Json, body: Json) -> tuple[int, Any]:
        return 200, [
            {"id": name, "key": name, "name": name.title(), "custom": False, "clauseNames": [name]}
            for name in FIELDS
        ]

    def issue_types(self, version: str, query: Json, body: Json) -> tuple[int, Any]:
        return 200, [self.issue_type_json(version, name) for name in ISSUE_TYPES]

    def create_issue(self, version: str, query: Json, body: Json) -> tuple[int, Any]:
        fields: Json = body.get("fields") or {}
        project = self.project_key(fields.get("project"))
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
        issue = Issue(number, project, issue_type or "Task", str(summary), description, labels)
        self.issues.append(issue)
        return 201, {
            "id": issue.id,
            "key": issue.key,
            "self": self.rest(version, f"issue/{issue.id}"),
        }

    def get_issue(self, version: str, query: Json, body: Json, key: str) -> tuple[int, Any]:
        return 200, self.issue_json(version, self.find(key))

    def update_issue(self, version: str, query: Json, body: Json, key: str) -> tuple[int, Any]:
        issue = self.find(key)
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
        return 200, self.comments_json(self.find(key))

    def add_comment(self, version: str, query: Json, body: Json, key: str) -> tuple[int, Any]:
        issue = self.find(key)
        if not isinstance(body.get("body"), str) or not body["body"].strip():
            raise JiraProblem(400, errors={"comment": "Comment body can not be empty!"})
        comment_id = str(20000 + sum(len(i.comments) for i in self.issues))
        comment = {
            "self": self.rest(version, f"issue/{issue.id}/comment/{comment_id}"),
            "id": comment_id,
            "author": self.user_json(),
            "body": body["body"],
            "created": now(),
            "updated": now(),
        }
        issue.comments.append(comment)
        return 201, comment

    def transitions(self, version: str, query: Json, body: Json, key: str) -> tuple[int, Any]:
        issue = self.find(key)
        return 200, {
            "expand": "transitions",
            "transitions": [
                {"id": t_id, "name": name, "to": self.status_json(version, target)}
                for t_id, (name, target) in TRANSITIONS.items()
                if target != issue.status
            ],
        }

    def do_transition(self, version: str, query: Json, body: Json, key: str) -> tuple[int, Any]:
        issue = self.find(key)
        wanted = str((body.get("transition") or {}).get("id"))
        if wanted not in TRANSITIONS or TRANSITIONS[wanted][1] == issue.status:
            raise JiraProblem(400, f"Transition id '{wanted}' is not valid for this issue.")
        issue.status = TRANSITIONS[wanted][1]
        return 204, None

    def search(self, version: str, query: Json, body: Json) -> tuple[int, Any]:
        """Jira Server / Data Center: `startAt` / `maxResults` / `total`."""
        params = {**query, **body}
        found = find_issues(self.issues, self.projects, str(params.get("jql") or ""))
        start = int(params.get("startAt") or 0)
        size = int(params.get("maxResults") or 50)
        page = found[start : start + size]
        return 200, {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": size,
            "total": len(found),
            "issues": [self.issue_json(version, i) for i in page],
        }

    def search_jql(self, version: str, query: Json, body: Json) -> tuple[int, Any]:
        """Jira Cloud's enhanced search: `nextPageToken` paging, no total."""
        params = {**query, **body}
        found = find_issues(self.issues, self.projects, str(params.get("jql") or ""))
        start = int(params.get("nextPageToken") or 0)
        size = int(params.get("maxResults") or 50)
        page = found[start : start + size]
        answer: Json = {"issues": [self.issue_json(version, i) for i in page]}
        if start + size < len(found):
            answer["nextPageToken"] = str(start + size)
        answer["isLast"] = "nextPageToken" not in answer
        return 200, answer
