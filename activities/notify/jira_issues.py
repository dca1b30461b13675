"""Jira: file the run's issue, or comment on the finding's open one; errors named for people.

The credentials come only from the worker's environment and are held in memory; messages are built
from status codes and Jira's error text, never from the client's exceptions (whose text carries
the request headers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jira import JIRA, JIRAError
from temporalio.exceptions import ApplicationError

from activities.notify.addresses import unreachable_reason, where
from activities.notify.report import (
    Ticket,
    execution_mark,
    finding_label,
    finding_of,
    notice_text,
    report_text,
    run_label,
    summary_for,
)
from remedy.logs import redact
from remedy.types import JiraSettings, NotifyInput, RunState

CREDENTIAL_HELP = (
    "set JIRA_USER and JIRA_API_TOKEN (Jira Cloud: the account's email and an API token) or "
    "JIRA_TOKEN (Jira Server / Data Center: a personal access token) in the worker's environment"
)
JIRA_TIMEOUT = (5.0, 20.0)  # connect, read


@dataclass(frozen=True)
class JiraCredentials:
    user: str | None = None
    api_token: str | None = field(default=None, repr=False)
    personal_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> JiraCredentials:
        return cls(
            user=environ.get("JIRA_USER") or None,
            api_token=environ.get("JIRA_API_TOKEN") or None,
            personal_token=environ.get("JIRA_TOKEN") or None,
        )

    def client_auth(self) -> dict[str, Any]:
        """The `JIRA(...)` keyword for these credentials; missing ones: a non-retryable error."""
        if self.user and self.api_token:
            return {"basic_auth": (self.user, self.api_token)}
        if self.personal_token:
            return {"token_auth": self.personal_token}
        if self.api_token:
            problem = "JIRA_API_TOKEN is set but JIRA_USER is not"
        elif self.user:
            problem = "JIRA_USER is set but neither JIRA_API_TOKEN nor JIRA_TOKEN is"
        else:
            problem = "the worker has no Jira credentials"
        raise ApplicationError(
            f"{problem}: {CREDENTIAL_HELP}", type="JiraCredentialsMissing", non_retryable=True
        )

    def variables(self) -> str:
        if self.user and self.api_token:
            return "JIRA_USER and JIRA_API_TOKEN"
        return "JIRA_TOKEN"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _JiraFiler:
    """One attempt at filing the run's report; `doing` says what it was doing when it failed."""

    def __init__(
        self, settings: JiraSettings, request: NotifyInput, execution: str, ui_link: str
    ) -> None:
        self.settings, self.request = settings, request
        self.execution, self.ui_link = execution, ui_link
        self.server = where(settings.server)
        self.doing = "connecting"

    def file(self, auth: dict[str, Any]) -> Ticket:
        client = JIRA(
            server=self.settings.server.rstrip("/"), max_retries=0, timeout=JIRA_TIMEOUT, **auth
        )
        try:
            return self._file(client)
        finally:
            client.close()  # type: ignore[no-untyped-call]

    def _search(self, client: JIRA, jql: str, what: str) -> list[Any]:
        self.doing = f"searching for {what}"
        return list(client.search_issues(jql, maxResults=20, fields="summary,labels,status"))

    def _written_here(self, client: JIRA, issue: Any, *, any_stage: bool = False) -> bool:
        """Whether this execution (this stage of it, or `any_stage`) wrote in the issue."""
        mark = execution_mark(self.execution)
        if any_stage:  # "(remedy execution <id>/grace)" and "(remedy execution <id>)" alike
            mark = mark.split("/")[0].removesuffix(")")
        if mark in (getattr(issue.fields, "description", None) or ""):
            return True
        self.doing = f"reading the comments of {issue.key}"
        return any(mark in (comment.body or "") for comment in client.comments(issue.key))

    def _file(self, client: JIRA) -> Ticket:
        settings, status = self.settings, self.request.status
        self.doing = f"reading project {settings.project}"
        project = client.project(settings.project)
        in_project = f"project = {_quoted(project.key)}"
        mine = run_label(status.run_id)
        finding_id, _ = finding_of(self.request)
        notice = bool(self.request.stage)
        text = (notice_text if notice else report_text)(self.request, self.ui_link, self.execution)

        for issue in self._search(
            client, f"{in_project} AND labels = {_quoted(mine)}", "the run's issue"
        ):
            self.doing = f"reading {issue.key}"
            full = client.issue(issue.key)
            if self._written_here(client, full):  # a retried step: the report is there
                return self._finish(
                    client, full, f"Jira issue {full.key} already filed for this run"
                )
            if self._written_here(client, full, any_stage=True):  # a notice of this execution
                self.doing = f"commenting on {full.key}"
                client.add_comment(full.key, text)
                return self._finish(client, full, f"commented on Jira issue {full.key}")

        if settings.comment_on_existing and finding_id:
            open_issues = self._search(
                client,
                f"{in_project} AND labels = {_quoted(finding_label(finding_id))} "
                "AND statusCategory != Done ORDER BY created DESC",
                "the finding's open issue",
            )
            if open_issues:
                issue = open_issues[0]
                if not self._written_here(client, issue):
                    self.doing = f"commenting on {issue.key}"
                    client.add_comment(
                        issue.key, f"Remedy remediated this finding again.\n\n{text}"
                    )
                if mine not in issue.fields.labels:
                    self.doing = f"labelling {issue.key}"
                    issue.add_field_value("labels", mine)
                return self._finish(client, issue, f"commented on Jira issue {issue.key}")

        labels = ["remedy", mine] + ([finding_label(finding_id)] if finding_id else [])
        self.doing = f"creating the issue in project {project.key}"
        issue = client.create_issue(
            fields={
                "project": {"key": project.key},
                "issuetype": {"name": settings.issue_type},
                "summary": summary_for(self.request),
                "description": text,
                "labels": labels,
            }
        )
        return self._finish(client, issue, f"Jira issue {issue.key} created")

    def _finish(self, client: JIRA, issue: Any, message: str) -> Ticket:
        target = self.settings.done_transition
        if target and self.request.status.state == RunState.SUCCEEDED:
            message += self._close(client, issue, target)
        return Ticket(issue.key, issue.permalink(), message)

    def _close(self, client: JIRA, issue: Any, target: str) -> str:
        wanted = target.casefold()
        if issue.fields.status.name.casefold() == wanted:
            return ""
        self.doing = f"moving {issue.key} to {target}"
        offered = client.transitions(issue.key)
        for transition in offered:
            to = str((transition.get("to") or {}).get("name") or "")
            if wanted in (str(transition["name"]).casefold(), to.casefold()):
                client.transition_issue(issue.key, str(transition["id"]))
                return f" and moved to {to or transition['name']}"
        names = ", ".join(f"{t['name']!r}" for t in offered) or "none"
        return f" (not moved to {target!r}: the transitions it offers are {names})"


