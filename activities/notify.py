"""Notify: file or update a Jira issue, call a webhook. (Placeholder until the Jira work lands.)"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from remedy.types import NotifyInput, NotifyResult


class NotifyActivities:
    @activity.defn(name="notify")
    async def notify(self, request: NotifyInput) -> NotifyResult:
        raise ApplicationError(
            "notifications are not available in this worker version",
            type="NotImplemented",
            non_retryable=True,
        )
