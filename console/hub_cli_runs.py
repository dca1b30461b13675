"""`remedy runs`, and `remedy remediate --action`: runs the hub started, followed to their end."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from console.cli_output import Verbose, one_line
from console.hub_api import (
    ENDED,
    AsJson,
    HubApi,
    action_id,
    console,
    err,
    print_json,
    print_logs,
    print_table,
)
from console.hub_cli_flags import RUN_FLAGS

# -- runs -----------------------------------------------------------------------------------------

runs_app = typer.Typer(help="Remediation runs started by the hub.", no_args_is_help=True)


def _print_runs(runs: list[dict[str, Any]], verbose: bool = False) -> None:
    rows, cut = [], False
    for r in runs:
        message, shortened = (r["message"] or "", False) if verbose else one_line(r["message"])
        cut = cut or shortened
        rows.append(
            [r["id"], r["finding_id"], r["remediation"], r["trigger"], r["status"], message]
        )
    print_table(["run", "finding", "action", "trigger", "status", "message"], rows)
    if cut:
        err.print("(messages cut to one line: -v or --json shows them whole)", highlight=False)


@runs_app.command("list")
def runs_list(
    status: Annotated[
        str | None,
        typer.Option(
            help="pending, submitted, running, stuck, succeeded, failed, cancelled, terminated."
        ),
    ] = None,
    finding: Annotated[str | None, typer.Option(help="Only this finding's runs.")] = None,
    action: Annotated[int | None, typer.Option(help="Only this action's runs (id).")] = None,
    group: Annotated[str | None, typer.Option(help="Only this worker group's runs.")] = None,
    limit: Annotated[int, typer.Option(help="How many.")] = 50,
    verbose: Verbose = False,
    as_json: AsJson = False,
) -> None:
    """Runs, newest first; each message on one line (-v: whole)."""
    found = HubApi().call(
        "GET",
        "/runs",
        params={
            "status": status,
            "finding_id": finding,
            "remediation_id": action,
            "group_id": group,
            "limit": limit,
        },
    )
    if as_json:
        print_json(found)
    else:
        _print_runs(found["items"], verbose)


def _print_run(run: dict[str, Any]) -> None:
    colour = {
        "succeeded": "green",
        "succeeded_with_errors": "yellow",
        "failed": "red",
        "running": "yellow",
    }.get(run["status"], "white")
    console.print(
        f"[bold]{run['id']}[/bold] {run['remediation']} on finding {run['finding_id']}: "
        f"[{colour}]{run['status']}[/{colour}] {run['message']}"
    )
    print_table(
        ["step", "state", "attempts", "exit", "message"],
        [
            [s["name"], s["state"], s["attempts"] or "", s["exit_code"], s["message"]]
            for s in run["steps"]
        ],
    )
    if run.get("notification"):
        console.print(f"notification: {run['notification']}")
    console.print(run["temporal_url"])


@runs_app.command("get")
def runs_get(run_id: str, as_json: AsJson = False) -> None:
    """A run's status from its workflow, its steps, and its link in the Temporal UI."""
    found = HubApi().call("GET", f"/runs/{run_id}")
    if as_json:
        print_json(found)
    else:
        _print_run(found)


@runs_app.command("logs")
def runs_logs(
    run_id: str,
    limit: Annotated[int, typer.Option(help="How many entries.")] = 100,
    as_json: AsJson = False,
) -> None:
    """The job logs the workers shipped for this run (oldest first)."""
    found = HubApi().call("GET", f"/runs/{run_id}/logs", params={"limit": limit, "order": "oldest"})
    print_logs(found, as_json)


#: `remediate-action --wait` gave up before every run ended (as timeout(1) exits)
EXIT_WAIT_TIMED_OUT = 124


def remediate_action(
    action: Annotated[str, typer.Option("--action", help="The action: id or name.")],
    finding: Annotated[list[str], typer.Option("--finding", help="Finding id; repeatable.")],
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Wait for the runs to end; exit 0 if all succeeded, 3 if one logged errors, "
            f"{EXIT_WAIT_TIMED_OUT} if --timeout passed first (the runs go on), else 1.",
        ),
    ] = False,
    timeout: Annotated[float, typer.Option(help="How long --wait waits, in seconds.")] = 900.0,
    verbose: Verbose = False,
    as_json: AsJson = False,
) -> None:
    """Run a hub remediation action on findings (Admin or Analyst); print the runs.

    (`remedy remediate` runs jobs directly on Temporal, without the hub.)
    """
    api = HubApi()
    found = api.call(
        "POST",
        f"/remediations/{action_id(api, action)}/run",
        body={"finding_ids": finding},
        flags=RUN_FLAGS,
    )
    runs = found["runs"]
    if wait:
        deadline = time.monotonic() + timeout
        while True:
            runs = [api.call("GET", f"/runs/{r['id']}") for r in runs]
            if all(r["status"] in ENDED for r in runs) or time.monotonic() >= deadline:
                break
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    if as_json:
        print_json({"runs": runs})
    else:
        _print_runs(runs, verbose)
    if wait:
        _exit_for(runs, timeout)


def _exit_for(runs: list[dict[str, Any]], timeout: float) -> None:
    open_runs = [r for r in runs if r["status"] not in ENDED]
    if open_runs:
        err.print(
            f"timed out: --timeout {timeout:g}s passed with {len(open_runs)} of {len(runs)} "
            "run(s) still open; they go on without this command:",
            highlight=False,
        )
        for run in open_runs:
            err.print(f"  {run['id']} ({run['status']})", highlight=False, markup=False)
        err.print(
            "follow them with `remedy runs get RUN` (or `remedy runs list --action ID`)",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(EXIT_WAIT_TIMED_OUT)
    states = {r["status"] for r in runs}
    if states - {"succeeded", "succeeded_with_errors"}:
        raise typer.Exit(1)
    if "succeeded_with_errors" in states:
        raise typer.Exit(3)  # as `remedy remediate --wait`: fixed, but a job logged errors
