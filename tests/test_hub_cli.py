"""The hub's CLI against the hub served over HTTP (uvicorn on a loopback port)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from console.cli import app
from remedy.config import TemporalSettings
from remedy.types import JobInfo
from sandbox.aws import ACCOUNT_ID
from tests.conftest import DevServer
from tests.findings import aws_finding
from tests.hub_fixtures import hub_store, make_harness, served, terminate_runs

ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/remedy-remediation"


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()
        self.started: list[str] = []  # runs no worker serves: ended after the test

    def __call__(self, *args: str, code: int = 0) -> str:
        result = self.runner.invoke(app, list(args), env=self.env)
        assert result.exit_code == code, (args, result.exit_code, result.output, result.exception)
        return result.output

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json"))


@pytest.fixture
def cli(dev_server: DevServer, tmp_path: Path) -> Iterator[Cli]:
    temporal = TemporalSettings(address=dev_server.address)
    with hub_store("sqlite", tmp_path, hub_status_timeout_s=0.5) as store:
        harness = make_harness(store, temporal)
        with served(harness.app) as url:
            cli = Cli(
                {
                    "REMEDY_DATABASE_URL": store.database_url,
                    "REMEDY_HUB_URL": url,
                    "TEMPORAL_ADDRESS": dev_server.address,
                    "COLUMNS": "200",
                }
            )
            yield cli
        harness.hub.db.dispose()
    terminate_runs(dev_server.address, cli.started)


def test_the_cli_drives_the_hub(cli: Cli, tmp_path: Path) -> None:
    assert "REMEDY_HUB_TOKEN is not set" in cli("groups", "list", code=2)
    created = cli.json("hub", "create-user", "alice", "--role", "admin")
    assert created["role"] == "admin" and created["token"].startswith("rmt_")
    assert "exists" in cli("hub", "create-user", "alice", "--role", "admin", code=2)
    cli.env["REMEDY_HUB_TOKEN"] = created["token"]

    group = cli.json("groups", "create", "prod", "--description", "production")
    group_id, client_id = group["group"]["id"], group["group"]["client_id"]
    shown = cli("groups", "create", "staging")
    assert "shown this once" in shown and "docker run" in shown and "AZURE_TENANT_ID" in shown
    assert group_id in cli("groups", "list")
    for worker_id, checksum, version in [("w1", "a", "0123456789ab"), ("w2", "b", "ba9876543210")]:
        job = JobInfo(name="probe_env", provider="aws", checksum=checksum * 64)
        registered = httpx.post(
            cli.env["REMEDY_HUB_URL"] + "/worker/register",
            json={
                "worker_id": worker_id,
                "jobs": [job.model_dump(mode="json")],
                "code_version": version,
                "code_commit": "4f2a9c0d1e2b3c4d" if worker_id == "w1" else "",
            },
            auth=(client_id, group["client_secret"]),
        )
        assert registered.status_code == 200
    details = cli("groups", "get", group_id)
    assert "Online" in details and "probe_env" in details and "production" in details
    # each worker's job code, and the warning while they differ (issue #18)
    assert "0123456789ab" in details and "4f2a9c0d1e2b" in details and "ba9876543210" in details
    assert "serve 2 versions of the job code" in " ".join(details.split())
    assert "serve 2 versions" in " ".join(cli("groups", "list").split())

    account = cli.json(
        "accounts",
        "add",
        ACCOUNT_ID,
        "--role-arn",
        ROLE_ARN,
        "--external-id",
        "ext-1",
        "--group",
        group_id,
    )
    assert account["groups"] == [group_id]
    assert ROLE_ARN in cli("accounts", "list", "--group", group_id)
    refused = cli("accounts", "add", "123", "--role-arn", ROLE_ARN, code=1)
    assert "422" in refused and "12 digits" in refused and "fix:" in refused

    action_file = tmp_path / "action.json"
    action_file.write_text(
        json.dumps(
            {
                "name": "close-ssh",
                "provider": "aws",
                "worker_group_id": group_id,
                "rule_ids": ["rule-ssh"],
                "steps": [{"job": "probe_env", "parameters": {"port": 22}}],
            }
        )
    )
    from_file = cli.json("actions", "create", "--file", str(action_file))
    assert from_file["status"] == "draft" and from_file["steps"][0]["parameters"] == {"port": 22}
    from_flags = cli.json(
        "actions",
        "create",
        "--name",
        "probe-all",
        "--group",
        group_id,
        "--rule",
        "rule-x",
        "--job",
        "probe_env",
        "--job",
        "probe_env",
        "--param",
        "port=443",
        "--region",
        "us-east-1",
        "--min-level",
        "high",
        "--auto",
        "--publish",
    )
    assert from_flags["status"] == "published" and len(from_flags["steps"]) == 2
    assert from_flags["criteria"]["min_level"] == "High" and from_flags["auto_remediate"]
    assert cli.json("actions", "publish", "close-ssh")["status"] == "published"
    assert "close-ssh" in cli("actions", "list")
    bad_job = cli(
        "actions",
        "create",
        "--name",
        "x",
        "--group",
        group_id,
        "--rule",
        "r",
        "--job",
        "nope",
        code=1,
    )
    # the fix names the command's flag, not the API's field
    assert "--job: no online worker" in bad_job and "steps.0.job" not in bad_job

    findings = tmp_path / "findings.json"
    good = aws_finding("sg-1", rule_id="rule-ssh", finding_id="f-cli-1")
    broken = aws_finding("sg-2", finding_id="f-cli-2")
    del broken["notificationInfo"]["FindingInfo"]["ObjectId"]
    findings.write_text(json.dumps([good, broken]))
    imported = cli("findings", "import", str(findings), code=1)
    assert "1 accepted, 1 rejected" in imported and "ObjectId" in imported
    findings.write_text(json.dumps(good) + "\n")  # JSON lines
    assert cli.json("findings", "import", str(findings))["items"][0]["result"] == "updated"
    assert "f-cli-1" in cli("findings", "list")

    runs = cli.json("remediate-action", "--action", "close-ssh", "--finding", "f-cli-1")["runs"]
    assert runs[0]["status"] == "submitted" and runs[0]["finding_id"] == "f-cli-1"
    run_id = runs[0]["id"]
    cli.started.append(run_id)
    assert cli.json("runs", "list")["items"][0]["id"] == run_id
    shown_run = cli.json("runs", "get", run_id)
    assert shown_run["temporal_url"].endswith(f"/workflows/{run_id}")
    assert run_id in cli("runs", "get", run_id)
    assert "0 of 0 entries" in cli("runs", "logs", run_id)

    assert "disabled" in cli("groups", "disable", group_id)
    # the spelling, `remedy remediate --action A --finding F`, goes through the hub too
    refused_run = cli("remediate", "--action", "close-ssh", "--finding", "f-cli-1", code=1)
    assert "409" in refused_run and "disabled" in refused_run
    renewed = cli.json("groups", "regenerate-secret", group_id)
    assert renewed["client_secret"] != group["client_secret"]
