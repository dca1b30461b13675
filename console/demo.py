"""`remedy demo`: five findings fixed end to end on the embedded stack, one Jira issue each; one
more approved, then rolled back.

Starts the Temporal dev server (UI on :8233 when free), the sandbox cloud (AWS: moto with IAM
enforced; Azure: the Resource Manager + Entra ID emulator; Jira: the REST emulator) and a
`remedy worker` process; creates an EC2 instance whose security group opens 22 to the internet, a
security group open on 3389, a public bucket, an Azure network security group open on 22 and an
Azure storage account that accepts plain HTTP; remediates the five findings through workflows;
checks on the emulators that each is fixed and tagged and has its Jira issue; prints a table. Then
a sixth finding goes through an action that asks for approval (the plan shown, approved, applied)
and is rolled back (console/demo_safety.py). Sweeps every history, log, database and hub answer
for the secrets it used (console/secret_sweep.py); stops everything it started (with `--keep`,
once Ctrl-C is pressed).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from console.cli_output import make_console
from console.demo_cases import (
    Case,
    create_findings,
    finding_payload,
    import_to_security_hub,
    verify,
)
from console.demo_hub import (
    DemoHub,
    hub_responses,
    publish_actions,
    setup_hub,
    start_hub,
    wait_online,
)
from console.demo_safety import SafetyShow, approve_then_roll_back
from console.local_processes import STATE, clean_env, wait_for_line, worker_process
from console.sandbox_cloud import Clouds, sandbox_worker_env, start_sandbox_cloud
from console.secret_sweep import (
    Sweep,
    files,
    find_leaks,
    moto_credentials,
    process_environment,
    sqlite_rows,
    temporal_histories,
    worker_canary,
)
from remedy.config import TemporalSettings
from remedy.temporal import connect
from remedy.types import (
    OPEN_STATES,
    RunState,
)
from sandbox.aws import free_port

console = make_console()

#: the states a run ends in (the hub reports the workflow's own)
ENDED = set(RunState) - OPEN_STATES


def _port_or_free(port: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return port
        except OSError:
            return free_port()


def _table(cases: list[Case]) -> Table:
    table = Table(
        "finding", "resource", "job", "status", "time", "fixed", "tagged", "Jira", "Security Hub"
    )
    for case in cases:
        state = case.state
        colour = {"succeeded": "green", "failed": "red"}.get(state, "yellow")
        table.add_row(
            case.title,
            case.resource,
            case.job,
            f"[{colour}]{state}[/{colour}]",
            f"{case.seconds:.1f}s" if case.seconds else "",
            "yes" if case.fixed else "no",
            "yes" if case.tagged else "no",
            case.ticket or "-",
            case.security_hub or "-",
        )
    return table


def remediate_all(hub: DemoHub, cases: list[Case], clouds: Clouds, timeout_s: float) -> None:
    """Post the findings to the hub: it matches them to the actions and starts the runs."""
    findings = [finding_payload(case, clouds) for case in cases]
    import_to_security_hub(cases, clouds)
    started = time.monotonic()
    ingested = hub.call("POST", "/findings", findings)
    for case, item in zip(cases, ingested["items"], strict=True):
        if not item["runs"]:
            raise RuntimeError(f"the hub started no run for {case.job}: {item}")
        case.run_id = item["runs"][0]
    with Live(_table(cases), console=console, refresh_per_second=4) as live:
        while time.monotonic() - started < timeout_s:
            for case in cases:
                if case.state not in ENDED:
                    with contextlib.suppress(Exception):
                        run = hub.call("GET", f"/runs/{case.run_id}")
                        case.state, case.message = run["status"], run["message"]
                        case.temporal_url = run["temporal_url"]
                    if case.state in ENDED:
                        case.seconds = time.monotonic() - started
            live.update(_table(cases))
            if all(c.state in ENDED for c in cases):
                break
            time.sleep(0.3)
        for case in cases:
            verify(case, clouds)
        live.update(_table(cases))
    if not console.is_terminal:  # a live display ends its last line only on a terminal
        console.line()
    for case in cases:
        console.print(f"  {case.job}: {case.temporal_url}", soft_wrap=True)


def sweep_secrets(
    hub: DemoHub,
    clouds: Clouds,
    state_dir: Path,
    settings: TemporalSettings,
    group_id: str,
    client_secret: str,
    worker: tuple[int, dict[str, str]],
) -> Sweep:
    """Every secret the demo used, looked for wherever it must not be; `worker`: the worker's
    pid and the canary planted in its environment."""
    worker_pid, canary = worker
    secrets = {
        **{f"canary in the worker's {name}": value for name, value in canary.items()},
        **moto_credentials(clouds.aws.endpoint),
        **{f"Azure secret #{n}": v for n, v in enumerate(clouds.azure.secrets(), 1)},
        **{f"Azure access token #{n}": v for n, v in enumerate(clouds.azure.issued_tokens(), 1)},
        "Jira API token": clouds.jira.token,
        "hub admin token": hub.token,
        "worker group client secret": client_secret,
    }

    async def histories() -> list[tuple[str, str]]:
        return await temporal_histories(await connect(settings))

    places: list[tuple[str, str | bytes]] = [
        *asyncio.run(histories()),
        *hub_responses(hub, group_id),
        *sqlite_rows(state_dir / "hub.db"),
        *process_environment(worker_pid),
        *files(
            [
                state_dir / "worker.log",
                state_dir / "hub.log",
                state_dir / "hub.db",
                *sorted((state_dir / "temporal").glob("*.db*")),
            ]
        ),
    ]
    return find_leaks(secrets, places)


def demo(
    state_dir: Annotated[
        Path, typer.Option(help="Where the demo keeps its Temporal database and logs.")
    ] = STATE / "demo",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the remediations.")] = 180.0,
    keep: Annotated[
        bool,
        typer.Option(
            help="Keep everything running at the end and print the hub's URL and a sign-in "
            "token, the Temporal UI's and the sandbox's, until Ctrl-C."
        ),
    ] = False,
) -> None:
    """Fix five findings (AWS and Azure) end to end on the embedded stack, one Jira issue each;
    approve a sixth one's plan and roll it back; then sweep for leaked secrets. Exit 0 only if
    all are fixed, tagged and ticketed, the approval and the rollback did what they say, and no
    secret leaked.

    Everything it starts (dev server, sandbox cloud, hub, worker) is stopped before it exits
    (with --keep: once Ctrl-C is pressed). The runs stay in STATE_DIR/temporal: `remedy
    dev-server --state-dir STATE_DIR/temporal` shows them in the UI.
    """
    from remedy.temporal import start_dev_server, stop_process

    state_dir.mkdir(parents=True, exist_ok=True)
    port, ui_port = _port_or_free(7233), _port_or_free(8233)
    ui_url = f"http://127.0.0.1:{ui_port}"
    settings = TemporalSettings(address=f"127.0.0.1:{port}", ui_url=ui_url)
    processes: list[subprocess.Popen[bytes]] = []
    clouds: Clouds | None = None
    hub: DemoHub | None = None
    cases: list[Case] = []
    sweep: Sweep | None = None
    show: SafetyShow | None = None
    try:
        console.print(f"[bold]1/7[/bold] Temporal dev server on 127.0.0.1:{port} (UI {ui_url})")
        processes.append(start_dev_server(port, state_dir / "temporal", ui_port=ui_port))
        console.print(
            "[bold]2/7[/bold] sandbox cloud: AWS (moto, IAM enforced: the remediation role carries "
            "the jobs' minimum policies), Azure (Resource Manager + Entra ID, role-checked), Jira"
        )
        clouds = start_sandbox_cloud()
        hub = start_hub(state_dir, settings.address, ui_url)
        group_id, client_id, client_secret = setup_hub(hub, clouds)
        console.print(
            f"[bold]3/7[/bold] hub at {hub.url}: worker group {group_id}, the sandbox's "
            "AWS account and Azure subscription associated"
        )
        env = clean_env(
            **sandbox_worker_env(clouds),
            TEMPORAL_ADDRESS=settings.address,
            TEMPORAL_UI_URL=ui_url,
            REMEDY_HUB_URL=hub.url,
            VSS_CLIENT_ID=client_id,
            VSS_CLIENT_SECRET=client_secret,
            **(canary := worker_canary()),
        )
        processes.append(_start_worker(hub, group_id, env, state_dir / "worker.log"))
        worker = (processes[-1].pid, canary)
        cases = create_findings(clouds)
        publish_actions(hub, group_id, cases, clouds)
        console.print(
            "[bold]5/7[/bold] five auto-remediating actions published; five findings "
            "posted to the hub, which starts their runs on Temporal (the three AWS ones as "
            "Security Hub findings, ASFF, imported into the sandbox's Security Hub first, their "
            "outcome written back; the two Azure ones as VSS payloads)"
        )
        remediate_all(hub, cases, clouds, timeout)
        console.print(
            "[bold]6/7[/bold] safe to turn on: a sixth finding through an action that asks for "
            "approval, then rolled back"
        )
        show = approve_then_roll_back(
            hub, group_id, clouds, lambda line: console.print(line, markup=False), timeout
        )
        sweep = sweep_secrets(hub, clouds, state_dir, settings, group_id, client_secret, worker)
        console.print(f"[bold]7/7[/bold] secret sweep: {sweep.summary()}", soft_wrap=True)
        console.print(
            "    (every credential and secret used: the sandbox's and STS's AWS keys, the Azure "
            "app's secret, the Jira token, the hub's admin token and group secret, and a canary "
            "planted in the worker's environment; searched in every workflow history, the worker "
            "and hub logs, the Temporal and hub databases, the hub's answers and the worker's "
            "environment block)",
            markup=False,
        )
        if keep:
            _keep_running(hub, ui_url, clouds)
    finally:
        for process in reversed(processes):
            stop_process(process, 40)
        if hub:
            hub.stop()
        if clouds:
            clouds.stop()
    raise typer.Exit(0 if _all_fixed(cases, sweep, state_dir, show) else 1)


def _keep_running(hub: DemoHub, ui_url: str, clouds: Clouds) -> None:
    """Say where everything is, then wait for Ctrl-C (the caller stops it all)."""
    console.print(
        f"\n[bold]Kept running until Ctrl-C.[/bold]\n  hub: {hub.url} (pages: {hub.url}/ui, "
        f"sign in with the token below; API docs: {hub.url}/docs)"
        f"\n  sign-in token (the demo's admin): {hub.token}\n  Temporal UI: {ui_url}"
        f"\n  sandbox AWS endpoint: {clouds.aws.endpoint}; Jira: {clouds.jira.url}",
        soft_wrap=True,
        highlight=False,
    )
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def _start_worker(
    hub: DemoHub, group_id: str, env: dict[str, str], log_file: Path
) -> subprocess.Popen[bytes]:
    """`remedy worker` as deployed, returned once the hub shows it online."""
    log_file.unlink(missing_ok=True)
    console.print(f"[bold]4/7[/bold] remedy worker --group {group_id} (log: {log_file})")
    process = worker_process(group_id, env, log_file)
    line = wait_for_line(log_file, "Worker started and is waiting for work", 90, process)
    console.print("    " + line, markup=False, highlight=False)
    worker = wait_online(hub, group_id)
    console.print(
        f"    the hub shows worker {worker['worker_id']} {worker['state']} with "
        f"{len(worker['jobs'])} jobs"
    )
    return process


def _all_fixed(
    cases: list[Case], sweep: Sweep | None, state_dir: Path, show: SafetyShow | None
) -> bool:
    """The demo's verdict, printed: every finding fixed, tagged and ticketed, the approval and
    the rollback done, no secret leaked."""
    ok = (
        bool(cases)
        and show is not None
        and show.ok
        and all(c.fixed and c.tagged and c.ticket and c.state == RunState.SUCCEEDED for c in cases)
        # the AWS findings were Security Hub's: write-back set them RESOLVED there
        and all(c.security_hub == "RESOLVED" for c in cases if c.provider == "aws")
        and sweep is not None
        and not sweep.leaks
    )
    if ok:
        console.print(
            f"[green]All {len(cases)} findings fixed, tagged and ticketed[/green], the "
            f"{sum(c.provider == 'aws' for c in cases)} Security Hub findings RESOLVED in the "
            "sandbox's Security Hub; one plan approved and applied, then rolled back. The runs are "
            f"kept in {state_dir / 'temporal'}: `remedy dev-server --state-dir "
            f"{state_dir / 'temporal'}` shows them in the Temporal UI."
        )
    else:
        for case in cases:
            if case.state != RunState.SUCCEEDED:
                console.print(f"[red]{case.job}:[/red] {case.state} {case.message}")
            elif case.provider == "aws" and case.security_hub != "RESOLVED":
                console.print(f"[red]{case.job}:[/red] Security Hub shows {case.security_hub}")
        if show is not None and not show.ok:
            console.print(f"[red]approval and rollback:[/red] {show}", markup=True)
        console.print(
            f"[red]Not every finding was fixed.[/red] Worker log: {state_dir / 'worker.log'}"
        )
    return ok