def _jira_failure(
    error: JIRAError, filer: _JiraFiler, credentials: JiraCredentials
) -> ApplicationError:
    status = error.status_code
    detail = " ".join(redact(str(error.text or "")).split())[:300]
    where, doing, project = f"Jira at {filer.server}", filer.doing, filer.settings.project
    retryable = False
    if status == 401:
        kind = "JiraCredentialsRefused"
        message = (
            f"{where} refused the credentials (HTTP 401) while {doing}: check "
            f"{credentials.variables()} in the worker's environment ({CREDENTIAL_HELP})"
        )
    elif status == 403:
        kind = "JiraForbidden"
        message = (
            f"{where} forbade {doing} (HTTP 403{': ' + detail if detail else ''}): the Jira user "
            f"needs Browse Projects, Create Issues, Add Comments and Transition Issues in "
            f"project {project}"
        )
    elif status == 404 and doing.startswith("reading project"):
        kind = "JiraProjectNotFound"
        message = (
            f"project {project!r} was not found on {where} (HTTP 404), or the Jira user may not "
            "browse it: check the project key in the remediation's notify settings and the "
            "user's permissions"
        )
    elif status == 429 or (status is not None and status >= 500):
        kind, retryable = "JiraUnavailable", True
        message = f"{where} is unavailable (HTTP {status}) while {doing}"
    elif status is None:
        kind = "JiraRefused"
        message = f"{where}: {doing} failed: {detail or 'no detail given'}"
    else:
        kind = "JiraRefused"
        message = (
            f"{where} refused {doing} (HTTP {status}{': ' + detail if detail else ''}): check "
            f"the server URL, the issue type {filer.settings.issue_type!r} and the project's "
            "required fields"
        )
    return ApplicationError(message, type=kind, non_retryable=not retryable)


def file_ticket(
    settings: JiraSettings,
    request: NotifyInput,
    execution: str,
    ui_link: str,
    credentials: JiraCredentials,
) -> Ticket:
    """File (or find, or comment) the run's issue; an ApplicationError saying why not."""
    filer = _JiraFiler(settings, request, execution, ui_link)
    try:
        return filer.file(credentials.client_auth())
    except JIRAError as error:
        raise _jira_failure(error, filer, credentials) from None
    except OSError as error:  # requests' ConnectionError and Timeout are OSErrors
        raise ApplicationError(
            f"Jira at {filer.server} cannot be reached ({unreachable_reason(error)}) while "
            f"{filer.doing}",
            type="JiraUnavailable",
        ) from None
