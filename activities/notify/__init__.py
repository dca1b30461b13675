"""Notify: file the run's Jira issue (or comment on the finding's open one), and call a webhook.

Jira goes through the `jira` client (its blocking calls in a thread). Where the issue lives comes
from the remediation's settings; the credentials only from the worker's environment:
JIRA_USER + JIRA_API_TOKEN (basic auth: Jira Cloud's account email and API token, or a Server
user's password), else JIRA_TOKEN (a Server / Data Center personal access token, sent as bearer).
The parts: `report` (what is said), `jira_issues` (filing), `webhook` (the POST); this module
holds the activity, which decides what is retried.

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
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notify.addresses import origin, where
from activities.notify.jira_issues import JiraCredentials, file_ticket
from activities.notify.report import Ticket, finding_label, report_text, run_label
from activities.notify.webhook import WebhookFailure, post_webhook, webhook_document
from remedy.config import temporal_settings
from remedy.destinations import allowed_from_environ, refusal
from remedy.logs import register_secret
from remedy.metrics import count_notifications
from remedy.types import JiraSettings, NotifyInput, NotifyResult

__all__ = [
    "NotifyActivities",
    "Ticket",
    "finding_label",
    "report_text",
    "run_label",
    "webhook_document",
]

log = logging.getLogger("remedy.notify")


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
        has_jira = self._credentials.api_token or self._credentials.personal_token
        if has_jira and not self._allowed:
            log.warning(
                "Jira credentials are set but REMEDY_NOTIFY_ALLOWED_HOSTS is empty: no Jira issue "
                "or webhook call will be made; list your Jira host there (e.g. "
                "REMEDY_NOTIFY_ALLOWED_HOSTS=jira.example.com)"
            )

    @classmethod
    def from_environment(cls) -> NotifyActivities:
        """Temporal UI address and namespace from TEMPORAL_UI_URL / TEMPORAL_NAMESPACE."""
        settings = temporal_settings()
        return cls(ui_url=settings.ui_url, namespace=settings.namespace)

    def ui_link(self, run_id: str) -> str:
        return f"{self._ui_url}/namespaces/{self._namespace}/workflows/{run_id}"

    def _file_ticket(self, request: NotifyInput, settings: JiraSettings, execution: str) -> Ticket:
        link = self.ui_link(request.status.batch_id or request.status.run_id)
        self._credentials.client_auth()  # missing credentials are said first
        refused = refusal(settings.server, self._allowed, resolve=True)
        if refused:  # before any connection: the credentials go only where the worker allows
            raise ApplicationError(
                f"Jira at {where(settings.server)} is refused: {refused}",
                type="DestinationRefused",
                non_retryable=True,
            )
        return file_ticket(settings, request, execution, link, self._credentials)

    @activity.defn(name="notify")
    async def notify(self, request: NotifyInput) -> NotifyResult:
        info = activity.info()
        execution = info.workflow_run_id or info.activity_id
        if request.stage:  # a notice: its own mark and idempotency key, the run's issue
            execution = f"{execution}/{request.stage}"
        outcome = _Outcome(last_attempt=info.attempt >= request.settings.max_attempts)
        ticket = await self._jira(request, execution, outcome)
        await self._webhook(request, execution, ticket, outcome)
        run_id, result = request.status.run_id, outcome.result
        count_notifications(len(outcome.done), len(outcome.failed))
        if not outcome.done:
            message = "; ".join(outcome.failed) or "nothing to notify"
            log.warning("no notification made: %s", message, extra={"runId": run_id})
            raise ApplicationError(
                message, type="NotificationFailed", non_retryable=not outcome.retry_later
            )
        result.message = "; ".join(outcome.done + [f"but {reason}" for reason in outcome.failed])
        log.info(
            result.message,
            extra={
                "runId": run_id,
                "jiraIssue": result.jira_issue,
                "webhookStatus": result.webhook_status,
            },
        )
        return result

    async def _jira(self, request: NotifyInput, execution: str, outcome: _Outcome) -> Ticket | None:
        """The run's Jira issue, when configured; a retryable failure is raised for a retry
        unless this is the last attempt (the webhook waits for it, so it is called once)."""
        if request.settings.jira is None:
            return None
        try:
            ticket = await asyncio.to_thread(
                self._file_ticket, request, request.settings.jira, execution
            )
        except ApplicationError as error:
            if not error.non_retryable and not outcome.last_attempt:
                log.warning(
                    "no Jira issue yet: %s", error.message, extra={"runId": request.status.run_id}
                )
                raise
            outcome.failed.append(error.message)
            outcome.retry_later = outcome.retry_later or not error.non_retryable
            return None
        outcome.result.jira_issue, outcome.result.jira_url = ticket.key, ticket.url
        outcome.done.append(ticket.message)
        return ticket

    async def _webhook(
        self, request: NotifyInput, execution: str, ticket: Ticket | None, outcome: _Outcome
    ) -> None:
        """Call the webhook, when configured, with the report (and the issue filed, if any)."""
        if request.settings.webhook is None:
            return
        run_id = request.status.run_id
        link = self.ui_link(request.status.batch_id or run_id)
        document = webhook_document(request, link, execution, ticket)
        url = request.settings.webhook.url
        try:
            refused = await asyncio.to_thread(refusal, url, self._allowed, resolve=True)
            if refused:
                raise WebhookFailure(f"the webhook at {origin(url)} is refused: {refused}", False)
            outcome.result.webhook_status = await asyncio.to_thread(
                post_webhook, request.settings.webhook.url, document, f"{run_id}/{execution}"
            )
        except WebhookFailure as failure:
            outcome.result.webhook_status = failure.status
            if failure.retryable and not outcome.last_attempt:
                log.warning("webhook not called yet: %s", failure.message, extra={"runId": run_id})
                raise ApplicationError(failure.message, type="WebhookUnavailable") from None
            outcome.failed.append(failure.message)
            outcome.retry_later = outcome.retry_later or failure.retryable
            return
        outcome.done.append(f"webhook answered {outcome.result.webhook_status}")


@dataclass
class _Outcome:
    """What one notify attempt achieved so far, channel by channel."""

    last_attempt: bool
    result: NotifyResult = field(default_factory=NotifyResult)
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    #: a channel failed in a way a later run of the step could mend
    retry_later: bool = False
