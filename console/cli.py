"""`remedy`: the command line. Every command's --help says what it does and what it reads."""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape

from console.approvals_cli import approvals_app, approve, reject
from console.batch_cli import batch_status, print_batch, remediate_batch
from console.cli_output import console, err, fail, follow_run, print_status, read_text, ui_link
from console.cli_params import ExternalIdOption, GroupOption, ParamOption, parse_parameters
from console.jobs_cli import JobCode, jobs_app
from remedy.aws_ids import AwsIdError, check_access
from remedy.batch_protocol import BATCH_PREFIX
from remedy.config import ConfigError, temporal_settings, worker_settings
from remedy.finding import PayloadError, parse_json
from remedy.logs import setup_logging
from remedy.types import (
    AccountAccess,
    ApprovalSettings,
    JobStep,
    RemediationSpec,
    RetrySettings,
    RunState,
    RunStatus,
)

app = typer.Typer(
    help="Remedy: durable, observable remediation of cloud security-posture findings.\n\n"
    "Temporal is reached at TEMPORAL_ADDRESS (default 127.0.0.1:7233); see the README for every "
    "environment variable.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(jobs_app, name="jobs")
app.add_typer(approvals_app, name="approvals")
app.command("approve")(approve)
app.command("reject")(reject)

# -- worker -------------------------------------------------------------------------------------


@app.command()
def worker(
    group: Annotated[
        str,
        typer.Option(
            "--group",
            help="Worker group id: the worker polls its task queue (remedy-<group>).",
            envvar="REMEDY_WORKER_GROUP",
        ),
    ],
    job_code: JobCode = None,
    worker_id: Annotated[
        str | None, typer.Option(help="Default: REMEDY_WORKER_ID, else <host>-<random>.")
    ] = None,
    log_level: Annotated[str, typer.Option(envvar="REMEDY_LOG_LEVEL")] = "INFO",
) -> None:
    """Run a worker: discover and validate the jobs, then poll the group's task queue.

    The worker's own cloud identity comes from its environment (AWS: the standard variables,
    a profile or an instance role; it only needs sts:AssumeRole on the accounts' roles).
    SIGTERM or Ctrl-C drains in-flight work and exits.

    The job code is reloaded without a restart when it changes (every REMEDY_JOB_CODE_RELOAD_S,
    or at once on SIGHUP: `kill -HUP <pid>`); runs keep the version they were validated with.
    REMEDY_JOB_CODE_GIT takes the job code from a Git repository, pulled on an interval.
    """
    from activities.process_guard import make_undumpable
    from remedy.temporal import connect
    from worker.main import run_worker

    make_undumpable()  # first: this process holds secrets; jobs must not read it (issue #22)
    setup_logging(log_level)

    async def main() -> None:
        client = await connect(temporal_settings())
        await run_worker(client, group, worker_settings(), job_code=job_code, worker_id=worker_id)

    asyncio.run(main())


# -- remediate, status, logs --------------------------------------------------------------------


def _parameters(pairs: list[str]) -> dict[str, Any]:
    try:
        return parse_parameters(pairs)
    except ValueError as exc:
        raise fail(str(exc)) from None


@app.command()
def remediate(
    jobs: Annotated[
        list[str] | None,
        typer.Argument(
            help="The job to run, or several: a chain run in order, stopping at the first failure."
        ),
    ] = None,
    group: GroupOption = None,
    payload: Annotated[
        Path | None,
        typer.Option(
            "--payload",
            help="The finding: a JSON file in the VSS payload shape ('-' reads standard input).",
        ),
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(help="Through the hub instead: run this remediation action (id or name)."),
    ] = None,
    finding_ids: Annotated[
        list[str] | None,
        typer.Option("--finding", help="With --action: a finding id known to the hub; repeatable."),
    ] = None,
    param: ParamOption = [],  # noqa: B006
    account_role_arn: Annotated[
        str | None,
        typer.Option(help="Role to assume in the account (overrides cloudAccount.roleArn)."),
    ] = None,
    external_id: ExternalIdOption = None,
    timeout: Annotated[float, typer.Option(help="Per-step timeout in seconds.")] = 900.0,
    attempts: Annotated[int, typer.Option(help="Attempts per step.")] = 3,
    no_tags: Annotated[bool, typer.Option("--no-tags", help="Do not tag the resource.")] = False,
    plan: Annotated[
        bool,
        typer.Option(
            "--plan",
            help="A plan run: each job in plan mode lists the changes it would make and makes "
            "none (no tag, notification or write-back); `remedy status RUN` shows the plan.",
        ),
    ] = False,
    approval: Annotated[
        bool,
        typer.Option(
            "--approval",
            help="Plan first and wait for an approval (`remedy approve RUN`) before changing "
            "anything; a rejection or no decision within --approval-expires fails the run.",
        ),
    ] = False,
    grace: Annotated[
        float,
        typer.Option(
            help="Seconds to wait, durably, before changing anything; the finding resolved "
            "meanwhile (a `resolve` signal, which the hub sends) ends the run skipped."
        ),
    ] = 0,
    approval_expires: Annotated[
        float, typer.Option(help="With --approval: seconds the plan waits for a decision.")
    ] = 24 * 3600,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Show progress; exit 0 if the remediation succeeded, 3 if it succeeded but a job "
            "logged errors, 4 if the resource opted out (its remedy:skip tag), 1 if it failed.",
        ),
    ] = False,
) -> None:
    """Start a remediation of one finding; print its run id (the Temporal workflow id).

    Directly on Temporal: `remedy remediate JOB... --group G --payload FILE`. Through the hub
    (REMEDY_HUB_URL, REMEDY_HUB_TOKEN): `remedy remediate --action A --finding F [--wait]`.
    """
    if action is not None:
        _remediate_through_hub(action, finding_ids, wait, timeout, given=bool(jobs or payload))
        return
    if not jobs or group is None or payload is None:
        raise fail(
            "give the JOB(s) to run, --group and --payload (or --action and --finding to "
            "run a hub action)"
        )
    try:
        check_access(account_role_arn, external_id)
    except AwsIdError as exc:
        option = "--external-id" if exc.field == "external_id" else "--account-role-arn"
        raise fail(f"{option}: {str(exc).split(': ', 1)[1]}") from None
    try:
        finding = parse_json(sys.stdin.read() if str(payload) == "-" else read_text(payload))
        access = AccountAccess(role_arn=account_role_arn, external_id=external_id)
        spec = _direct_spec(jobs, param, timeout, attempts, no_tags, access)
        if plan:
            spec.mode = "plan"
        spec.grace_s = grace
        if approval:
            spec.approval = ApprovalSettings(
                expires_s=approval_expires, requester=getpass.getuser()
            )
    except (PayloadError, ValueError) as exc:
        raise fail(f"{payload}: {exc}") from None
    raise typer.Exit(asyncio.run(_start_direct(finding, spec, group, str(payload), wait)))


