"""`remedy up --sandbox` used from outside: its env file, and UI links on the port it chose."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3

from console.local_processes import wait_for_line
from sandbox.aws import free_port
from tests.findings import aws_finding

REMEDY = [sys.executable, "-m", "console"]


def _exports(path: Path) -> dict[str, str]:
    """The variables of an `export K=V` file, as `source` would set them."""
    found = {}
    for line in path.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        found[name] = shlex.split(value)[0] if value else ""
    return found


def test_up_with_the_sandbox_writes_the_admin_env_and_status_links_to_its_ui(
    tmp_path: Path,
) -> None:
    port, ui_port = free_port(), free_port()
    state = tmp_path / "state"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TEMPORAL_"))}
    base |= {"XDG_STATE_HOME": str(tmp_path / "xdg"), "COLUMNS": "250"}
    up = subprocess.Popen(
        [
            *REMEDY,
            "up",
            "--sandbox",
            "--group",
            "outside",
            "--port",
            str(port),
            "--ui-port",
            str(ui_port),
            "--state-dir",
            str(state),
        ],
        env=base,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_line(state / "worker.log", "Worker started and is waiting for work", 120, up)
        env_file = state / "sandbox-admin.env"
        for _ in range(100):
            if env_file.exists() and env_file.stat().st_size:
                break
            time.sleep(0.1)
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"  # it holds keys
        env = _exports(env_file)
        for name in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ENDPOINT_URL",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_TENANT_ID",
            "AZURE_AUTHORITY_HOST",
            "AZURE_RESOURCE_MANAGER_ENDPOINT",
            "REQUESTS_CA_BUNDLE",
            "JIRA_API_TOKEN",
            "REMEDY_SANDBOX_JIRA_URL",
            "REMEDY_SANDBOX_ROLE_ARN",
            "REMEDY_EXTERNAL_ID",
        ):
            assert env.get(name), name
        assert env["TEMPORAL_ADDRESS"] == f"127.0.0.1:{port}"
        assert env["TEMPORAL_UI_URL"] == f"http://127.0.0.1:{ui_port}"

        # the administrator's keys work from outside: make an open group, as a finding says
        ec2 = boto3.client(
            "ec2",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name=env["AWS_DEFAULT_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        group = ec2.create_security_group(GroupName=f"out-{uuid.uuid4().hex[:6]}", Description="t")
        ec2.authorize_security_group_ingress(
            GroupId=group["GroupId"],
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
            ],
        )
        with urllib.request.urlopen(f"{env['REMEDY_SANDBOX_JIRA_URL']}/rest/api/2/serverInfo") as r:
            assert r.status == 200

        finding = tmp_path / "finding.json"
        finding.write_text(json.dumps(aws_finding(group["GroupId"])))
        sourced = base | env
        fixed = subprocess.run(
            [
                *REMEDY,
                "remediate",
                "security_group_close_port_22",
                "--group",
                "outside",
                "--payload",
                str(finding),
                "--wait",
            ],
            env=sourced,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        run_id = fixed.stdout.split()[1]
        link = f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/{run_id}"
        assert link in fixed.stdout

        # no TEMPORAL_UI_URL: `remedy status` links to the UI `remedy up` started on that port
        unset = {k: v for k, v in sourced.items() if k != "TEMPORAL_UI_URL"}
        shown = subprocess.run(
            [*REMEDY, "status", run_id], env=unset, capture_output=True, text=True, timeout=60
        )
        assert shown.returncode == 0 and link in shown.stdout, shown.stdout + shown.stderr
        assert ":8233" not in shown.stdout
    finally:
        up.send_signal(signal.SIGTERM)
        _, said = up.communicate(timeout=90)
    assert up.returncode == 0
    said = re.sub(r"\s+", " ", said)
    assert str(env_file) in said.replace(" ", "") or str(env_file) in said
    assert env["REMEDY_SANDBOX_JIRA_URL"] in said
    noted = json.loads((tmp_path / "xdg" / "remedy" / "temporal-ui.json").read_text())
    assert f"127.0.0.1:{port}" not in noted  # a stopped UI is not linked to any more
