"""A notice that belongs to no run (deterministic): the hub asks a worker of the action's group to
tell the action's Jira project and webhook, e.g. that its circuit breaker paused it.

The worker holds the notification credentials and the allow-list of where they may go
(remedy/destinations.py), so the hub never calls Jira or a webhook itself. One `notify` activity,
retried as a run's notification is; its result says what was filed.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from remedy.types import NotifyInput, NotifyResult
    from workflows.retry_policies import NOTIFY_RETRY


@workflow.defn
class NoticeWorkflow:
    @workflow.run
    async def run(self, request: NotifyInput) -> NotifyResult:
        result: NotifyResult = await workflow.execute_activity(
            "notify",
            request,
            result_type=NotifyResult,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=dataclasses.replace(
                NOTIFY_RETRY, maximum_attempts=request.settings.max_attempts
            ),
        )
        return result
