"""Start batches: findings sharing a job, account and region, remediated by one workflow.

`plan_batches` groups findings by account and region and cuts each group into batches of at most
`batch_size`; `start_batches` starts them. Each finding keeps the run id a run of it alone would
have (`run_id_for`); a batch's workflow id is a hash of its members' run ids, so a start that is
retried (or the same findings submitted again while the batch is open) joins the same batch.
A finding whose run is open, alone or in another batch, joins that run instead of starting a
second one (`open_runs`, from Temporal's visibility: the hub's store is the dedup of record, since
visibility may lag a start by a moment); a finding submitted again after its run closed runs
again, as a one-finding run would.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from remedy import search_attributes as sa
from remedy.aws_ids import check_access
from remedy.batch_protocol import BATCH_PREFIX, DEFAULT_IN_FLIGHT, MAX_BATCH_SIZE
from remedy.batch_types import BatchInput, BatchMember, BatchStatus
from remedy.finding import PayloadError, read_finding
from remedy.starter import run_id_for
from remedy.temporal import task_queue_for
from remedy.types import RemediationSpec, RunState

#: findings per batch unless told otherwise (REMEDY_BATCH_SIZE)
DEFAULT_BATCH_SIZE = 100


class NotBatchable(ValueError):
    """A remediation a batch cannot carry, and why (run its findings one by one)."""


def check_batchable(spec: RemediationSpec) -> None:
    """A batch runs one remediate step, at once: the run-by-run features stay with single runs."""
    if spec.mode != "remediate":
        raise NotBatchable(f"a {spec.mode} run is not batched: only remediations are")
    if len(spec.steps) != 1:
        raise NotBatchable("a chain of jobs is not batched: a batch runs one job")
    if spec.approval is not None:
        raise NotBatchable("a remediation that waits for approval is not batched")
    if spec.grace_s:
        raise NotBatchable("a remediation with a grace period is not batched")
    if spec.on_failure != "stop":
        raise NotBatchable("on_failure: rollback is not batched")
    if spec.write_back is not None:
        raise NotBatchable("a Security Hub write-back is not batched")


@dataclass
class PlannedBatch:
    batch_id: str
    account_id: str
    region: str
    members: list[BatchMember]


@dataclass
class BatchPlan:
    batches: list[PlannedBatch] = field(default_factory=list)
    #: findings that could not be read (index in the input, why): none of them was started
    rejected: list[tuple[int, str]] = field(default_factory=list)

    #: findings whose run was already open (run id -> the workflow running it): not started again
    joined: dict[str, str] = field(default_factory=dict)

    def run_ids(self) -> list[str]:
        return [m.run_id for b in self.batches for m in b.members]


def batch_id_for(remediation: str, run_ids: list[str]) -> str:
    digest = hashlib.sha256("\0".join([remediation, *sorted(run_ids)]).encode()).hexdigest()[:20]
    return f"{BATCH_PREFIX}{digest}"


def plan_batches(
    payloads: list[dict[str, Any]],
    spec: RemediationSpec,
    batch_size: int = DEFAULT_BATCH_SIZE,
    running: dict[str, str] | None = None,
) -> BatchPlan:
    """Group the findings by account and region, in batches of at most `batch_size`; the same
    finding twice is one member; a finding whose run is in `running` joins it."""
    check_batchable(spec)
    size = max(1, min(batch_size, MAX_BATCH_SIZE))
    what = spec.display_name()
    plan = BatchPlan()
    groups: dict[tuple[str, str], list[BatchMember]] = {}
    seen: set[str] = set()
    for index, payload in enumerate(payloads):
        try:
            finding = read_finding(payload, role_arn=spec.access.role_arn, for_run=True)
        except PayloadError as exc:
            plan.rejected.append((index, exc.sentence()))
            continue
        run_id = run_id_for(finding.finding_id, what)
        if run_id in seen:
            continue
        seen.add(run_id)
        if running and run_id in running:
            plan.joined[run_id] = running[run_id]
            continue
        key = (finding.account_id, finding.region or "")
        groups.setdefault(key, []).append(BatchMember(run_id=run_id, payload=payload))
    for (account_id, region), members in groups.items():
        for start in range(0, len(members), size):
            chunk = members[start : start + size]
            batch_id = batch_id_for(what, [m.run_id for m in chunk])
            plan.batches.append(PlannedBatch(batch_id, account_id, region, chunk))
    return plan


async def plan_against_open_runs(
    client: Client,
    payloads: list[dict[str, Any]],
    spec: RemediationSpec,
    batch_size: int,
    search_attributes: bool,
) -> BatchPlan:
    """`plan_batches`, the findings whose run is open (alone or in a batch) joining it."""
    check_access(spec.access.role_arn, spec.access.external_id)
    everyone = plan_batches(payloads, spec, MAX_BATCH_SIZE)
    running = await open_runs(client, everyone.run_ids()) if search_attributes else {}
    return plan_batches(payloads, spec, batch_size, running)


async def start_batches(
    client: Client,
    payloads: list[dict[str, Any]],
    spec: RemediationSpec,
    group_id: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    notify_per: Literal["finding", "batch"] | None = None,
    search_attributes: bool = True,
) -> BatchPlan:
    """Plan and start the batches (each joins its workflow if already open); the plan says which
    finding went to which batch, and which were rejected."""
    plan = await plan_against_open_runs(client, payloads, spec, batch_size, search_attributes)
    for batch in plan.batches:
        await start_batch(client, batch, spec, group_id, notify_per, search_attributes)
    return plan


def _quoted(values: list[str]) -> str:
    return ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)


async def open_runs(client: Client, run_ids: list[str]) -> dict[str, str]:
    """Which of these runs are open now, alone or in a batch: run id -> its workflow id."""
    found: dict[str, str] = {}
    for start in range(0, len(run_ids), 100):
        chunk = run_ids[start : start + 100]
        listed = _quoted(chunk)
        keys = {sa.run_key(run_id): run_id for run_id in chunk}
        running = "ExecutionStatus = 'Running'"
        async for execution in client.list_workflows(
            f"{sa.BATCH_RUNS.name} IN ({_quoted(list(keys))}) AND {running}"
        ):
            members = execution.typed_search_attributes.get(sa.BATCH_RUNS) or []
            found.update({keys[key]: execution.id for key in members if key in keys})
        async for execution in client.list_workflows(f"WorkflowId IN ({listed}) AND {running}"):
            found[execution.id] = execution.id
    return found


async def run_batches(
    client: Client,
    payloads: list[dict[str, Any]],
    spec: RemediationSpec,
    group_id: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    in_flight: int = DEFAULT_IN_FLIGHT,
    search_attributes: bool = True,
    started: Callable[[PlannedBatch], None] | None = None,
    ended: Callable[[BatchStatus], None] | None = None,
) -> tuple[BatchPlan, list[BatchStatus]]:
    """Plan the batches and run them, at most `in_flight` at a time (the next starts when one
    ends), so a backlog of any size holds the workers' and the server's memory at `in_flight`
    batches; the plan and every batch's final status, in the plan's order.

    The batches not yet started live only in this process: a backlog that must survive it goes
    through the hub, whose start queue is durable."""
    plan = await plan_against_open_runs(client, payloads, spec, batch_size, search_attributes)
    slots = asyncio.Semaphore(max(1, in_flight))

    async def one(batch: PlannedBatch) -> BatchStatus:
        async with slots:
            await start_batch(client, batch, spec, group_id, search_attributes=search_attributes)
            if started is not None:
                started(batch)
            handle = client.get_workflow_handle(batch.batch_id, result_type=BatchStatus)
            done: BatchStatus = await handle.result()
        if ended is not None:
            ended(done)
        return done

    return plan, list(await asyncio.gather(*(one(batch) for batch in plan.batches)))


async def start_batch(
    client: Client,
    batch: PlannedBatch,
    spec: RemediationSpec,
    group_id: str,
    notify_per: Literal["finding", "batch"] | None = None,
    search_attributes: bool = True,
) -> str:
    """Start one planned batch (or join its workflow); its id. `notify_per`: one notification
    per finding or for the whole batch (None: as the spec's `notify.per_batch` says)."""
    first = read_finding(batch.members[0].payload, role_arn=spec.access.role_arn, for_run=True)
    provider = first.provider
    await client.start_workflow(
        "BatchRemediationWorkflow",
        BatchInput(
            spec=spec,
            members=batch.members,
            notify_per=notify_per or ("batch" if spec.notify.per_batch else "finding"),
            search_attributes=search_attributes,
        ),
        id=batch.batch_id,
        task_queue=task_queue_for(group_id),
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.JOB, [spec.steps[0].job]),
                SearchAttributePair(sa.CLOUD_ACCOUNT, batch.account_id),
                SearchAttributePair(sa.PROVIDER, provider),
                SearchAttributePair(sa.REMEDIATION_STATUS, RunState.RUNNING.value),
                SearchAttributePair(sa.BATCH_RUNS, [sa.run_key(m.run_id) for m in batch.members]),
            ]
        )
        if search_attributes
        else None,
        static_summary=(
            f"batch of {len(batch.members)}: {spec.display_name()} "
            f"({provider} {batch.account_id} {batch.region})"
        ),
    )
    return batch.batch_id
