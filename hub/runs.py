"""Runs: claimed in the store (one per finding and action), started on Temporal, followed there.

A run is claimed first (a `pending` row; the unique (finding, action) constraint makes two hubs
agree on one claimant), then started with the deterministic workflow id, so a retry or a racing
start joins the same workflow (id conflict policy USE_EXISTING). Its status is read from the
workflow's `status` query (or its result once it ended) when the run is read, and by the
background poller; the finding's status follows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from hub import blast_radius, start_queue
from hub.actions import get_action, spec_for
from hub.batching import Gatherer, batch_members, group_plans
from hub.claims import RunToStart, claim_run, follow_runs
from hub.config import HubSettings
from hub.db import Database, count
from hub.errors import ApiError, invalid, not_found
from hub.findings import facts_of, mismatch
from hub.groups import get_group, group_account_ids
from hub.metrics import RUN_STARTS, RUNS_QUEUED
from hub.models import CloudAccount, Finding, Remediation, Run, utcnow
from hub.pause_notice import announce, notice_for
from hub.run_states import ACTIVE, ENDED, RESTARTABLE, HubRunState
from hub.schemas import RunDetail, RunOut
from hub.start_plan import StartPlan
from remedy import tracing
from remedy.aws_ids import check_access
from remedy.batch_starter import PlannedBatch, batch_id_for, start_batch
from remedy.batch_types import BatchInput, BatchMember
from remedy.config import TemporalSettings
from remedy.finding import PayloadError, read_finding
from remedy.logs import redact
from remedy.starter import get_status, start_remediation
from remedy.types import NotifyInput, RunState, RunStatus, StepStatus

log = logging.getLogger("remedy.hub.runs")

START_CONCURRENCY = 16  # runs started at once from one batch of findings


def ui_url(temporal: TemporalSettings, run_id: str) -> str:
    return f"{temporal.ui_url.rstrip('/')}/namespaces/{temporal.namespace}/workflows/{run_id}"


def redacted(value: Any) -> Any:
    """Every string in a JSON value passed through the log redactor."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def plan_start(session: Session, run: RunToStart) -> StartPlan | None:
    action = session.get(Remediation, run.action_id)
    finding = session.get(Finding, run.finding_id)
    if action is None or finding is None:
        start_queue.done(session, run.run_id)
        return None
    account = session.get(CloudAccount, finding.account_id)
    if account is None:
        start_queue.done(session, run.run_id)
        _set(
            session,
            run.run_id,
            HubRunState.FAILED,
            f"account {finding.account_id} is not registered",
        )
        return None
    row = session.get(Run, run.run_id)
    mode = row.mode if row else "remediate"
    # a plan changes nothing: the blast radius limits only what changes things
    why = (
        None
        if mode == "plan"
        else blast_radius.hold(session, action, finding.account_id, run.run_id)
    )
    if why is not None:  # over a limit, or paused: it waits in the queue, in order
        start_queue.hold(session, run.run_id, why)
        return None
    spec = spec_for(action, account, finding.original, row.triggered_by if row else "", mode)
    return StartPlan(
        run.run_id,
        run.payload,
        spec,
        run.group_id,
        action_id=action.id,
        account_id=finding.account_id,
        region=finding.region or "",
        batch_id=row.batch_id if row else None,
    )


def _set(session: Session, run_id: str, status: HubRunState, message: str) -> None:
    run = session.get(Run, run_id)
    if run is None or run.status != HubRunState.PENDING:
        return  # another hub started it meanwhile: its word stands
    run.status, run.message, run.updated_at = status, message[:2000], utcnow()
    if status in ENDED:
        run.ended_at = run.updated_at
    finding = session.get(Finding, run.finding_id)
    if finding is not None:
        follow_runs(session, finding)


