"""Which claimed runs the hub starts together as one batch workflow, and what a batch says of them.

A batch (workflows/batch.py) remediates findings of one action, account and region in one
workflow: one role assumption, one job process, one verify process. Each finding keeps its hub
run (its id, its own status: a member of the batch's `status` query), so batching changes how
runs start, not what the hub shows of them.

Guarantees:
- Only runs with the same worker group, action, account, region and an identical spec (its
  `model_dump`) are batched, and only when `check_batchable` accepts the spec; everything else
  starts on its own, as before.
- A run whose batch start was tried (its `batch_id` is set while it is still pending) is started
  again in THAT batch, never in another: a start that timed out but reached Temporal is joined
  (USE_EXISTING), so no finding is remediated by two batches.
- `Gatherer` (`hub_batch_wait_s` > 0) holds runs only in memory and in the durable start queue
  (their entry's next try is pushed past the wait): a hub that dies while holding them loses
  nothing, another hub's drainer starts them after the wait and the queue lease.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.service import RPCError

from hub.start_plan import StartPlan
from remedy.batch_starter import NotBatchable, check_batchable
from remedy.batch_types import BatchStatus
from remedy.types import RunState, RunStatus

#: runs that may share a batch: (group, action, account, region, the spec as JSON)
BatchKey = tuple[str, int, str, str, str]


def batch_key(plan: StartPlan) -> BatchKey | None:
    """The key of the runs `plan` may be batched with; None: it starts on its own."""
    try:
        check_batchable(plan.spec)
    except NotBatchable:
        return None
    spec = json.dumps(plan.spec.model_dump(mode="json"), sort_keys=True)
    return (plan.group_id, plan.action_id, plan.account_id, plan.region, spec)


@dataclass
class Grouped:
    singles: list[StartPlan] = field(default_factory=list)
    #: each a list of plans sharing a key, at most the batch size
    batches: list[list[StartPlan]] = field(default_factory=list)
    #: runs whose batch was tried before, by that batch id: started again in it, as they are
    retried: dict[str, list[StartPlan]] = field(default_factory=dict)


def group_plans(plans: Iterable[StartPlan], size: int) -> Grouped:
    """Cut the plans into batches of at most `size` (each of two or more runs) and singles; a run
    seen twice is planned once."""
    grouped = Grouped()
    by_key: dict[BatchKey, list[StartPlan]] = {}
    seen: set[str] = set()
    for plan in plans:
        if plan.run_id in seen:
            continue
        seen.add(plan.run_id)
        if plan.batch_id is not None:
            grouped.retried.setdefault(plan.batch_id, []).append(plan)
            continue
        key = batch_key(plan) if size > 1 else None
        if key is None:
            grouped.singles.append(plan)
        else:
            by_key.setdefault(key, []).append(plan)
    for members in by_key.values():
        for start in range(0, len(members), size):
            chunk = members[start : start + size]
            if len(chunk) == 1:
                grouped.singles.append(chunk[0])
            else:
                grouped.batches.append(chunk)
    return grouped


# -- reading a batch ------------------------------------------------------------------------------

_ENDED_BY_TEMPORAL = {
    WorkflowExecutionStatus.TERMINATED: RunState.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT: RunState.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED: RunState.CANCELLED,
    WorkflowExecutionStatus.FAILED: RunState.FAILED,
}


async def batch_members(client: Client, batch_id: str, run_ids: list[str]) -> dict[str, RunStatus]:
    """The status of each of `run_ids` in the batch, from ONE `status` query (or its result once
    it closed). A run missing from the answer is not known yet (no worker answered). A batch that
    Temporal ended (terminated, timed out) ends its open members likewise, as a run of its own
    would be shown. Raises RPCError when Temporal does not know the batch or does not answer."""
    handle: WorkflowHandle[Any, BatchStatus] = client.get_workflow_handle(
        batch_id, result_type=BatchStatus
    )
    described = await handle.describe()
    found: BatchStatus | None = None
    try:
        found = await handle.query("status", result_type=BatchStatus)
    except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError):
        found = None  # no worker to answer
    execution = described.status
    if found is None and execution == WorkflowExecutionStatus.COMPLETED:
        found = await handle.result()
    wanted = set(run_ids)
    members = {m.run_id: m for m in (found.members if found else []) if m.run_id in wanted}
    ended = _ENDED_BY_TEMPORAL.get(execution) if execution is not None else None
    if ended is not None:
        for run_id in run_ids:
            member = members.get(run_id)
            if member is not None and member.state not in (RunState.RUNNING, RunState.STUCK):
                continue
            members[run_id] = RunStatus(
                run_id=run_id,
                remediation=found.remediation if found else "",
                state=ended,
                message=f"its batch {batch_id} was {ended.value.replace('_', ' ')} by Temporal",
                steps=member.steps if member else [],
                ended_at=described.close_time,
            )
    return members


# -- gathering runs claimed one by one ------------------------------------------------------------


@dataclass
class _Window:
    plans: dict[str, StartPlan] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class Gatherer:
    """Runs of one key claimed one by one, gathered into one batch (`hub_batch_wait_s`).

    The first run of a key (and whatever arrived with it) starts at once and opens a window of
    `wait_s`; runs of that key arriving while it is open are held, and start together when it
    closes, or at once whenever `size` of them are held. Holding is in memory, backed by the
    durable queue: `hold(run_ids, wait_s)` pushes their queue entries' next try past the window,
    so if this hub stops, the entries are due again to any hub's drainer and nothing is lost.
    """

    def __init__(
        self,
        wait_s: float,
        size: int,
        launch: Callable[[list[StartPlan]], Awaitable[None]],
        hold: Callable[[list[str], float], Awaitable[None]],
        spawn: Callable[[Awaitable[None]], None],
    ) -> None:
        self.wait_s = wait_s
        self.size = size
        self._launch = launch
        self._hold = hold
        self._spawn = spawn
        self._windows: dict[BatchKey, _Window] = {}

    async def admit(self, plans: list[StartPlan]) -> list[StartPlan]:
        """The plans to start now; the others are held until their window closes."""
        now: list[StartPlan] = []
        opened: set[BatchKey] = set()
        held: list[str] = []
        full: list[list[StartPlan]] = []
        for plan in plans:
            key = None if plan.batch_id is not None else batch_key(plan)
            if key is None:
                now.append(plan)
                continue
            window = self._windows.get(key)
            if window is None or key in opened:  # the first of its kind: at once
                if window is None:
                    opened.add(key)
                    self._open(key)
                now.append(plan)
                continue
            if plan.run_id in window.plans:
                continue  # held already
            window.plans[plan.run_id] = plan
            held.append(plan.run_id)
            if len(window.plans) >= self.size:
                full.append(list(window.plans.values()))
                window.plans.clear()
        if held:
            await self._hold(held, self.wait_s)
        for chunk in full:
            now.extend(chunk)
        return now

    def _open(self, key: BatchKey) -> None:
        window = _Window()
        self._windows[key] = window

        async def close() -> None:
            await asyncio.sleep(self.wait_s)
            if self._windows.get(key) is window:
                del self._windows[key]
            if window.plans:
                await self._launch(list(window.plans.values()))

        self._spawn(close())
