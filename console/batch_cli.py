"""`remedy remediate-batch`: a backlog of findings of one job, remediated in batches, and
`remedy status` of a batch (every finding's line)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from console.cli_output import console, err, fail, read_text, ui_link
from console.cli_params import ExternalIdOption, GroupOption, ParamOption, parse_parameters
from remedy.batch_protocol import DEFAULT_IN_FLIGHT, MAX_BATCH_SIZE
from remedy.config import temporal_settings, worker_settings
from remedy.types import AccountAccess, JobStep, RemediationSpec, RetrySettings, RunState

if TYPE_CHECKING:
    from remedy.batch_starter import BatchPlan, PlannedBatch
    from remedy.batch_types import BatchStatus

#: the states a finding's run can end in that count as fixed (exit 0)
_FINE = {RunState.SUCCEEDED, RunState.SKIPPED}


def read_findings(path: str) -> list[dict[str, Any]]:
    """A JSON list of finding payloads, or JSON Lines (one payload a line); '-' is stdin."""
    text = sys.stdin.read() if path == "-" else read_text(Path(path))
    stripped = text.strip()
    try:
        if stripped.startswith("["):
            found = json.loads(stripped)
        else:
            found = [json.loads(line) for line in stripped.splitlines() if line.strip()]
    except ValueError as exc:
        raise fail(f"{path}: not a JSON list of findings nor JSON Lines ({exc})") from None
    if not isinstance(found, list) or not all(isinstance(f, dict) for f in found):
        raise fail(f"{path}: each finding must be a JSON object (a VSS payload)")
    return found


def remediate_batch(
    job: Annotated[
        str,
        typer.Argument(
            help="The job: one that takes batches runs one process per batch; any other runs one process per finding, in one workflow."
        ),
    ],
    findings: Annotated[
        str,
        typer.Option(
            "--findings",
            help="The findings: a JSON list of VSS payloads, or JSON Lines ('-' reads stdin).",
        ),
    ],
    group: GroupOption = None,
    batch_size: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_BATCH_SIZE,
            help="Findings per batch (one workflow, one job process and one verify each).",
            envvar="REMEDY_BATCH_SIZE",
        ),
    ] = 100,
    param: ParamOption = [],  # noqa: B006
    external_id: ExternalIdOption = None,
    timeout: Annotated[float, typer.Option(help="Timeout of one job process, in seconds.")] = 900.0,
    attempts: Annotated[int, typer.Option(help="Attempts per finding.")] = 3,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Skip the job's verify.py.")
    ] = False,
    no_tags: Annotated[bool, typer.Option("--no-tags", help="Do not tag the resources.")] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Run the batches --in-flight at a time, saying as each starts and ends; exit 0 "
            "if every finding was fixed (or left alone by its opt-out), 1 if one failed.",
        ),
    ] = False,
    in_flight: Annotated[
        int,
        typer.Option(
            min=1,
            help="With --wait: batches running at once (the workers' and the Temporal "
            "server's memory holds this many, whatever the backlog's size).",
            envvar="REMEDY_BATCHES_IN_FLIGHT",
        ),
    ] = DEFAULT_IN_FLIGHT,
) -> None:
    """Remediate many findings of one job: grouped by account and region into batches, each
    finding with its own run id (`remedy status RUN`), each batch one workflow
    (`remedy status BATCH` lists its findings). A finding whose run is open joins it."""
    from remedy.batch_starter import NotBatchable, run_batches, start_batches
    from remedy.temporal import connect

    if group is None:
        raise fail("give --group (the worker group whose workers run the batches)")
    payloads = read_findings(findings)
    try:
        step = JobStep(
            job=job,
            parameters=parse_parameters(param),
            timeout_s=timeout,
            verify=not no_verify,
            retry=RetrySettings(max_attempts=attempts),
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    spec = RemediationSpec(steps=[step], access=AccountAccess(external_id=external_id))
    spec.tags.enabled = not no_tags
    settings = temporal_settings()

    def started(batch: PlannedBatch) -> None:
        console.print(
            f"batch [bold]{batch.batch_id}[/bold]  {len(batch.members)} finding(s) in "
            f"{batch.account_id} {batch.region}  {ui_link(settings, batch.batch_id)}"
        )

    def ended(done: BatchStatus) -> None:
        err.print(f"  {done.batch_id} ended: {done.state} {done.message}")

    def said(plan: BatchPlan) -> None:
        for index, why in plan.rejected:
            err.print(f"  finding #{index + 1} not started: {why}")
        for run_id, running in plan.joined.items():
            err.print(f"  {run_id} is already running in {running}: joined, not started again")

    async def main() -> int:
        client = await connect(settings)
        attributes = worker_settings().search_attributes
        try:
            if not wait:  # every batch starts now; the workers run them as they can
                plan = await start_batches(
                    client,
                    payloads,
                    spec,
                    group,
                    batch_size=batch_size,
                    search_attributes=attributes,
                )
                for batch in plan.batches:
                    started(batch)
                said(plan)
                return 0
            plan, results = await run_batches(
                client,
                payloads,
                spec,
                group,
                batch_size=batch_size,
                in_flight=in_flight,
                search_attributes=attributes,
                started=started,
                ended=ended,
            )
        except NotBatchable as exc:
            raise fail(str(exc)) from None
        said(plan)
        for done in results:
            print_batch(done)
        failed = [m for done in results for m in done.members if m.state not in _FINE]
        return 1 if failed or plan.rejected else 0

    raise typer.Exit(asyncio.run(main()))


def print_batch(status: BatchStatus) -> None:
    console.print(
        f"[bold]{status.batch_id}[/bold] {status.remediation} ({status.account_id} "
        f"{status.region}): {status.state} {status.message}"
    )
    table = Table("run", "resource", "state", "message")
    for member in status.members:
        table.add_row(member.run_id, member.resource or "", member.state, member.message)
    console.print(table)


async def batch_status(client: Any, batch_id: str) -> BatchStatus:
    """A batch's status: its query while a worker answers, else its result."""
    from remedy.batch_types import BatchStatus

    handle = client.get_workflow_handle(batch_id, result_type=BatchStatus)
    try:
        found: BatchStatus = await handle.query("status", result_type=BatchStatus)
        return found
    except Exception:
        ended: BatchStatus = await handle.result()
        return ended