class Runs:
    """Starts and follows runs; the hub's one place that talks to Temporal."""

    def __init__(
        self,
        db: Database,
        settings: HubSettings,
        temporal: TemporalSettings,
        client: Callable[[], Awaitable[Client]],
    ) -> None:
        self.db = db
        self.settings = settings
        #: runs told their finding was resolved (`_tell_resolved`)
        self._told_resolved: set[str] = set()
        self.temporal = temporal
        self._client = client
        self._background: set[asyncio.Task[None]] = set()
        self._gatherer = (
            Gatherer(
                settings.hub_batch_wait_s,
                settings.hub_batch_size,
                self._launch,
                self._hold,
                self._spawn,
            )
            if settings.hub_batch_wait_s > 0 and settings.hub_batch_size > 1
            else None
        )

    async def client(self) -> Client:
        return await self._client()

    def start_soon(self, claimed: list[RunToStart]) -> None:
        """Start queued runs in the background: the caller answers without waiting for Temporal."""
        if not claimed:
            return
        self._spawn(self.start(claimed))

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> int:
        """Start the queued runs whose time has come; how many were tried."""
        due = await self.db.call(start_queue.take_due)
        await self.start(due)
        return len(due)

    async def close(self) -> None:
        """Let the starts in flight finish (as long as one start may take), then stop the rest:
        their runs stay queued for the next drain, of this hub or another."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=self.settings.hub_start_timeout_s)
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def start(self, claimed: list[RunToStart]) -> None:
        """Start queued runs; a start that fails (Temporal down, or hanging past
        `hub_start_timeout_s`) stays queued and is retried with backoff.

        Each run is planned on its own (`plan_start`: held by its action's limits, refused for a
        missing account); the plans that may share a batch (hub/batching.py) start as batches of
        at most `hub_batch_size`, one workflow each, the rest one workflow per run. With
        `hub_batch_wait_s`, runs of a kind already started within the wait are gathered first.
        """
        limit = asyncio.Semaphore(START_CONCURRENCY)

        async def plan_one(item: RunToStart) -> StartPlan | None:
            async with limit:
                return await self.db.call(partial(plan_start, run=item))

        plans = [p for p in await asyncio.gather(*(plan_one(i) for i in claimed)) if p]
        if self._gatherer is not None:
            plans = await self._gatherer.admit(plans)
        await self._launch(plans)

    async def _launch(self, plans: list[StartPlan]) -> None:
        """Start planned runs: as batches where they may share one, else one by one."""
        grouped = group_plans(plans, self.settings.hub_batch_size)
        limit = asyncio.Semaphore(START_CONCURRENCY)

        async def limited(work: Awaitable[None]) -> None:
            async with limit:
                await work

        starts: list[Awaitable[None]] = [self._start_one(p) for p in grouped.singles]
        starts += [self._start_batch(b) for b in grouped.batches]
        starts += [self._start_batch(b, tried=i) for i, b in grouped.retried.items()]
        await asyncio.gather(*(limited(s) for s in starts))

    async def _join_tried(self, tried: str, members: list[StartPlan]) -> bool:
        """Runs whose start in batch `tried` seemed to fail: those the batch holds (the start
        reached Temporal after all) are submitted in it; the others start in a new batch. True:
        none is in it, start `tried` with them."""
        try:
            client = await self.client()
            inside = await asyncio.wait_for(
                _members_of(client, tried), self.settings.hub_start_timeout_s
            )
        except (TimeoutError, RPCError, ApiError, OSError, RuntimeError) as exc:
            reason = getattr(exc, "message", None) or str(exc) or "no answer in time"
            message = f"not started yet (Temporal: {reason}); will retry in batch {tried}"
            await self.db.call(
                partial(_later, run_ids=[p.run_id for p in members], message=message)
            )
            return False
        if inside is None:
            return True
        joined = [p.run_id for p in members if p.run_id in inside]
        if joined:
            RUN_STARTS.labels("started").inc(len(joined))
            await self.db.call(partial(_submitted, run_ids=joined, batch_id=tried))
            for run_id in joined:
                await self.db.call(partial(_follow, run_id=run_id))
        rest = [p for p in members if p.run_id not in inside]
        if rest:
            await self._start_batch(rest)
        return False

    async def _hold(self, run_ids: list[str], wait_s: float) -> None:
        await self.db.call(partial(start_queue.gather, run_ids=run_ids, wait_s=wait_s))

    async def _start_batch(self, plans: list[StartPlan], tried: str | None = None) -> None:
        """Start runs as one batch workflow (or join it: its id is a hash of its members' run
        ids, or `tried`, the batch their start was tried in before). A success submits each run
        as `submitted()` does one; a failure leaves each queued, retried with backoff."""
        spec = plans[0].spec
        refused: list[tuple[StartPlan, str]] = []
        members: list[StartPlan] = []
        for plan in plans:  # a finding that cannot be read is refused alone, as it would be
            try:
                read_finding(plan.payload, role_arn=spec.access.role_arn, for_run=True)
                members.append(plan)
            except PayloadError as exc:
                refused.append((plan, f"the finding cannot be remediated: {exc}"))
        for plan, message in refused:
            RUN_STARTS.labels("refused").inc()
            await self.db.call(partial(_refuse, run_id=plan.run_id, message=message))
        if not members:
            return
        if tried is not None and not await self._join_tried(tried, members):
            return
        run_ids = [p.run_id for p in members]
        batch_id = tried or batch_id_for(spec.display_name(), run_ids)
        first = members[0]
        planned = PlannedBatch(
            batch_id,
            first.account_id,
            first.region,
            [BatchMember(run_id=p.run_id, payload=p.payload) for p in members],
        )

        async def begin() -> None:
            client = await self.client()
            check_access(spec.access.role_arn, spec.access.external_id)
            await start_batch(
                client,
                planned,
                spec,
                first.group_id,
                search_attributes=self.settings.search_attributes,
            )

        # tried from now on: a retry joins this batch, even if this start seems to fail
        await self.db.call(partial(_tried_in, run_ids=run_ids, batch_id=batch_id))
        try:
            with tracing.span("remedy.hub.start_batch", batch_id=batch_id, runs=len(run_ids)):
                await asyncio.wait_for(begin(), self.settings.hub_start_timeout_s)
        except PayloadError as exc:
            RUN_STARTS.labels("refused").inc(len(run_ids))
            message = f"the finding cannot be remediated: {exc}"
            for run_id in run_ids:
                await self.db.call(partial(_refuse, run_id=run_id, message=message))
            return
        except (TimeoutError, RPCError, ApiError, OSError, RuntimeError) as exc:
            RUN_STARTS.labels("retry").inc(len(run_ids))
            reason = getattr(exc, "message", None) or str(exc) or "no answer in time"
            message = f"not started yet (Temporal: {reason}); will retry in batch {batch_id}"
            log.warning("batch %s of %d runs %s", batch_id, len(run_ids), message)
            await self.db.call(partial(_later, run_ids=run_ids, message=message))
            return
        RUN_STARTS.labels("started").inc(len(run_ids))
        await self.db.call(partial(_submitted, run_ids=run_ids, batch_id=batch_id))
        for run_id in run_ids:  # each in its own transaction, as `_start_one` follows
            await self.db.call(partial(_follow, run_id=run_id))

    async def _start_one(self, plan: StartPlan) -> None:
        async def begin() -> None:
            client = await self.client()
            await start_remediation(
                client,
                plan.payload,
                plan.spec,
                plan.group_id,
                search_attributes=self.settings.search_attributes,
            )

        try:
            # a Temporal that accepts connections and never answers must not hold the start
            with tracing.span("remedy.hub.start_run", run_id=plan.run_id):
                await asyncio.wait_for(begin(), self.settings.hub_start_timeout_s)
        except PayloadError as exc:
            RUN_STARTS.labels("refused").inc()
            message = f"the finding cannot be remediated: {exc}"
            await self.db.call(partial(_refuse, run_id=plan.run_id, message=message))
            return
        except (TimeoutError, RPCError, ApiError, OSError, RuntimeError) as exc:
            RUN_STARTS.labels("retry").inc()
            reason = getattr(exc, "message", None) or str(exc) or "no answer in time"
            message = f"not started yet (Temporal: {reason}); will retry"
            log.warning("run %s %s", plan.run_id, message)
            await self.db.call(partial(_later, run_ids=[plan.run_id], message=message))
            return

        RUN_STARTS.labels("started").inc()
        await self.db.call(partial(_submitted, run_ids=[plan.run_id], batch_id=None))
        # its own transaction: ingest locks the finding's row before it touches its runs, so a
        # start holding the run's row must not wait for the finding's (a deadlock on PostgreSQL)
        await self.db.call(partial(_follow, run_id=plan.run_id))

    # -- manual runs ------------------------------------------------------------------------

    async def trigger(
        self, action_id: int, finding_ids: list[str], by: str, plan: bool = False
    ) -> list[RunOut]:
        def claim(session: Session) -> tuple[list[str], list[RunToStart]]:
            action = get_action(session, action_id)
            group = get_group(session, action.group_id)
            if not group.enabled:
                raise ApiError(
                    409,
                    f"worker group {group.id} ({group.name}) is disabled: it takes no new runs",
                    f"enable it (POST /worker-groups/{group.id}/enable) or use another action",
                )
            accounts = group_account_ids(session, group.id)
            run_ids, to_start = [], []
            for index, finding_id in enumerate(dict.fromkeys(finding_ids)):
                finding = session.get(Finding, finding_id)
                if finding is None:
                    raise invalid(
                        f"finding_ids.{index}",
                        f"no finding {finding_id!r}",
                        "POST the finding to /findings first (GET /findings lists them)",
                    )
                if finding.status == "suppressed":
                    raise ApiError(
                        409,
                        f"finding {finding_id} is suppressed",
                        f"open it again first (PATCH /findings/{finding_id})",
                        field=f"finding_ids.{index}",
                    )
                why = mismatch(facts_of(finding), action, accounts, criteria=False)
                if why:
                    raise invalid(
                        f"finding_ids.{index}", why, "pick a finding this action can remediate"
                    )
                mode = "plan" if plan or action.run_mode == "plan-only" else "remediate"
                run, claimed = claim_run(
                    session, finding, action, trigger="manual", by=by, mode=mode
                )
                # a failed run starts again; a plan is made again whenever it is asked for
                if not claimed and (
                    run.status in RESTARTABLE or (mode == "plan" and run.status in ENDED)
                ):
                    claimed = _restart(session, run, by)
                if claimed:
                    start_queue.enqueue(session, run.id)
                    payload = {**finding.payload, "autoRemediate": False}
                    to_start.append(RunToStart(run.id, action.id, finding.id, group.id, payload))
                run_ids.append(run.id)
                follow_runs(session, finding)
            return run_ids, to_start

        with tracing.span("remedy.hub.trigger", action_id=action_id):
            run_ids, to_start = await self.db.call(claim)
            RUNS_QUEUED.labels("manual").inc(len(to_start))
            await self.start(to_start)
        return await self.db.call(lambda s: [self.out(s, get_run(s, r)) for r in run_ids])

    # -- reading and following --------------------------------------------------------------

    def out(self, session: Session, run: Run) -> RunOut:
        action = session.get(Remediation, run.remediation_id)
        return RunOut(
            id=run.id,
            finding_id=run.finding_id,
            remediation_id=run.remediation_id,
            remediation=action.name if action else "",
            group_id=run.group_id,
            trigger="auto" if run.trigger == "auto" else "manual",
            triggered_by=run.triggered_by,
            mode="plan"
            if run.mode == "plan"
            else "rollback"
            if run.mode == "rollback"
            else "remediate",
            rollback_of=run.rollback_of,
            batch_id=run.batch_id,
            status=run.status,
            message=redact(run.message),
            created_at=run.created_at,
            updated_at=run.updated_at,
            ended_at=run.ended_at,
            temporal_url=ui_url(self.temporal, run.batch_id or run.id),
        )

    def detail(self, session: Session, run: Run, live: bool) -> RunDetail:
        result = RunStatus.model_validate(run.result) if run.result else None
        return RunDetail(
            **self.out(session, run).model_dump(),
            steps=[StepStatus.model_validate(s) for s in (result.steps if result else [])],
            notification=result.notification if result else "",
            live=live,
        )

    async def read(self, run_id: str) -> RunDetail:
        """The run, its status refreshed from the workflow when it has not ended."""
        run = await self.db.call(lambda s: get_run(s, run_id))
        live = False
        if run.status not in (HubRunState.PENDING, *ENDED) or (
            run.status in ENDED and not run.result
        ):
            live = await self.refresh(run_id, run.batch_id)
        return await self.db.call(lambda s: self.detail(s, get_run(s, run_id), live))

    async def refresh(self, run_id: str, batch_id: str | None = None) -> bool:
        """Read the workflow's status into the store (a batched run's: its member of its batch's
        status); False when it did not answer in time."""
        if batch_id is not None:
            return run_id in await self.refresh_batch(batch_id, [run_id])
        try:
            client = await self.client()
            status = await asyncio.wait_for(
                get_status(client, run_id), self.settings.hub_status_timeout_s
            )
        except (TimeoutError, RPCError, ApiError, OSError, RuntimeError) as exc:
            log.info("run %s: no status from Temporal (%s)", run_id, type(exc).__name__)
            return False
        if status.state == RunState.RUNNING and not status.steps:  # no worker answered for it
            return False
        paused = await self.db.call(lambda s: apply_status(s, run_id, status))
        if paused is not None:
            await announce(client, paused.group_id, paused.notice)
        return True

    async def refresh_batch(self, batch_id: str, run_ids: list[str]) -> set[str]:
        """Read a batch's status ONCE into the store for its members `run_ids`; the runs whose
        status it gave (none when it did not answer in time)."""
        try:
            client = await self.client()
            members = await asyncio.wait_for(
                batch_members(client, batch_id, run_ids), self.settings.hub_status_timeout_s
            )
        except (TimeoutError, RPCError, ApiError, OSError, RuntimeError) as exc:
            log.info("batch %s: no status from Temporal (%s)", batch_id, type(exc).__name__)
            return set()
        applied = set()
        for run_id, status in members.items():
            if status.state == RunState.RUNNING and not status.steps:  # no worker answered
                continue
            paused = await self.db.call(partial(apply_status, run_id=run_id, status=status))
            if paused is not None:
                await announce(client, paused.group_id, paused.notice)
            applied.add(run_id)
        return applied

    async def poll_once(self) -> int:
        """Refresh every unfinished run (a batch's runs with one query of the batch), start the
        queued runs whose time has come; how many were looked at."""

        def unfinished(session: Session) -> list[tuple[str, str | None]]:
            rows = session.execute(
                select(Run.id, Run.batch_id)
                .where(Run.status.in_(ACTIVE), Run.status != HubRunState.PENDING)
                .order_by(Run.updated_at)
                .limit(200)
            ).all()
            return [(run_id, batch_id) for run_id, batch_id in rows]

        follow = await self.db.call(unfinished)
        started = await self.drain()
        await self._tell_resolved()
        batches: dict[str, list[str]] = {}
        for run_id, batch_id in follow:
            if batch_id is None:
                await self.refresh(run_id)
            else:
                batches.setdefault(batch_id, []).append(run_id)
        for batch_id, run_ids in batches.items():
            await self.refresh_batch(batch_id, run_ids)
        return len(follow) + started

    async def _tell_resolved(self) -> None:
        """Signal `resolve` to the open runs whose finding was resolved or suppressed since: a
        run still in its grace period then ends skipped (workflows/grace.py). Once per run and
        hub process; a run past its grace ignores the signal."""

        def resolved(session: Session) -> list[tuple[str, str]]:
            rows = session.execute(
                select(Run.id, Finding.status)
                .join(Finding, Finding.id == Run.finding_id)
                .where(
                    Run.status.in_((HubRunState.SUBMITTED, HubRunState.RUNNING)),
                    Run.batch_id.is_(None),  # a batch has no grace period to end early
                    Finding.status.in_(("resolved", "suppressed")),
                )
                .limit(200)
            ).all()
            return [(run_id, status) for run_id, status in rows]

        for run_id, status in await self.db.call(resolved):
            if run_id in self._told_resolved:
                continue
            try:
                client = await self.client()
                await asyncio.wait_for(
                    client.get_workflow_handle(run_id).signal(
                        "resolve", f"the finding is {status} at the hub"
                    ),
                    self.settings.hub_status_timeout_s,
                )
            except (TimeoutError, RPCError, ApiError, OSError, RuntimeError):
                continue  # told next time
            self._told_resolved.add(run_id)


def _refuse(session: Session, run_id: str, message: str) -> None:
    """The run can never start: it leaves the queue, failed."""
    start_queue.done(session, run_id)
    _set(session, run_id, HubRunState.FAILED, message)


def _later(session: Session, run_ids: list[str], message: str) -> None:
    """The runs' start failed: they stay queued, retried after the backoff."""
    start_queue.failed(session, run_ids, message)
    for run_id in run_ids:
        session.execute(  # not started: its place under the action's limits is free
            update(Run).where(Run.id == run_id).values(started_at=None)
        )
        _set(session, run_id, HubRunState.PENDING, message)


def _tried_in(session: Session, run_ids: list[str], batch_id: str) -> None:
    session.execute(
        update(Run)
        .where(Run.id.in_(run_ids), Run.status == HubRunState.PENDING)
        .values(batch_id=batch_id)
        .execution_options(synchronize_session=False)
    )


def _submitted(session: Session, run_ids: list[str], batch_id: str | None) -> None:
    """The runs are on Temporal (in `batch_id`, or each its own workflow): out of the queue."""
    message = f"submitted to the worker group in batch {batch_id}" if batch_id else ""
    for run_id in run_ids:
        start_queue.done(session, run_id)
    session.execute(
        update(Run)
        .where(Run.id.in_(run_ids), Run.status == HubRunState.PENDING)
        .values(
            status=HubRunState.SUBMITTED,
            message=message or "submitted to the worker group",
            updated_at=utcnow(),
            started_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


def _follow(session: Session, run_id: str) -> None:
    run = session.get(Run, run_id)
    finding = session.get(Finding, run.finding_id) if run is not None else None
    if finding is not None:
        follow_runs(session, finding)  # queued -> remediating


async def _members_of(client: Client, batch_id: str) -> set[str] | None:
    """The run ids the batch workflow `batch_id` was started with (its newest execution); None
    when Temporal knows no such workflow."""
    try:
        async for event in client.get_workflow_handle(batch_id).fetch_history_events(page_size=1):
            started = event.workflow_execution_started_event_attributes
            (batch,) = await client.data_converter.decode(started.input.payloads, [BatchInput])
            return {m.run_id for m in batch.members}
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return None


def _restart(session: Session, run: Run, by: str) -> bool:
    """Run an ended (failed or cancelled) run again: same workflow id, a new execution."""
    won = session.execute(
        update(Run)
        .where(Run.id == run.id, Run.status == run.status)
        .values(
            status=HubRunState.PENDING,
            message="starting again",
            started_at=None,
            trigger="manual",
            triggered_by=by,
            result=None,
            ended_at=None,
            batch_id=None,  # it starts again on its own
            start_attempts=Run.start_attempts + 1,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(run)
    return bool(won)


def apply_status(session: Session, run_id: str, status: RunStatus) -> PauseNotice | None:
    """Store the run's status (the finding's follows); the notice to send when the run's end
    paused its action (hub/pause_notice.py)."""
    run = session.get(Run, run_id)
    if run is None:
        return None
    if not status.steps and run.result:  # Temporal's word alone (stuck): keep the steps it had
        status = status.model_copy(update={"steps": RunStatus.model_validate(run.result).steps})
    was_open = run.status not in ENDED
    run.status = HubRunState.of_workflow(status.state)
    run.message = redact(status.message)[:2000]
    run.result = redacted(status.model_dump(mode="json"))
    run.updated_at = utcnow()
    run.ended_at = (status.ended_at or run.updated_at) if run.status in ENDED else None
    paused = None
    # too many failures: the action pauses, and says so where it notifies
    if was_open and run.status in ENDED and blast_radius.trip(session, run.remediation_id):
        action = session.get(Remediation, run.remediation_id)
        notice = notice_for(action) if action else None
        paused = PauseNotice(run.group_id, notice) if notice else None
    finding = session.get(Finding, run.finding_id)
    if finding is not None:
        follow_runs(session, finding)
    return paused


@dataclass
class PauseNotice:
    group_id: str
    notice: NotifyInput


def get_run(session: Session, run_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise not_found("run", run_id, "/runs")
    return run


def list_runs(
    session: Session,
    *,
    status: HubRunState | None,
    finding_id: str | None,
    remediation_id: int | None,
    group_id: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Run], int]:
    query = select(Run)
    if status:
        query = query.where(Run.status == status)
    if finding_id:
        query = query.where(Run.finding_id == finding_id)
    if remediation_id:
        query = query.where(Run.remediation_id == remediation_id)
    if group_id:
        query = query.where(Run.group_id == group_id)
    total = count(session, query)
    runs = session.scalars(
        query.order_by(Run.created_at.desc(), Run.id).offset(offset).limit(limit)
    ).all()
    return list(runs), total
