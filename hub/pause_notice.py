"""Tell the action's notification channels that its circuit breaker paused it.

The hub holds no Jira or webhook credential: it starts a `NoticeWorkflow` (workflows/notice.py)
on the action's group's task queue, and a worker of the group files the Jira issue and calls the
webhook as it does for runs. One notice per pause (its workflow id is the pause's), so a second
hub or a retried poll joins it. An action without notification settings is paused silently (the
audit log and the hub's log still say so).
"""

from __future__ import annotations

import hashlib
import logging

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from hub.models import Remediation
from remedy.temporal import task_queue_for
from remedy.types import NotificationSettings, NotifyInput, RunState, RunStatus

log = logging.getLogger("remedy.hub.pause")


def notice_for(action: Remediation) -> NotifyInput | None:
    """The notice of the action's current pause; None when it has nowhere to go."""
    settings = NotificationSettings.model_validate(action.notify or {})
    if not action.paused_reason or not settings.wanted():
        return None
    digest = hashlib.sha256(action.paused_reason.encode()).hexdigest()[:16]
    status = RunStatus(
        run_id=f"remedy-paused-{action.id}-{digest}",
        remediation=action.name,
        state=RunState.FAILED,
        message=action.paused_reason,
    )
    return NotifyInput(status=status, settings=settings, stage="paused")


async def announce(client: Client, group_id: str, notice: NotifyInput) -> None:
    """Start the notice on the group's queue; a failure is logged (the pause stands either way)."""
    try:
        await client.start_workflow(
            "NoticeWorkflow",
            notice,
            id=notice.status.run_id,
            task_queue=task_queue_for(group_id),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"notice: remediation action {notice.status.remediation} paused",
        )
    except RPCError as exc:
        log.warning("the pause of %s was not announced: %s", notice.status.remediation, exc)
