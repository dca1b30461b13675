"""The command line as a newcomer meets it, against a hub served over HTTP whose Temporal is away
(so runs stay pending: the case a first try without Temporal runs into)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from console.cli import app
from console.hub_cli_runs import EXIT_WAIT_TIMED_OUT
from remedy.config import BUILTIN_JOBS
from remedy.job_registry import discover
from remedy.types import JobInfo
from sandbox.aws import ACCOUNT_ID
from tests.findings import aws_finding
from tests.hub_fixtures import hub_store, make_harness, served

ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/remedy-remediation"


class Cli:
    """`remedy` in-process, its output going to no terminal (no COLUMNS: as when piped)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def run(self, *args: str, code: int = 0) -> tuple[str, str]:
        result = self.runner.invoke(app, list(args), env=self.env)
        assert result.exit_code == code, (args, result.exit_code, result.output, result.exception)
        return result.stdout, result.stderr

    def __call__(self, *args: str, code: int = 0) -> str:
        out, err = self.run(*args, code=code)
        return out + err

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json")[0])


@pytest.fixture
def away(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Cli, str]]:
    """The CLI and the URL of a hub on a fresh store whose Temporal does not answer."""
    monkeypatch.delenv("COLUMNS", raising=False)
    with hub_store("sqlite", tmp_path, hub_start_timeout_s=2) as store:
        harness = make_harness(store)  # Temporal at an address where nothing answers
        with served(harness.app) as url:
            yield Cli({"REMEDY_DATABASE_URL": store.database_url, "REMEDY_HUB_URL": url}), url
        harness.hub.db.dispose()