def _remediate_through_hub(
    action: str, finding_ids: list[str] | None, wait: bool, timeout: float, *, given: bool
) -> None:
    """`remedy remediate --action A --finding F`: the hub claims and starts the runs."""
    if given:
        raise fail("--action runs a hub action on --finding ids: give no JOB or --payload with it")
    if not finding_ids:
        raise fail("--action needs at least one --finding (a finding id known to the hub)")
    from console.hub_cli_runs import remediate_action

    remediate_action(action=action, finding=finding_ids, wait=wait, timeout=timeout)


def _direct_spec(
    jobs: list[str],
    param: list[str],
    timeout: float,
    attempts: int,
    no_tags: bool,
    access: AccountAccess,
) -> RemediationSpec:
    """The chain of jobs, each with the same parameters, timeout and attempts."""
    steps = [
        JobStep(
            job=job,
            parameters=_parameters(param),
            timeout_s=timeout,
            retry=RetrySettings(max_attempts=attempts),
        )
        for job in jobs
    ]
    spec = RemediationSpec(steps=steps, access=access)
    spec.tags.enabled = not no_tags
    return spec


async def _start_direct(
    finding: Any, spec: RemediationSpec, group: str, source: str, wait: bool
) -> int:
    """Start the run on Temporal; with `wait`, follow it and return the command's exit code."""
    from remedy.starter import start_remediation
    from remedy.temporal import connect

    settings = temporal_settings()
    client = await connect(settings)
    try:
        run_id = await start_remediation(
            client, finding, spec, group, search_attributes=worker_settings().search_attributes
        )
    except PayloadError as exc:
        raise fail(f"{source}: {exc}") from None
    console.print(f"run [bold]{run_id}[/bold]  {ui_link(settings, run_id)}")
    if not wait:
        return 0
    status = await follow_run(client, run_id)
    print_status(status, settings)
    return {RunState.SUCCEEDED: 0, RunState.SUCCEEDED_WITH_ERRORS: 3, RunState.SKIPPED: 4}.get(
        status.state, 1
    )


