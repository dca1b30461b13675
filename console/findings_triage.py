"""`remedy findings triage FILE...`: what Remedy can do for a team's findings, offline.

No hub and no Temporal: the files are read with remedy/intake (ASFF, OCSF, VSS, detected per
finding unless `--format` forces one), matched against the job catalogue a worker would register,
and reported per finding, then in totals. Fast enough for a whole Security Hub export.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated

import typer

from console.hub_api import console, load_document, print_table
from console.jobs_cli import JobCode
from remedy.config import worker_settings
from remedy.intake import FORMATS, Read, read_all
from remedy.intake.fields import arn_resource
from remedy.intake.matching import JobIndex
from remedy.intake.triage import triage
from remedy.logs import setup_logging
from remedy.payload_shape import PayloadError

FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        help=f"Read every finding as this format ({', '.join(FORMATS)}); default: detect.",
    ),
]


def _cell(text: str | None, width: int = 60) -> str:
    text = text or ""
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def findings_triage(
    files: Annotated[
        list[Path], typer.Argument(help="Finding files: JSON, JSON lines ('-': stdin).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    format: FormatOption = None,
    job_code: JobCode = None,
) -> None:
    """Per finding: format, control ids, resource, account, region, status, and the job that
    would fix it or why none; then totals. Offline: no hub, no Temporal."""
    from remedy.job_registry import discover

    setup_logging("WARNING")
    index = JobIndex.of(discover(job_code or worker_settings().job_code).jobs.values())
    reads: list[Read] = []
    for file in files:
        try:
            reads += read_all(load_document(file), format)
        except PayloadError as exc:
            raise typer.BadParameter(str(exc)) from None
    # numbered across the files, in the order given
    rows, totals = triage((replace(r, index=i) for i, r in enumerate(reads)), index)
    if as_json:
        print(
            json.dumps({"findings": [asdict(r) for r in rows], "totals": asdict(totals)}, indent=2)
        )
        return
    print_table(
        ["#", "format", "control", "resource", "account", "region", "status", "job / why not"],
        [
            [
                r.index,
                r.format or "?",
                _cell(r.control, 40),
                _cell(arn_resource(r.resource or ""), 30),
                r.account or "",
                r.region or "",
                r.status or r.disposition,
                r.reason,
            ]
            for r in rows
        ],
    )
    console.print(
        f"{totals.findings} findings, {totals.actionable} actionable, {totals.fixable} fixable"
        + (f", {totals.refused} refused" if totals.refused else "")
        + "".join(f"\n  {job}: {n}" for job, n in sorted(totals.by_job.items()))
    )
