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

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notify.jira_issues import JiraCredentials, file_ticket
from activities.notify.report import Ticket, finding_label, report_text, run_label
from activities.notify.webhook import WebhookFailure, post_webhook, webhook_document
from remedy.config import temporal_settings
from remedy.logs import register_secret
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
        self._credentials = JiraCredentials.from_environ(os.environ if environ is None else environ)
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
        link = self.ui_link(request.status.run_id)
        return file_ticket(settings, request, execution, link, self._credentials)

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
            try:
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
