"""Notify: file the run's Jira issue (or comment on the finding's open one), and call a webhook.

Jira goes through the `jira` client (its blocking calls in a thread). Where the issue lives comes
from the remediation's settings; the credentials only from the worker's environment:
JIRA_USER + JIRA_API_TOKEN (basic auth: Jira Cloud's account email and API token, or a Server
user's password), else JIRA_TOKEN (a Server / Data Center personal access token, sent as bearer).

Guarantees:
- One report per run, however often the step is retried: the issue carries the labels `remedy`,
  `remedy-run-<run id>` and `remedy-finding-<hash of the finding id>`, and the text it gets from
  one execution names that execution (`remedy execution <Temporal run id>`). Before filing, the
  issues with the run's label are searched for that mark; found, nothing is filed again.
- The same finding remediated again (`comment_on_existing`): the finding's open issue gets a
  comment (and the new run's label) instead of a second issue.
- `done_transition`, on a run that succeeded: the issue is moved to that status (matched by the
  transition's name or by the status it leads to); an issue already there is left alone.
- Jira or the webhook down, busy or erroring (connection refused, timeout, HTTP 5xx, 429): a
  retryable error, and the workflow retries with backoff. Refusals that a retry cannot mend
  (credentials missing or refused, 403, unknown project, a 4xx from the webhook): non-retryable,
  with what to check. With both channels configured, one that fails for good does not hide the
  other's success: the result says both. The webhook waits while Jira is being retried, so a
  receiver is not called once per Jira attempt (its `Idempotency-Key` header is stable anyway).
- No credential appears in a result, an error message or a log line: messages are built from
  status codes and Jira's error text, never from the client's exceptions (whose text carries the
  request headers).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from jira import JIRA, JIRAError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from remedy.config import temporal_settings
from remedy.destinations import allowed_from_environ, refusal
from remedy.logs import redact, register_secret
from remedy.types import JiraSettings, NotifyInput, NotifyResult, RunState, RunStatus, StepStatus

log = logging.getLogger("remedy.notify")

CREDENTIAL_HELP = (
    "set JIRA_USER and JIRA_API_TOKEN (Jira Cloud: the account's email and an API token) or "
    "JIRA_TOKEN (Jira Server / Data Center: a personal access token) in the worker's environment"
)
SUMMARY_LIMIT = 255
TAIL_LIMIT = 3_000
DESCRIPTION_LIMIT = 30_000
JIRA_TIMEOUT = (5.0, 20.0)  # connect, read
WEBHOOK_TIMEOUT_S = 15.0


# ------------------------------------------------------------------------------------------------
# Credentials: from the worker's environment, held in memory only.
# ------------------------------------------------------------------------------------------------


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


# ------------------------------------------------------------------------------------------------
# What the report says: pure functions of the run.
# ------------------------------------------------------------------------------------------------


def _info(payload: dict[str, Any]) -> dict[str, Any]:
    info = payload.get("notificationInfo")
    return info if isinstance(info, dict) else {}


def rule_of(request: NotifyInput) -> tuple[str | None, str]:
    """(rule id, the rule's name for people)."""
    info = _info(request.payload)
    rule_id = request.status.rule_id or info.get("RuleID")
    name = info.get("RuleDisplayName") or info.get("RuleName") or rule_id or "finding"
    return (str(rule_id) if rule_id else None), str(name)


def finding_of(request: NotifyInput) -> tuple[str | None, str]:
    """(finding id, resource)."""
    details = _info(request.payload).get("FindingInfo")
    details = details if isinstance(details, dict) else {}
    finding = request.status.finding_id or details.get("FindingId")
    resource = request.status.resource or details.get("ObjectId") or "unknown resource"
    return (str(finding) if finding else None), str(resource)


def label(text: str) -> str:
    """A Jira label: no whitespace, at most 255 characters."""
    return re.sub(r"\s+", "-", text.strip())[:255]


def run_label(run_id: str) -> str:
    return label(f"remedy-run-{run_id}")


def finding_label(finding_id: str) -> str:
    return f"remedy-finding-{hashlib.sha256(finding_id.encode()).hexdigest()[:20]}"


def execution_mark(execution: str) -> str:
    """Names the workflow execution that wrote a text (the idempotency mark)."""
    return f"(remedy execution {execution})"


def summary_for(request: NotifyInput) -> str:
    _, rule = rule_of(request)
    _, resource = finding_of(request)
    text = " ".join(f"[Remedy] {rule}: {resource}".split())
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def _verdict(status: RunStatus) -> str:
    return {
        RunState.SUCCEEDED: "succeeded",
        RunState.FAILED: "failed",
        RunState.CANCELLED: "was cancelled",
    }.get(status.state, str(status.state))


def _tail(step: StepStatus) -> str:
    text = step.log_tail.strip()
    if len(text) > TAIL_LIMIT:
        text = "…" + text[-TAIL_LIMIT:]
    return text.replace("{noformat}", "{ noformat}") or "(no output)"


def report_text(request: NotifyInput, ui_link: str, execution: str) -> str:
    """The issue's description (and a later run's comment), in Jira wiki markup."""
    status = request.status
    rule_id, rule = rule_of(request)
    finding, resource = finding_of(request)
    changes = [change for step in status.steps for change in step.changes]
    lines = [
        f"Remedy remediation *{_verdict(status)}*: {status.message}",
        "",
        f"*Rule:* {rule}" + (f" ({rule_id})" if rule_id and rule_id != rule else ""),
        f"*Resource:* {resource}",
        f"*Finding:* {finding or 'unknown'}",
        f"*Account:* {status.account_id or 'unknown'}",
        f"*Remediation:* {status.remediation}",
        f"*Run:* {status.run_id} {execution_mark(execution)}",
        f"*Temporal UI:* {ui_link}",
        "",
        "h3. Changes",
        *([f"* {change}" for change in changes] or ["No change was made."]),
        "",
        "h3. Steps",
        *(
            f"* {step.name}: {step.state}" + (f" — {step.message}" if step.message else "")
            for step in status.steps
            if step.kind != "notify"
        ),
    ]
    for step in status.steps:
        if step.kind == "job" and step.state in ("succeeded", "failed"):
            exit_code = "" if step.exit_code is None else f", exit {step.exit_code}"
            lines += [
                "",
                f"h3. Log of {step.name} ({step.state}{exit_code})",
                "{noformat}",
                _tail(step),
                "{noformat}",
            ]
    text = redact("\n".join(lines))
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 20] + "\n… (cut)"