def _flat(text: str) -> str:
    """Help text without rich's box drawing and wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_create_user_says_the_role_it_defaults_to(away: tuple[Cli, str]) -> None:
    cli, _ = away
    shown = _flat(cli("hub", "create-user", "--help"))
    assert "viewer when not given" in shown and "--role admin" in shown
    assert "no API is called" in shown and "API's JSON answer" not in shown
    made = cli("hub", "create-user", "vera")
    assert "(viewer, the default role" in made and "set-role vera admin" in made
    chosen = cli("hub", "create-user", "ada", "--role", "admin")
    assert "(admin)" in chosen and "default" not in chosen
    assert cli.json("hub", "create-user", "val")["role"] == "viewer"


def test_a_first_try_without_temporal_reads_clearly(away: tuple[Cli, str]) -> None:
    cli, url = away
    token = cli.json("hub", "create-user", "alice", "--role", "admin")["token"]
    cli.env["REMEDY_HUB_TOKEN"] = token

    # a body that is not JSON: told to send JSON, not pydantic's words
    for content_type, body in (
        ("application/x-www-form-urlencoded", "name=prod"),
        ("text/plain", '{"name": "prod"}'),
    ):
        answer = httpx.post(
            url + "/worker-groups",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        )
        assert answer.status_code == 415, answer.text
        assert answer.json()["fix"] == "send JSON: Content-Type: application/json"
        assert content_type in answer.json()["error"]
        assert "valid dictionary" not in answer.text

    group = cli.json("groups", "create", "prod")
    group_id = group["group"]["id"]

    # the hub names API fields; the command line prints its own flags
    refused = cli("accounts", "add", ACCOUNT_ID, "--group", group_id, code=1)
    assert "--role-arn: an AWS account needs the role" in refused
    assert "give --role-arn arn:aws:iam::" in refused and "role_arn" not in refused
    cli(
        "accounts",
        "add",
        ACCOUNT_ID,
        "--role-arn",
        ROLE_ARN,
        "--external-id",
        "ext-0001",
        "--group",
        group_id,
    )

    # no worker has registered: the built-in catalogue's jobs, with a warning
    early = cli(
        "actions",
        "create",
        "--name",
        "ssh",
        "--group",
        group_id,
        "--rule",
        "rule-ssh",
        "--job",
        "security_group_close_port",
        "--param",
        "port=22",
        "--auto",
        "--publish",
    )
    assert "action" in early and "warning: no worker of group" in early
    unknown = cli(
        "actions",
        "create",
        "--name",
        "x",
        "--group",
        group_id,
        "--rule",
        "r",
        "--job",
        "no_such_job",
        code=1,
    )
    assert "--job: 'no_such_job' is not a built-in job" in unknown and "steps.0" not in unknown

    # its finding waits for a start: queued, not remediating
    finding = aws_finding("sg-0123456789abcdef0", rule_id="rule-ssh", finding_id="f-newcomer")
    posted = httpx.post(
        url + "/findings", json=finding, headers={"Authorization": f"Bearer {token}"}
    )
    assert posted.json()["items"][0]["status"] == "queued"
    (listed,) = cli.json("findings", "list")["items"]
    assert listed["status"] == "queued"

    # --wait gives up after --timeout, says so, names the open run, exits with its own code
    out, err = cli.run(
        "remediate-action",
        "--action",
        "ssh",
        "--finding",
        "f-newcomer",
        "--wait",
        "--timeout",
        "1",
        code=EXIT_WAIT_TIMED_OUT,
    )
    (run_id,) = listed["runs"]
    assert "timed out: --timeout 1s passed with 1 of 1 run(s) still open" in err
    assert f"{run_id} (pending)" in err and "remedy runs get RUN" in err

    # the pending run's message holds Temporal's whole connection error: one line in the table
    full = cli.json("runs", "list")["items"][0]["message"]
    assert "will retry" in full and len(full) > 100
    out, err = cli.run("runs", "list")
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == 1 and run_id in rows[0] and "…" in rows[0]
    assert "-v or --json shows them whole" in err
    verbose = " ".join(cli.run("runs", "list", "-v")[0].split())
    assert " ".join(full.split()) in verbose.replace(" │ ", " ").replace("│", "")


def test_a_table_written_to_no_terminal_keeps_one_line_per_record(away: tuple[Cli, str]) -> None:
    cli, _ = away
    out, _ = cli.run("jobs", "list")
    rows = [line for line in out.splitlines() if line.startswith("│")]
    infos = discover(BUILTIN_JOBS).infos()
    assert len(rows) == len(infos)
    for row, info in zip(rows, infos, strict=True):
        cells = [cell.strip() for cell in row.strip("│").split("│")]
        assert cells[0] == info.name and cells[4] == ", ".join(info.rules)


def test_the_registered_jobs_replace_the_catalogue_once_a_worker_registers(
    away: tuple[Cli, str],
) -> None:
    cli, url = away
    cli.env["REMEDY_HUB_TOKEN"] = cli.json("hub", "create-user", "root", "--role", "admin")["token"]
    group = cli.json("groups", "create", "later")
    job = JobInfo(name="probe_env", provider="aws", checksum="a" * 64)
    registered = httpx.post(
        url + "/worker/register",
        json={"worker_id": "w1", "jobs": [job.model_dump(mode="json")]},
        auth=(group["group"]["client_id"], group["client_secret"]),
    )
    assert registered.status_code == 200
    made = cli(
        "actions",
        "create",
        "--name",
        "p",
        "--group",
        group["group"]["id"],
        "--rule",
        "r",
        "--job",
        "probe_env",
    )
    assert "warning" not in made
    refused = cli(
        "actions",
        "create",
        "--name",
        "q",
        "--group",
        group["group"]["id"],
        "--rule",
        "r",
        "--job",
        "security_group_close_port",
        code=1,
    )
    assert "--job: no online worker" in refused and "it offers: probe_env" in refused


ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _json_blocks(markdown: str) -> list[Any]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", markdown, re.S)]


def test_the_docs_link_only_inside_the_repository() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert ROOT / "docs" / "job-contract.md" in pages
    for page in pages:
        text = page.read_text()
        assert "../shared" not in text, page
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue  # a web address, not a file
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), (page.name, target)
            assert resolved.exists(), (page.name, target)
    readme = (ROOT / "README.md").read_text()
    assert "(docs/job-contract.md)" in readme


def test_the_documented_examples_are_real() -> None:
    """The hub guide's finding is the sample's own fields; the contract's payload is one the
    finding contract reads, with the parameters a job gets."""
    from remedy.finding import read_finding

    (example,) = _json_blocks((ROOT / "docs" / "hub.md").read_text())[:1]
    sample = json.loads((ROOT / "tests/samples/asff_securityhub_cis41_sg_port22.json").read_text())
    for key in ("Id", "ProductArn", "GeneratorId", "AwsAccountId", "Region", "Title"):
        assert example[key] == sample[key], key
    assert example["Resources"][0]["Id"] == sample["Resources"][0]["Id"]

    blocks = _json_blocks((ROOT / "docs" / "job-contract.md").read_text())
    payload = next(b for b in blocks if "notificationInfo" in b)
    finding = read_finding(payload, for_run=True)
    assert finding.object_id == "sg-0123456789abcdef0" and finding.account_id == "123456789012"
    assert finding.payload["remediationParameters"] == {"port": 22}


def test_a_finding_reads_queued_until_one_of_its_runs_starts() -> None:
    from hub.run_states import HubRunState as S
    from hub.run_states import finding_status

    assert finding_status([]) == "open"
    assert finding_status([S.PENDING]) == "queued"
    assert finding_status([S.PENDING, S.FAILED]) == "queued"  # a retry waits to start
    for started in (S.SUBMITTED, S.RUNNING, S.AWAITING_APPROVAL, S.STUCK):
        assert finding_status([S.PENDING, started]) == "remediating", started
    assert finding_status([S.SUCCEEDED_WITH_ERRORS, S.FAILED]) == "remediated"  # the latest
    assert finding_status([S.TIMED_OUT, S.SUCCEEDED]) == "failed"
    assert finding_status([S.SKIPPED]) == "open"


def test_fix_texts_name_flags_and_leave_plain_words_alone() -> None:
    from console.hub_cli_flags import ACTION_FLAGS, in_flags

    text = "name: looks like an existing name\n  fix: use another name for steps.0.job's action"
    assert in_flags(text, ACTION_FLAGS) == (
        "--name: looks like an existing name\n  fix: use another name for --job's action"
    )
    assert in_flags("body.criteria.min_level: bad", ACTION_FLAGS) == "--min-level: bad"
    assert in_flags("steps.1.parameters.port: too big", ACTION_FLAGS) == "--param: too big"
