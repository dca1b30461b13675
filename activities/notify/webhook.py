"""The webhook: the run's report as a JSON document, POSTed with a stable Idempotency-Key."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from activities.notify.addresses import origin as origin_of
from activities.notify.addresses import unreachable_reason
from activities.notify.report import Ticket, finding_of, rule_of
from remedy.types import NotifyInput

WEBHOOK_TIMEOUT_S = 15.0


def webhook_document(
    request: NotifyInput, ui_link: str, execution: str, ticket: Ticket | None
) -> dict[str, Any]:
    status = request.status
    rule_id, rule = rule_of(request)
    finding, resource = finding_of(request)
    return {
        # a notice before the end (NotifyInput.stage) is its own event: grace, approval-<n>,
        # decision-<n>; "paused": the action's circuit breaker paused it
        "event": f"remedy.{_event(request.stage)}",
        "stage": request.stage,
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
        "changes": status.changes_made(),
        "plan": status.plan,
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


def _event(stage: str) -> str:
    if stage == "paused":
        return "remediation_action.paused"
    return f"remediation.{stage.rstrip('0123456789-') or 'finished'}"


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
    origin = origin_of(url)
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
            f"the webhook at {origin} cannot be reached ({unreachable_reason(error)})", True
        ) from None