def webhook_document(
    request: NotifyInput, ui_link: str, execution: str, ticket: Ticket | None
) -> dict[str, Any]:
    status = request.status
    rule_id, rule = rule_of(request)
    finding, resource = finding_of(request)
    return {
        "event": "remedy.remediation.finished",
        "run_id": status.run_id,
        "execution": execution,
        "state": str(status.state),
        "message": status.message,
        "remediation": status.remediation,
        "finding_id": finding,
        "resource": resource,
        "rule": rule,
        "rule_id": rule_id,
        "account_id": status.account_id,
        "changes": [change for step in status.steps for change in step.changes],
        "steps": [
            {"name": s.name, "state": str(s.state), "message": s.message}
            for s in status.steps
            if s.kind != "notify"
        ],
        "ui_url": ui_link,
        "jira_issue": ticket.key if ticket else None,
        "jira_url": ticket.url if ticket else None,
        "started_at": status.started_at.isoformat() if status.started_at else None,
        "ended_at": status.ended_at.isoformat() if status.ended_at else None,
    }


def _where(url: str) -> str:
    """scheme://host[:port][/path] without user info (for messages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


def _origin(url: str) -> str:
    """scheme://host[:port] only: a webhook's path may itself be a secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ------------------------------------------------------------------------------------------------
# Jira.
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ticket:
    key: str
    url: str
    message: str


class _JiraFiler:
    """One attempt at filing the run's report; `doing` says what it was doing when it failed."""

    def __init__(
        self, settings: JiraSettings, request: NotifyInput, execution: str, ui_link: str
    ) -> None:
        self.settings, self.request = settings, request
        self.execution, self.ui_link = execution, ui_link
        self.server = _where(settings.server)
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

    def _written_here(self, client: JIRA, issue: Any) -> bool:
        mark = execution_mark(self.execution)
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
        text = report_text(self.request, self.ui_link, self.execution)

        for issue in self._search(
            client, f"{in_project} AND labels = {_quoted(mine)}", "the run's issue"
        ):
            self.doing = f"reading {issue.key}"
            full = client.issue(issue.key)
            if self._written_here(client, full):  # a retried step: the report is there
                return self._finish(
                    client, full, f"Jira issue {full.key} already filed for this run"
                )

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


def _unreachable_reason(error: BaseException) -> str:
    text = str(error)
    if "refused" in text.lower():
        return "connection refused"
    if "timed out" in text.lower() or "timeout" in type(error).__name__.lower():
        return "timed out"
    if "resolve" in text.lower() or "name or service not known" in text.lower():
        return "the host name does not resolve"
    if "ssl" in text.lower() or "certificate" in text.lower():
        return "TLS handshake failed"
    return type(error).__name__


# ------------------------------------------------------------------------------------------------
# Webhook.
# ------------------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a GET without a body: report it instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class WebhookFailure(Exception):
    message: str
    retryable: bool
    status: int | None = None


def post_webhook(url: str, document: dict[str, Any], idempotency_key: str) -> int:
    """POST the document as JSON; return the HTTP status (2xx) or raise WebhookFailure."""
    origin = _origin(url)
    if urlsplit(url).scheme not in ("http", "https"):
        raise WebhookFailure(f"the webhook URL must be http:// or https://, not {origin}", False)
    request = urllib.request.Request(
        url,
        data=json.dumps(document).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "remedy-notify",
            "Idempotency-Key": idempotency_key,
        },
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        code = error.code
        retryable = code >= 500 or code in (408, 429)
        hint = "" if retryable else ": check the webhook URL and what the receiver expects"
        if 300 <= code < 400:
            hint = ": it redirects; configure the final URL"
        raise WebhookFailure(
            f"the webhook at {origin} answered HTTP {code}{hint}", retryable, code
        ) from None
    except OSError as error:  # URLError, connection refused, timeout, TLS
        raise WebhookFailure(
            f"the webhook at {origin} cannot be reached ({_unreachable_reason(error)})", True
        ) from None