@app.command()
def rollback(
    run_id: Annotated[str, typer.Argument(help="The run to roll back (a finished remediation).")],
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Show progress; exit 0 if the rollback succeeded, 1 if not."),
    ] = False,
) -> None:
    """Roll a finished run back: each job's rollback, in reverse order, restores what the run's
    change records say was there before; refused (the rollback run fails, saying what changed)
    when the resource changed since. Prints the rollback's run id."""
    from remedy.starter import CannotRollBack, start_rollback
    from remedy.temporal import connect

    settings = temporal_settings()

    async def main() -> int:
        client = await connect(settings)
        try:
            undo = await start_rollback(
                client, run_id, search_attributes=worker_settings().search_attributes
            )
        except CannotRollBack as exc:
            raise fail(str(exc), code=1) from None
        console.print(f"run [bold]{undo}[/bold]  {ui_link(settings, undo)}")
        if not wait:
            return 0
        found = await follow_run(client, undo)
        print_status(found, settings)
        return 0 if found.state == RunState.SUCCEEDED else 1

    raise typer.Exit(asyncio.run(main()))


@app.command()
def status(
    run_id: str, as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False
) -> None:
    """Show a run: its state, and per step the state, attempts, exit code and message (a batch,
    `remedy-batch-...`: each of its findings' runs)."""
    from remedy.starter import get_status
    from remedy.temporal import connect

    settings = temporal_settings()
    if run_id.startswith(BATCH_PREFIX):  # a batch: every finding's line (each has its own run)
        found_batch = asyncio.run(_batch_status(settings, run_id))
        if as_json:
            print(found_batch.model_dump_json(indent=2))
        else:
            print_batch(found_batch)
        return

    async def main() -> RunStatus:
        return await get_status(await connect(settings), run_id)

    found = asyncio.run(main())
    if as_json:
        print(found.model_dump_json(indent=2))
    else:
        print_status(found, settings)


async def _batch_status(settings: Any, batch_id: str) -> Any:
    from remedy.temporal import connect

    return await batch_status(await connect(settings), batch_id)


app.command("remediate-batch")(remediate_batch)


@app.command()
def logs(run_id: str) -> None:
    """Print the log (redacted, tail) of every job step of a run."""
    from remedy.starter import get_status
    from remedy.temporal import connect

    async def main() -> RunStatus:
        return await get_status(await connect(temporal_settings()), run_id)

    found = asyncio.run(main())
    for step in found.steps:
        if step.kind == "job":
            console.rule(f"{step.name} ({step.state}, exit {step.exit_code})")
            console.print(step.log_tail or "(no output)", markup=False, highlight=False)


# -- payload encryption -------------------------------------------------------------------------


