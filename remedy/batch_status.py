"""A finding's run inside a batch, read by its own run id (workflows/batch.py).

A batched finding's run id is not a workflow id: its batch's workflow lists it in the `BatchRuns`
search attribute. `find_batch` finds that workflow; `member_status` asks its `finding` query,
or, once it has closed and no worker answers, reads the member from its result.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from temporalio.service import RPCError

from remedy import search_attributes as sa
from remedy.batch_types import BatchStatus
from remedy.types import RunStatus

#: how long a query or a describe may take (as remedy/run_status.py's)
QUERY_TIMEOUT = timedelta(seconds=10)


async def find_batch(client: Client, run_id: str) -> str | None:
    """The workflow id of the newest batch holding `run_id`, or None. The attribute holds keys
    (`run_key`): a batch with the key that does not hold the run (a 48-bit collision) is passed."""
    try:
        async for execution in client.list_workflows(
            f"{sa.BATCH_RUNS.name} = '{sa.run_key(run_id)}'", limit=10
        ):
            if await _holds(client, execution.id, run_id):
                return execution.id
    except RPCError:  # the attribute is not registered (REMEDY_SEARCH_ATTRIBUTES=false)
        return None
    return None


async def _holds(client: Client, batch_id: str, run_id: str) -> bool:
    """Whether the batch's input lists the run (its first history event)."""
    handle = client.get_workflow_handle(batch_id)
    async for event in handle.fetch_history_events():
        started = event.workflow_execution_started_event_attributes
        if not started.input.payloads:
            return False
        raw = (await client.data_converter.decode(list(started.input.payloads)))[0]
        members = raw.get("members", []) if isinstance(raw, dict) else []
        return any(isinstance(m, dict) and m.get("run_id") == run_id for m in members)
    return False


async def member_status(
    client: Client, batch_id: str, run_id: str, wait: bool = False
) -> RunStatus | None:
    """The member's status: its batch's `finding` query, else (closed, or `wait`) its result."""
    handle: WorkflowHandle[Any, BatchStatus] = client.get_workflow_handle(
        batch_id, result_type=BatchStatus
    )
    if not wait:
        described = await handle.describe(rpc_timeout=QUERY_TIMEOUT)
        if described.close_time is None:  # open: its query (a closed one reads its result)
            try:
                found: RunStatus = await handle.query(
                    "finding", run_id, result_type=RunStatus, rpc_timeout=QUERY_TIMEOUT
                )
                return found
            except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError):
                return None  # no worker answered
    try:
        return (await handle.result()).member(run_id)
    except WorkflowFailureError:
        return None