# ------------------------------------------------------------------------------------------------
# The activity.
# ------------------------------------------------------------------------------------------------


class NotifyActivities:
    """Reports a finished run. Credentials are read once, when the worker is built."""

    def __init__(
        self,
        *,
        ui_url: str = "http://127.0.0.1:8233",
        namespace: str = "default",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        self._credentials = JiraCredentials.from_environ(environ)
        self._allowed = allowed_from_environ(environ)  # REMEDY_NOTIFY_ALLOWED_HOSTS
        register_secret(self._credentials.api_token)
        register_secret(self._credentials.personal_token)
        self._ui_url, self._namespace = ui_url.rstrip("/"), namespace

    @classmethod
    def from_environment(cls) -> NotifyActivities:
        """Temporal UI address and namespace from TEMPORAL_UI_URL / TEMPORAL_NAMESPACE."""
        settings = temporal_settings()
        return cls(ui_url=settings.ui_url, namespace=settings.namespace)

    def ui_link(self, run_id: str) -> str:
        return f"{self._ui_url}/namespaces/{self._namespace}/workflows/{run_id}"

    def _file_ticket(self, request: NotifyInput, settings: JiraSettings, execution: str) -> Ticket:
        filer = _JiraFiler(settings, request, execution, self.ui_link(request.status.run_id))
        auth = self._credentials.client_auth()
        refused = refusal(settings.server, self._allowed, resolve=True)
        if refused:  # before any connection: the credentials go only where the worker allows
            raise ApplicationError(
                f"Jira at {filer.server} is refused: {refused}",
                type="DestinationRefused",
                non_retryable=True,
            )
        try:
            return filer.file(auth)
        except JIRAError as error:
            raise _jira_failure(error, filer, self._credentials) from None
        except OSError as error:  # requests' ConnectionError and Timeout are OSErrors
            raise ApplicationError(
                f"Jira at {filer.server} cannot be reached ({_unreachable_reason(error)}) while "
                f"{filer.doing}",
                type="JiraUnavailable",
            ) from None

    @activity.defn(name="notify")
    async def notify(self, request: NotifyInput) -> NotifyResult:
        info = activity.info()
        execution, run_id = info.workflow_run_id or info.activity_id, request.status.run_id
        last_attempt = info.attempt >= request.settings.max_attempts
        result = NotifyResult()
        done: list[str] = []
        failed: list[str] = []
        retry_later = False
        ticket: Ticket | None = None

        if request.settings.jira is not None:
            try:
                filed = await asyncio.to_thread(
                    self._file_ticket, request, request.settings.jira, execution
                )
            except ApplicationError as error:
                if not error.non_retryable and not last_attempt:
                    log.warning("no Jira issue yet: %s", error.message, extra={"runId": run_id})
                    raise  # the webhook waits for the retry, so it is called once
                failed.append(error.message)
                retry_later = retry_later or not error.non_retryable
            else:
                ticket, result.jira_issue, result.jira_url = filed, filed.key, filed.url
                done.append(filed.message)

        if request.settings.webhook is not None:
            document = webhook_document(request, self.ui_link(run_id), execution, ticket)
            url = request.settings.webhook.url
            try:
                refused = await asyncio.to_thread(refusal, url, self._allowed, resolve=True)
                if refused:
                    raise WebhookFailure(
                        f"the webhook at {_origin(url)} is refused: {refused}", False
                    )
                result.webhook_status = await asyncio.to_thread(
                    post_webhook, request.settings.webhook.url, document, f"{run_id}/{execution}"
                )
            except WebhookFailure as failure:
                result.webhook_status = failure.status
                if failure.retryable and not last_attempt:
                    log.warning(
                        "webhook not called yet: %s", failure.message, extra={"runId": run_id}
                    )
                    raise ApplicationError(failure.message, type="WebhookUnavailable") from None
                failed.append(failure.message)
                retry_later = retry_later or failure.retryable
            else:
                done.append(f"webhook answered {result.webhook_status}")

        if not done:
            message = "; ".join(failed) or "nothing to notify"
            log.warning("no notification made: %s", message, extra={"runId": run_id})
            raise ApplicationError(
                message, type="NotificationFailed", non_retryable=not retry_later
            )
        result.message = "; ".join(done + [f"but {reason}" for reason in failed])
        log.info(
            result.message,
            extra={
                "runId": run_id,
                "jiraIssue": result.jira_issue,
                "webhookStatus": result.webhook_status,
            },
        )
        return result
