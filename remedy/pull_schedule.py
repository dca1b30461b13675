"""Pull schedules: a Temporal schedule per linked account that pulls its Security Hub findings
into the hub, so new findings flow in without a push.

Each schedule starts SecurityHubPullWorkflow on the worker group's task queue (the group's worker
holds the credentials) every `every`, looking back twice that long: windows overlap, and the hub
deduplicates by finding id. A pull still running when the next is due is skipped.
"""

from __future__ import annotations

import re
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from remedy.temporal import task_queue_for
from remedy.types import PullInput


def schedule_id_for(group_id: str, account_id: str) -> str:
    return f"remedy-pull-securityhub-{group_id}-{re.sub(r'[^A-Za-z0-9-]', '-', account_id)}"


async def schedule_pull(client: Client, group_id: str, request: PullInput, every: timedelta) -> str:
    """Create (or replace) the account's pull schedule; its id."""
    request = request.model_copy(
        update={"lookback_minutes": max(1, int(every.total_seconds() * 2 // 60))}
    )
    schedule_id = schedule_id_for(group_id, request.account.account_id)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            "SecurityHubPullWorkflow",
            request,
            id=f"{schedule_id}-run",
            task_queue=task_queue_for(group_id),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(replace)
    return schedule_id
