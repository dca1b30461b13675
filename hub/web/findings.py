"""Findings: the filtered list, a finding with its document, what would fix it and its runs, and
importing a file of findings with its triage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from hub import findings as store
from hub.actions import list_actions
from hub.auth import Permission
from hub.context import HubDep
from hub.errors import ApiError
from hub.findings import Facts, facts_of, mismatch
from hub.groups import group_account_ids
from hub.ingest import ingest
from hub.models import Finding, Run
from hub.schemas import FindingOut, RunOut
from hub.web.catalogue_jobs import job_index
from hub.web.csrf import checked_form
from hub.web.render import redirect, render
from hub.web.session import PageUser, may
from remedy.intake.detect import is_batch, read_all, read_one
from remedy.intake.triage import Row, triage, triage_one
from remedy.payload_shape import PayloadError

router = APIRouter(prefix="/ui", include_in_schema=False)

SCANNED = 2000  # findings read for the filters the store has no column for (newest first)
SHOWN = 200
Text = Annotated[str | None, Query(max_length=200)]


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    control: str | None = None
    standard: str | None = None
    account: str | None = None
    region: str | None = None
    severity: str | None = None
    resource_type: str | None = None

    def keeps(self, facts: Facts) -> bool:
        return (
            (not self.control or self.control in {facts.rule_id, facts.rule_name, *facts.controls})
            and (not self.standard or self.standard in facts.standards)
            and (not self.resource_type or self.resource_type == facts.resource_type)
        )


def _find(session: Session, wanted: Filters) -> list[FindingOut]:
    query = select(Finding)
    for column, value in (
        (Finding.status, wanted.status),
        (Finding.account_id, wanted.account),
        (Finding.region, wanted.region),
        (Finding.level, wanted.severity),
    ):
        if value:
            query = query.where(column == value)
    found = session.scalars(query.order_by(Finding.last_seen.desc(), Finding.id).limit(SCANNED))
    kept = [f for f in found if wanted.keeps(facts_of(f))][:SHOWN]
    return [store.finding_out(session, f) for f in kept]


def _clean(value: str | None) -> str | None:
    return value.strip() or None if value else None


@router.get("/findings")
def findings_page(
    request: Request,
    hub: HubDep,
    user: PageUser,
    status: Text = None,
    control: Text = None,
    standard: Text = None,
    account: Text = None,
    region: Text = None,
    severity: Text = None,
    resource_type: Text = None,
) -> HTMLResponse:
    wanted = Filters(
        status=_clean(status),
        control=_clean(control),
        standard=_clean(standard),
        account=_clean(account),
        region=_clean(region),
        severity=_clean(severity),
        resource_type=_clean(resource_type),
    )
    rows = hub.db.run(lambda s: _find(s, wanted))
    return render(request, "findings.html", user, rows=rows, wanted=wanted, shown=SHOWN)


@dataclass
class ActionFit:
    id: int
    name: str
    status: str
    why_not: str | None


def _detail(session: Session, finding_id: str, runs_out: Any) -> dict[str, Any]:
    finding = store.get_finding(session, finding_id)
    facts = facts_of(finding)
    fits = [
        ActionFit(
            a.id, a.name, a.status, mismatch(facts, a, group_account_ids(session, a.group_id))
        )
        for a in list_actions(session)
    ]
    runs = session.scalars(select(Run).where(Run.finding_id == finding.id).order_by(Run.id))
    return {
        "finding": store.finding_detail(session, finding),
        "facts": facts,
        "fits": fits,
        "runs": [runs_out(session, r) for r in runs],
    }


def _catalogue_verdict(document: dict[str, Any]) -> Row:
    return triage_one(read_one(0, document), job_index())


@router.get("/findings/{finding_id:path}")
async def finding_page(
    finding_id: str, request: Request, hub: HubDep, user: PageUser
) -> HTMLResponse:
    found = await hub.db.call(lambda s: _detail(s, finding_id, hub.runs.out))
    finding = found["finding"]
    verdict = _catalogue_verdict(finding.original or finding.payload)
    return render(
        request,
        "finding.html",
        user,
        **found,
        verdict=verdict,
        original=json.dumps(finding.original or finding.payload, indent=2, sort_keys=True),
    )


@router.post("/finding-status/{finding_id:path}")
async def set_status(finding_id: str, request: Request, hub: HubDep, user: PageUser) -> Response:
    may(user, Permission.TRIGGER, "suppress findings")
    form = await checked_form(request, user)
    wanted = "suppressed" if form.get("status") == "suppressed" else "open"
    await hub.db.call(lambda s: store.set_status(s, finding_id, wanted))
    done = "suppressed" if wanted == "suppressed" else "opened"
    return redirect(f"/ui/findings/{quote(finding_id, safe='/')}", done)


@router.post("/finding-run/{finding_id:path}")
async def run_on_finding(
    finding_id: str, request: Request, hub: HubDep, user: PageUser
) -> Response:
    """Run an action on the finding now (a failed run starts again: the retry), or only plan it
    (`plan`: nothing is changed)."""
    caller = may(user, Permission.TRIGGER, "trigger remediations")
    form = await checked_form(request, user)
    try:
        action_id = int(str(form.get("action_id", "")))
    except ValueError:
        raise ApiError(422, "action_id: choose an action", "pick one in the list") from None
    plan = form.get("plan") == "on"
    runs: list[RunOut] = await hub.runs.trigger(action_id, [finding_id], caller.name, plan=plan)
    return redirect(f"/ui/runs/{runs[0].id}", "triggered")


# -- importing a file -----------------------------------------------------------------------


def parse_document(raw: bytes) -> Any:
    """A JSON document, or JSON lines (one finding a line)."""
    text = raw.decode("utf-8-sig", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise ApiError(
                422,
                f"the file is neither JSON nor JSON lines (line {exc.lineno}: {exc.msg})",
                "upload a Security Hub export, Prowler's json-ocsf output or VSS payloads",
                field="file",
            ) from None


@router.get("/import")
def import_page(request: Request, user: PageUser) -> HTMLResponse:
    return render(request, "import.html", user, result=None)


@router.post("/import")
async def import_file(request: Request, hub: HubDep, user: PageUser) -> HTMLResponse:
    """Take the file's findings as POST /findings does, and show each one's triage beside what
    the hub did with it."""
    may(user, Permission.TRIGGER, "post findings")
    form = await checked_form(request, user)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError(422, "file: choose a file of findings", "pick a JSON file", field="file")
    document = parse_document(await upload.read())
    try:
        rows, totals = triage(read_all(document), job_index())
    except PayloadError as exc:
        raise ApiError(
            422, str(exc), "upload findings in ASFF, OCSF or VSS", field="file"
        ) from None
    body = document if is_batch(document) else [document]  # as POST /findings reads its body
    ingested = await hub.db.call(lambda s: ingest(s, body, None))
    hub.runs.start_soon(ingested.to_start)
    return render(
        request,
        "import.html",
        user,
        result=ingested.answer(),
        rows=rows,
        totals=totals,
        filename=upload.filename or "",
    )
