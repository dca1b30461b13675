"""Findings in, runs and their logs out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import findings as store
from hub.context import HubDep, Trigger, Viewer
from hub.db import count
from hub.errors import ERROR_RESPONSES, ApiError
from hub.ingest import ingest
from hub.logs import read_logs
from hub.metrics import count_ingested
from hub.models import Finding
from hub.routes.common import FindingIdPath, Limit, Offset, RunId
from hub.run_states import HubRunState
from hub.runs import get_run, list_runs
from hub.schemas import (
    GROUP_ID,
    MAX_ID,
    FindingDetail,
    FindingOut,
    FindingStatus,
    FindingStatusIn,
    IngestResult,
    LogEntryOut,
    Page,
    RunDetail,
    RunOut,
)
from remedy import tracing
from remedy.intake.detect import is_batch

router = APIRouter(responses=ERROR_RESPONSES)

FindingsBody = Annotated[
    dict[str, Any] | list[Any],
    Body(
        description="One finding or a list of them (at most 1000), each in any format the hub "
        "reads, detected by itself: a VSS payload, an ASFF finding, an OCSF Detection or "
        'Compliance Finding. Wrappers are opened: `{"Findings": [...]}` (Security Hub), '
        '`{"findings": [...]}`, and the EventBridge events `Security Hub Findings - Imported` / '
        "`- Custom Action`."
    ),
]
FormatQuery = Annotated[
    Literal["asff", "ocsf", "vss"] | None,
    Query(alias="format", description="Read every finding as this format (default: detect)."),
]


@router.post("/findings", tags=["findings"])
async def post_findings(
    body: FindingsBody, hub: HubDep, caller: Trigger, forced: FormatQuery = None
) -> IngestResult:
    """Take findings: deduplicated by their id, matched against published actions; auto runs
    are queued (answered at once, started in the background, retried while Temporal is away) for
    actions with auto-remediation active (one per finding and action, ever), for the
    findings the source says to act on (FAILED / WARNING, active). A PASSED finding resolves the
    resource's open finding; SUPPRESSED, RESOLVED and ARCHIVED ones are recorded, never acted on.
    One finding that is invalid: 422 naming the field. In a list, each is answered on its own."""
    single = not is_batch(body)
    if isinstance(body, dict) and "findings" in body and not isinstance(body["findings"], list):
        raise ApiError(
            422, "findings: must be a list", 'send {"findings": [ ... ]}', field="findings"
        )
    # the span is the trace's root: the runs started in the background continue it
    with tracing.span("remedy.hub.ingest"):
        ingested = await hub.db.call(lambda s: ingest(s, [body] if single else body, forced))
        count_ingested(ingested.items)
        if single and ingested.items[0].result == "rejected":
            item = ingested.items[0]
            raise ApiError(422, item.error or "invalid finding", item.fix or "", field=item.field)
        hub.runs.start_soon(ingested.to_start)
        return ingested.answer()


@router.get("/findings", tags=["findings"])
def get_findings(
    hub: HubDep,
    caller: Viewer,
    status: FindingStatus | None = None,
    account_id: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9-]+$")] = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[FindingOut]:
    def work(session: Session) -> Page[FindingOut]:
        query = select(Finding)
        if status:
            query = query.where(Finding.status == status)
        if account_id:
            query = query.where(Finding.account_id == account_id)
        found = session.scalars(
            query.order_by(Finding.last_seen.desc(), Finding.id).offset(offset).limit(limit)
        ).all()
        return Page(
            items=[store.finding_out(session, f) for f in found],
            total=count(session, query),
            offset=offset,
            limit=limit,
        )

    return hub.db.run(work)


@router.get("/findings/{finding_id:path}", tags=["findings"])
def get_finding(finding_id: FindingIdPath, hub: HubDep, caller: Viewer) -> FindingDetail:
    return hub.db.run(lambda s: store.finding_detail(s, store.get_finding(s, finding_id)))


@router.patch("/findings/{finding_id:path}", tags=["findings"])
def patch_finding(
    finding_id: FindingIdPath, body: FindingStatusIn, hub: HubDep, caller: Trigger
) -> FindingOut:
    """Suppress a finding (never auto-remediated), or open it again."""
    return hub.db.run(lambda s: store.finding_out(s, store.set_status(s, finding_id, body.status)))


# -- runs -----------------------------------------------------------------------------------------


@router.get("/runs", tags=["runs"])
def get_runs(
    hub: HubDep,
    caller: Viewer,
    status: HubRunState | None = None,
    finding_id: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")] = None,
    remediation_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    group_id: Annotated[str | None, Query(pattern=GROUP_ID)] = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[RunOut]:
    """Runs, newest first, with their stored status (the poller and GET /runs/{id} refresh it)."""

    def work(session: Session) -> Page[RunOut]:
        runs, total = list_runs(
            session,
            status=status,
            finding_id=finding_id,
            remediation_id=remediation_id,
            group_id=group_id,
            offset=offset,
            limit=limit,
        )
        return Page(
            items=[hub.runs.out(session, r) for r in runs], total=total, offset=offset, limit=limit
        )

    return hub.db.run(work)


@router.get("/runs/{run_id}", tags=["runs"])
async def get_run_detail(run_id: RunId, hub: HubDep, caller: Viewer) -> RunDetail:
    """The run's status from its workflow (the `status` query, else its result), its steps, and
    its link in the Temporal UI. The finding's status follows."""
    return await hub.runs.read(run_id)


@router.get("/runs/{run_id}/logs", tags=["runs", "logs"])
def get_run_logs(
    run_id: RunId,
    hub: HubDep,
    caller: Viewer,
    offset: Offset = 0,
    limit: Limit = 100,
    order: Literal["newest", "oldest"] = "newest",
) -> Page[LogEntryOut]:
    """The job logs workers shipped for this run (redacted), newest first unless order=oldest."""

    def work(session: Session) -> Page[LogEntryOut]:
        run = get_run(session, run_id)
        items, total = read_logs(
            session,
            run_id=run_id,
            group_id=run.group_id,  # only what the run's own group sent
            offset=offset,
            limit=limit,
            newest_first=order == "newest",
            max_chars=hub.settings.hub_max_log_page_chars,
        )
        return Page(items=items, total=total, offset=offset, limit=limit)

    return hub.db.run(work)
