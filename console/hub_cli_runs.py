"""`remedy runs`, and `remedy remediate --action`: runs the hub started, followed to their end."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from console.hub_api import (
    ENDED,
    AsJson,
    HubApi,
    action_id,
    console,
    print_json,
    print_logs,
    print_table,
)

# -- runs -----------------------------------------------------------------------------------------

runs_app = typer.Typer(help="Remediation runs started by the hub.", no_args_is_help=True)


def _print_runs(runs: list[dict[str, Any]]) -> None:
    print_table(
        ["run", "finding", "action", "trigger", "status", "message"],
        [
            [r["id"], r["finding_id"], r["remediation"], r["trigger"], r["status"], r["message"]]
            for r in runs
        ],
    )


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
    as_json: AsJson = False,
) -> None:
    """Runs, newest first."""
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
        _print_runs(found["items"])


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


def remediate_action(
    action: Annotated[str, typer.Option("--action", help="The action: id or name.")],
    finding: Annotated[list[str], typer.Option("--finding", help="Finding id; repeatable.")],
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Wait for the runs to end; exit 0 if all succeeded, 3 if one logged errors, else 1.",
        ),
    ] = False,
    timeout: Annotated[float, typer.Option(help="How long --wait waits, in seconds.")] = 900.0,
    as_json: AsJson = False,
) -> None:
    """Run a hub remediation action on findings (Admin or Analyst); print the runs.

    (`remedy remediate` runs jobs directly on Temporal, without the hub.)
    """
    api = HubApi()
    found = api.call(
        "POST", f"/remediations/{action_id(api, action)}/run", body={"finding_ids": finding}
    )
    runs = found["runs"]
    if wait:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = [api.call("GET", f"/runs/{r['id']}") for r in runs]
            if all(r["status"] in ENDED for r in runs):
                break
            time.sleep(1)
    if as_json:
        print_json({"runs": runs})
    else:
        _print_runs(runs)
    if wait:
        states = {r["status"] for r in runs}
        if states - {"succeeded", "succeeded_with_errors"}:
            raise typer.Exit(1)
        if "succeeded_with_errors" in states:
            raise typer.Exit(3)  # as `remedy remediate --wait`: fixed, but a job logged errors