@app.command("codec-key")
def codec_key() -> None:
    """Print a new payload key (base64 of 32 random bytes) for REMEDY_PAYLOAD_KEY.

    Give every worker, the hub, the CLI and the codec server the same key. To rotate: move the
    current key to REMEDY_PAYLOAD_OLD_KEYS (comma-separated) and set this one as the key.
    """
    from remedy.codec import new_key

    print(new_key())


@app.command("codec-server")
def codec_server(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8081,
    host: Annotated[
        str,
        typer.Option(help="Address to bind; keep it private: whoever reaches it reads payloads."),
    ] = "127.0.0.1",
    origin: Annotated[
        list[str] | None,
        typer.Option(
            "--origin",
            help="Temporal UI origin allowed to call it (CORS); repeatable. "
            "Default: http://127.0.0.1:8233 and http://localhost:8233.",
        ),
    ] = None,
) -> None:
    """Serve Temporal's remote codec protocol, so the Temporal UI shows sealed payloads in clear.

    POST /decode and /encode with {"payloads": [...]}, as the UI and `temporal workflow show
    --codec-endpoint` send them. Keys: REMEDY_PAYLOAD_KEY and REMEDY_PAYLOAD_OLD_KEYS, the same
    as the workers'. With REMEDY_CODEC_TOKEN set, requests must carry `Authorization: Bearer
    <token>` (`temporal ... --codec-auth "Bearer <token>"`; for the UI, a proxy that adds it).

    Point the UI at it with `remedy dev-server --ui-codec-endpoint http://127.0.0.1:8081`
    (`temporal server start-dev --ui-codec-endpoint ...`), TEMPORAL_CODEC_ENDPOINT on a
    self-hosted UI, or the UI's Data Encoder setting (per browser). The temporal CLI:
    `temporal workflow show -w RUN --codec-endpoint http://127.0.0.1:8081`.
    """
    from console.codec_server import make_server
    from console.local_processes import stop_on_sigterm
    from remedy.codec import EncryptionCodec
    from remedy.config import CodecServerSettings, PayloadEncryptionSettings, config_error

    setup_logging("INFO")
    stop_on_sigterm()
    try:
        keys = PayloadEncryptionSettings().keys()
        token = CodecServerSettings().token
    except ValidationError as exc:
        raise config_error(exc) from None
    if not keys:
        raise fail(
            "REMEDY_PAYLOAD_KEY is not set: the codec server seals and opens payloads with the "
            "workers' key (`remedy codec-key` makes a new one)"
        )
    codec = EncryptionCodec(keys)
    origins = origin or ["http://127.0.0.1:8233", "http://localhost:8233"]
    server = make_server(codec, host=host, port=port, origins=origins, token=token)
    err.print(
        f"codec server on {server.url} (key ids {', '.join(codec.key_ids)}; CORS for "
        f"{', '.join(origins)}{'; bearer token required' if token else ''}); Ctrl-C stops it"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# -- the embedded stack -------------------------------------------------------------------------

from console import stack  # noqa: E402  (registers dev-server, sandbox, up, demo)

stack.register(app)
from console import hub_cli  # noqa: E402  (registers hub, groups, accounts, actions, findings, runs)

hub_cli.register(app)


def main() -> None:
    """The `remedy` entry point: run the command, then leave without interpreter teardown.

    The Temporal client's Rust runtime keeps threads that can crash CPython's finalization
    (temporalio/sdk-python#300: a segfault or "PyGILState_Release" after the command has already
    done its work and printed its answer). Every command stops what it started before it
    returns, so once it has, output is flushed and the process exits with the command's code.
    """
    code: int
    try:
        app(prog_name="remedy")
        code = 0
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            code = done.code or 0
        else:
            print(done.code, file=sys.stderr)
            code = 1
    except ConfigError as exc:  # a variable Remedy cannot use: say which and how to fix it
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        code = 2
    except KeyboardInterrupt:
        code = 130
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
