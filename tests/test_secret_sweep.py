"""The secret sweep the demo ends with finds a planted secret wherever it hides."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

from temporalio.client import Client

from console.secret_sweep import (
    files,
    find_leaks,
    moto_credentials,
    process_environment,
    sqlite_rows,
    temporal_histories,
    worker_canary,
)
from remedy.starter import start_remediation, wait_for_result
from remedy.types import AccountAccess, JobStep, RemediationSpec, RunState
from sandbox.aws import AwsSandbox
from tests.findings import aws_finding

JOBCODE = Path(__file__).parent / "jobcode"


def test_a_secret_is_found_in_a_file_and_a_database_row_and_named_not_shown(
    tmp_path: Path,
) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    (tmp_path / "worker.log").write_text(f'{{"msg": "token={secret}"}}\n')
    (tmp_path / "clean.log").write_text("nothing here ***\n")
    database = tmp_path / "hub.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE users (name TEXT, token TEXT)")
        db.execute("INSERT INTO users VALUES ('a', ?)", (secret,))
    sweep = find_leaks(
        {"the token": secret, "too short": "abc"},
        [*files([tmp_path / "worker.log", tmp_path / "clean.log"]), *sqlite_rows(database)],
    )
    assert {str(leak) for leak in sweep.leaks} == {
        "the token found in hub.db table users",
        f"the token found in {tmp_path / 'worker.log'}",
    }
    assert secret not in sweep.summary()


def test_moto_s_state_yields_every_credential_it_issued(aws_sandbox: AwsSandbox) -> None:
    session = aws_sandbox.assume_role_env("sweep-test")
    found = set(moto_credentials(aws_sandbox.endpoint).values())
    assert session["AWS_SECRET_ACCESS_KEY"] in found
    assert session["AWS_SESSION_TOKEN"] in found
    assert set(aws_sandbox.secrets()) <= found


async def test_a_value_inside_a_workflow_payload_is_found_in_its_history(
    client: Client, start_worker, aws_sandbox: AwsSandbox
) -> None:
    """Payload bytes are base64 in a history's JSON: the sweep decodes them before searching."""
    worker = await start_worker(JOBCODE)
    marker = f"finding-{uuid.uuid4().hex}"
    run_id = await start_remediation(
        client,
        aws_finding(aws_sandbox.open_security_group(22, "sweep"), finding_id=marker),
        RemediationSpec(
            steps=[JobStep(job="slow_close_22", parameters={"seconds": 0})],
            access=AccountAccess(
                role_arn=aws_sandbox.role_arn, external_id=aws_sandbox.external_id
            ),
        ),
        worker.group_id,
    )
    assert (await wait_for_result(client, run_id)).state == RunState.SUCCEEDED
    histories = await temporal_histories(client, f"WorkflowId = '{run_id}'")
    assert [place for place, _ in histories] == [f"Temporal history of {run_id}"]
    sweep = find_leaks(
        {"planted": marker, **{f"sandbox {n}": s for n, s in enumerate(aws_sandbox.secrets())}},
        histories,
    )
    assert [str(leak) for leak in sweep.leaks] == [f"planted found in Temporal history of {run_id}"]


def test_the_sweep_looks_for_the_worker_canary_in_the_worker_s_environment_block() -> None:
    """The demo plants a canary in the worker's environment and sweeps the worker's environment
    block too: a process that kept it there is caught; the worker overwrites it at start."""
    canary = worker_canary()
    assert list(canary) == ["JIRA_TOKEN"] and canary["JIRA_TOKEN"].startswith("canary-")
    root = str(Path(__file__).resolve().parent.parent)
    ready = "print('ready', flush=True); import time; time.sleep(60)"
    scripts = {
        "keeps": ready,
        "withdraws": f"from worker import own_secrets; own_secrets.withdraw(); {ready}",
    }
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": root, **canary}
    found = {}
    for name, script in scripts.items():
        process = subprocess.Popen(
            [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
        )
        try:
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
            places = process_environment(process.pid)
            found[name] = find_leaks({"the canary": canary["JIRA_TOKEN"]}, places).leaks
        finally:
            process.kill()
            process.wait()
    assert len(found["keeps"]) == 1 and found["keeps"][0].where.endswith("/environ")
    assert found["withdraws"] == []
