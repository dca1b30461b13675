"""The demo's control plane: a real `remedy hub serve` process and the calls an admin makes to it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from console.demo_cases import Case
from console.local_processes import clean_env
from console.sandbox_cloud import Clouds
from remedy.temporal import stop_process, wait_for_port
from sandbox.aws import ACCOUNT_ID, free_port

GROUP = "demo"
JIRA_PROJECT = "SEC"


class HubError(RuntimeError):
    pass


@dataclass
class DemoHub:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )

    def call(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.http.request(method, path, json=body)
        if answer.status_code >= 400:
            raise HubError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer.json() if answer.content else None

    def stop(self) -> None:
        self.http.close()
        stop_process(self.process, 20)


def start_hub(state_dir: Path, temporal_address: str, ui_url: str) -> DemoHub:
    """A hub on a free port, its store a SQLite file in the state directory, an admin's token."""
    env = clean_env(
        REMEDY_DATABASE_URL=f"sqlite:///{(state_dir / 'hub.db').resolve()}",
        TEMPORAL_ADDRESS=temporal_address,
        TEMPORAL_UI_URL=ui_url,
        REMEDY_HUB_POLL_INTERVAL_S="1",
        REMEDY_HUB_HEARTBEAT_INTERVAL_S="2",
    )
    (state_dir / "hub.db").unlink(missing_ok=True)
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "hub",
            "create-user",
            "demo-admin",
            "--role",
            "admin",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if made.returncode != 0:
        raise HubError(f"could not make the hub's admin: {made.stderr[-1000:]}")
    token = json.loads(made.stdout)["token"]
    port = free_port()
    with open(state_dir / "hub.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "console", "hub", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_for_port("127.0.0.1", port, 60, process)
    except BaseException:
        stop_process(process)
        raise
    return DemoHub(f"http://127.0.0.1:{port}", token, process)


def wait_online(hub: DemoHub, group_id: str, timeout_s: float = 60) -> dict[str, Any]:
    """The group's first worker once the hub shows it Online."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        workers = hub.call("GET", f"/worker-groups/{group_id}/workers")
        online = [w for w in workers if w["state"] == "Online"]
        if online:
            return dict(online[0])
        time.sleep(0.3)
    raise HubError(f"no worker of group {group_id} came Online within {timeout_s:.0f} s")


#: what an admin can read from the hub after the demo: every listing, every run and its logs
HUB_READS = ("/worker-groups", "/accounts", "/remediations", "/findings", "/runs", "/users")


def hub_responses(hub: DemoHub, group_id: str) -> list[tuple[str, str]]:
    """The hub's answers to an admin reading everything, as (place, text) for the secret sweep."""
    paths = [
        *HUB_READS,
        f"/worker-groups/{group_id}",
        f"/worker-groups/{group_id}/workers",
        f"/worker-groups/{group_id}/jobs",
        f"/worker-groups/{group_id}/accounts",
        f"/worker-groups/{group_id}/logs",
    ]
    for run in hub.call("GET", "/runs?limit=200")["items"]:
        paths += [f"/runs/{run['id']}", f"/runs/{run['id']}/logs"]
    return [(f"hub GET {path}", hub.http.get(path).text) for path in paths]


def setup_hub(hub: DemoHub, clouds: Clouds) -> tuple[str, str, str]:
    """What a security engineer does first: a worker group, and the accounts it serves."""
    created = hub.call(
        "POST", "/worker-groups", {"name": GROUP, "description": "the demo's workers"}
    )
    group_id = created["group"]["id"]
    hub.call(
        "POST",
        "/accounts",
        {
            "provider": "aws",
            "account_id": ACCOUNT_ID,
            "name": "sandbox AWS",
            "role_arn": clouds.aws.role_arn,
            "external_id": clouds.aws.external_id,
        },
    )
    hub.call(
        "POST",
        "/accounts",
        {"provider": "azure", "account_id": clouds.azure.subscription_id, "name": "sandbox Azure"},
    )
    for account in (ACCOUNT_ID, clouds.azure.subscription_id):
        hub.call("PUT", f"/worker-groups/{group_id}/accounts/{account}")
    return group_id, created["group"]["client_id"], created["client_secret"]


def publish_actions(hub: DemoHub, group_id: str, cases: list[Case], clouds: Clouds) -> None:
    """One auto-remediating action per rule, filing a Jira issue per run; the AWS ones write the
    outcome back to the Security Hub finding."""
    notify = {"jira": {"server": clouds.jira.url, "project": JIRA_PROJECT}}
    for case in cases:
        action = hub.call(
            "POST",
            "/remediations",
            {
                "name": f"demo {case.job}",
                "provider": case.provider,
                "worker_group_id": group_id,
                "rule_ids": [case.rule_id],
                "steps": [{"job": case.job}],
                "notify": notify,
                "auto_remediate": True,
                "write_back": case.provider == "aws",
            },
        )
        hub.call("POST", f"/remediations/{action['id']}/publish")
