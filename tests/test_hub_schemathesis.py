"""Schemathesis against the served hub's OpenAPI document: no input yields a 5xx, and every 4xx
answer says what is wrong and how to fix it. Bounded: a few examples per operation and mode, once
with generated ids and once with the ids of real records (so the handlers get past the lookup)."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from remedy.config import TemporalSettings
from remedy.types import JobInfo
from sandbox.aws import ACCOUNT_ID
from tests.conftest import DevServer
from tests.findings import aws_finding
from tests.hub_fixtures import hub_store, make_harness, served, terminate_runs

EXAMPLES = 5


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("store_kind", ["sqlite", "postgresql"])
def test_no_input_yields_a_server_error(
    dev_server: DevServer, tmp_path: Path, store_kind: str
) -> None:
    temporal = TemporalSettings(address=dev_server.address)
    with hub_store(store_kind, tmp_path, hub_status_timeout_s=0.5) as store:
        harness = make_harness(store, temporal)
        with served(harness.app) as url:
            admin = {"Authorization": f"Bearer {harness.tokens['admin']}"}
            real_ids, worker_auth = _records(url, admin)
            schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
            operations = [result.ok() for result in schema.get_all_operations()]
            assert len(operations) >= 30
            started = time.monotonic()
            failures: list[str] = []
            calls: dict[int, int] = {}
            for operation in operations:
                auth = worker_auth if operation.path.startswith("/worker/") else admin
                ids = {p: v for p, v in real_ids.items() if "{" + p + "}" in operation.path}
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    _exercise(operation, mode, auth, None, failures, calls)
                if ids:
                    _exercise(operation, GenerationMode.POSITIVE, auth, ids, failures, calls)
            assert not failures, "\n".join(failures[:10])
            assert time.monotonic() - started < 90
            assert sum(calls.values()) > 300 and calls.get(200, 0) > 20 and calls.get(422, 0) > 50
        harness.hub.db.dispose()
    terminate_runs(dev_server.address, [real_ids["run_id"]])


def _records(url: str, admin: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """A group with a registered worker and an account, an action, a finding and a run."""
    with httpx.Client(base_url=url, headers=admin, timeout=30) as api:
        created = api.post("/worker-groups", json={"name": "fuzzed"}).json()
        group = created["group"]
        job = JobInfo(name="probe_env", provider="aws", checksum="c" * 64)
        worker = httpx.BasicAuth(group["client_id"], created["client_secret"])
        registered = httpx.post(
            f"{url}/worker/register",
            json={"worker_id": "w1", "jobs": [job.model_dump(mode="json")]},
            auth=worker,
        )
        assert registered.status_code == 200
        api.post(
            "/accounts",
            json={
                "provider": "aws",
                "account_id": ACCOUNT_ID,
                "role_arn": f"arn:aws:iam::{ACCOUNT_ID}:role/r",
                "external_id": "ext-1",
            },
        ).raise_for_status()
        api.put(f"/worker-groups/{group['id']}/accounts/{ACCOUNT_ID}").raise_for_status()
        action = api.post(
            "/remediations",
            json={
                "name": "fuzz-action",
                "provider": "aws",
                "worker_group_id": group["id"],
                "rule_ids": ["rule-fuzz"],
                "steps": [{"job": "probe_env"}],
            },
        ).json()
        api.post("/findings", json=aws_finding("sg-1", finding_id="f-fuzz", rule_id="rule-fuzz"))
        run = api.post(f"/remediations/{action['id']}/run", json={"finding_ids": ["f-fuzz"]})
        assert run.status_code == 202, run.text
        ids = {
            "group_id": group["id"],
            "account_id": ACCOUNT_ID,
            "action_id": str(action["id"]),
            "finding_id": "f-fuzz",
            "run_id": run.json()["runs"][0]["id"],
        }
    token = base64.b64encode(f"{group['client_id']}:{created['client_secret']}".encode())
    return ids, {"Authorization": f"Basic {token.decode()}"}


def _exercise(
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    path_parameters: dict[str, str] | None,
    failures: list[str],
    calls: dict[int, int],
) -> None:
    @given(case=operation.as_strategy(mode, path_parameters=path_parameters))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        calls[response.status_code] = calls.get(response.status_code, 0) + 1
        where = (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
        )
        if response.status_code >= 500:
            failures.append(where)
        elif response.status_code >= 400:
            body = response.json()
            if not (isinstance(body, dict) and body.get("error") and body.get("fix")):
                failures.append("no error/fix: " + where)

    try:
        run()
    except Unsatisfiable:
        assert mode == GenerationMode.NEGATIVE  # nothing to get wrong in this operation's input
