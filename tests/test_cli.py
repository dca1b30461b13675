"""The `remedy` command as people run it: real processes, the dev server, the sandbox."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from console.local_processes import wait_for_line
from sandbox.aws import AwsSandbox
from tests.conftest import DevServer
from tests.findings import aws_finding

JOBCODE = Path(__file__).parent / "jobcode"
REMEDY = [sys.executable, "-m", "console"]


def cli_env(sandbox: AwsSandbox, dev_server: DevServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TEMPORAL_"))}
    env.update(sandbox.worker_env(), TEMPORAL_ADDRESS=dev_server.address, COLUMNS="200")
    return env


def remedy(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REMEDY, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def worker_process(aws_sandbox: AwsSandbox, dev_server: DevServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    group = f"cli-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*REMEDY, "worker", "--group", group, "--job-code", str(JOBCODE)],
            env=cli_env(aws_sandbox, dev_server),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield group, log, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_worker_starts_logs_its_ids_runs_remediations_and_drains_on_sigterm(
    worker_process,
    aws_sandbox: AwsSandbox,
    dev_server: DevServer,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    group, log, process = worker_process
    started = json.loads(wait_for_line(log, "Worker started and is waiting for work", 60, process))
    assert started["workerGroupID"] == group and started["workerID"]
    assert started["level"] == "INFO" and started["taskQueue"] == f"remedy-{group}"
    text = log.read_text()
    assert "'bad_entry' is not registered: expected the entry point bad_entry/bad_entry.py" in text

    env = cli_env(aws_sandbox, dev_server)
    sg = aws_sandbox.admin_client("ec2").create_security_group(
        GroupName=f"cli-{uuid.uuid4().hex[:6]}", Description="t"
    )["GroupId"]
    finding = tmp_path / "finding.json"
    finding.write_text(json.dumps(aws_finding(sg)))
    ok = remedy(
        "remediate",
        "probe_env_22",
        "--group",
        group,
        "--payload",
        str(finding),
        "--external-id",
        aws_sandbox.external_id,
        "--wait",
        env=env,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    run_id = ok.stdout.split()[1]
    assert (
        "succeeded" in ok.stdout
        and "http://127.0.0.1:8233/namespaces/default/workflows/" in ok.stdout
    )

    shown = json.loads(remedy("status", run_id, "--json", env=env).stdout)
    assert shown["state"] == "succeeded" and shown["resource"] == sg
    assert f"CHANGE: probed {sg}" in remedy("logs", run_id, env=env).stdout

    finding.write_text(json.dumps(aws_finding(sg)))  # a new finding id
    failed = remedy(
        "remediate",
        "fail_job",
        "--group",
        group,
        "--payload",
        str(finding),
        "--attempts",
        "1",
        "--external-id",
        aws_sandbox.external_id,
        "--wait",
        env=env,
    )
    assert failed.returncode == 1 and "exited with code 1" in failed.stdout

    finding.write_text(json.dumps(aws_finding(sg)))
    noisy = remedy(
        "remediate",
        "quiet_failure",
        "--group",
        group,
        "--payload",
        str(finding),
        "--external-id",
        aws_sandbox.external_id,
        "--wait",
        env=env,
    )
    assert noisy.returncode == 3 and "succeeded_with_errors" in noisy.stdout

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert "Worker stopped" in log.read_text()


def test_remediate_refuses_a_malformed_payload_file_with_the_field_named(
    aws_sandbox: AwsSandbox, dev_server: DevServer, tmp_path: Path
) -> None:
    env = cli_env(aws_sandbox, dev_server)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"notificationInfo": {"FindingInfo": {"FindingId": "f"}}}))
    result = remedy("remediate", "probe_env", "--group", "g", "--payload", str(bad), env=env)
    assert result.returncode == 2
    assert "notificationInfo.FindingInfo.ObjectId: is missing" in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert (
        "not valid JSON"
        in remedy("remediate", "x", "--group", "g", "--payload", str(broken), env=env).stderr
    )
    missing = remedy(
        "remediate", "x", "--group", "g", "--payload", str(tmp_path / "nope.json"), env=env
    )
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_jobs_list_json_shows_names_providers_checksums_and_rules() -> None:
    result = subprocess.run(
        [*REMEDY, "jobs", "list", "--json"], capture_output=True, text=True, timeout=60
    )
    jobs = {job["name"]: job for job in json.loads(result.stdout)}
    assert jobs["ec2_close_port_22"]["alias_of"] == "ec2_close_port"
    assert "5c8c26417a550e1fb6560c3f" in jobs["ec2_close_port_22"]["rules"]
    assert jobs["s3_remove_public_access"]["provider"] == "aws"
    assert len(jobs["s3_remove_public_access"]["checksum"]) == 64


def test_every_command_has_help() -> None:
    for command in [
        "worker",
        "remediate",
        "status",
        "logs",
        "dev-server",
        "sandbox",
        "up",
        "demo",
        "jobs",
    ]:
        result = subprocess.run(
            [*REMEDY, command, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert result.returncode == 0 and "Usage" in result.stdout, command


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and int(pid) != os.getpid():
            found.append(cmdline)
    return found


def _own_children() -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").glob("*"):
        with contextlib.suppress(OSError):
            found |= {int(p) for p in (task / "children").read_text().split()}
    return found


def _wait_for_text(path: Path, text: str, process: subprocess.Popen[str], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        written = path.read_text() if path.exists() else ""
        if text in written:
            time.sleep(0.5)  # the rest of the message
            return path.read_text()
        assert process.poll() is None, written[-3000:]
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not printed within {timeout_s} s")


def test_demo_fixes_five_findings_approves_rolls_back_and_leaves_no_process_behind(
    tmp_path: Path,
) -> None:
    # As a child subreaper, this process inherits whatever the demo leaves orphaned.
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    before = _own_children()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TEMPORAL_"))}
    state = tmp_path / "demo-state"
    out = tmp_path / "demo.out"
    try:
        with out.open("w") as sink:
            demo = subprocess.Popen(
                [*REMEDY, "demo", "--state-dir", str(state), "--keep"],
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
                env={**env, "COLUMNS": "200"},
            )
            kept = _wait_for_text(out, "Kept running until Ctrl-C", demo, 300)
            # --keep: the hub stays up and the printed token signs in to it
            hub_url = re.search(r"hub: (http://127\.0\.0\.1:\d+)", kept)
            token = re.search(r"sign-in token \(the demo's admin\): (\S+)", kept)
            assert hub_url and token, kept[-2000:]
            runs = httpx.get(
                f"{hub_url[1]}/runs",
                headers={"Authorization": f"Bearer {token[1]}"},
                timeout=10,
            )
            assert runs.status_code == 200 and len(runs.json()["items"]) >= 7, runs.text[:500]
            demo.send_signal(signal.SIGINT)
            demo.wait(timeout=120)
        result = subprocess.CompletedProcess(demo.args, demo.returncode, out.read_text(), "")
        time.sleep(1)
        left = {
            pid
            for pid in _own_children() - before
            if Path(f"/proc/{pid}/stat").exists()
            and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        }
        left_cmdlines = [
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ") for pid in left
        ]
    finally:
        libc.prctl(36, 0, 0, 0, 0)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "All 5 findings fixed, tagged and ticketed" in result.stdout
    assert "Worker started and is waiting for work" in result.stdout
    assert "the hub shows worker" in result.stdout and "Online with" in result.stdout
    assert "five findings posted to the hub" in result.stdout.replace("\n", " ")
    # one approval (the plan shown first, nothing changed before it) and one rollback
    assert "the run waits for approval; its plan (GET /approvals):" in result.stdout
    assert "revoked ingress tcp 22-22 from 0.0.0.0/0" in result.stdout
    assert "the port is still open: True" in result.stdout
    assert "approved by demo-admin: the run succeeded, port 22 closed: True" in result.stdout
    assert "the rollback run succeeded, port 22 open again as before the run: True" in (
        result.stdout
    )
    # the sweep: every credential of the run (STS sessions included) in no history, log, row
    swept = re.search(r"secret sweep: none of (\d+) secrets found in (\d+) places", result.stdout)
    assert swept and int(swept[1]) >= 10 and int(swept[2]) >= 20, result.stdout[-2000:]
    assert not left, f"the demo left processes behind: {left_cmdlines}"
    assert (state / "temporal" / "temporal.db").exists()  # the runs are kept for the UI


def test_sandbox_command_writes_the_worker_environment_and_stops_on_sigterm(tmp_path: Path) -> None:
    from sandbox.aws import free_port

    env_file = tmp_path / "sandbox.env"
    port = free_port()
    process = subprocess.Popen(
        [*REMEDY, "sandbox", "--port", str(port), "--env-file", str(env_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(300):
            if env_file.exists() and env_file.stat().st_size:
                break
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.1)
        text = env_file.read_text()
        assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in text
        for name in (
            "AWS_ACCESS_KEY_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "JIRA_API_TOKEN",
            "REMEDY_SANDBOX_ROLE_ARN",
            "REMEDY_EXTERNAL_ID",
        ):
            assert f"export {name}=" in text
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"  # it holds secrets
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert not [
        line
        for line in _processes_mentioning(f"-p {port}")
        if "sandbox.moto_server" in line or "moto.server" in line
    ]


def test_up_runs_dev_server_sandbox_and_worker_until_sigterm(tmp_path: Path) -> None:
    from sandbox.aws import free_port

    port, ui_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TEMPORAL_"))}
    process = subprocess.Popen(
        [
            *REMEDY,
            "up",
            "--sandbox",
            "--group",
            "up-test",
            "--port",
            str(port),
            "--ui-port",
            str(ui_port),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        line = json.loads(
            wait_for_line(
                tmp_path / "state" / "worker.log",
                "Worker started and is waiting for work",
                120,
                process,
            )
        )
        assert line["workerGroupID"] == "up-test"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=90) == 0
    assert not _processes_mentioning(str(tmp_path / "state"))
