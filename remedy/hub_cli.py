"""`remedy hub ...`, `groups`, `accounts`, `actions`, `findings`, `runs`, `remediate-action`.

Every command but `hub serve`, `hub create-user` and `hub migrate` talks to the hub's API at
REMEDY_HUB_URL with the token in REMEDY_HUB_TOKEN; `--json` prints the API's answer as it is.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from remedy.cli_params import parse_parameters

console = Console()
err = Console(stderr=True)

DEFAULT_HUB_URL = "http://127.0.0.1:8000"
ENDED = ("succeeded", "succeeded_with_errors", "failed", "cancelled")
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    return typer.Exit(code)


class HubApi:
    """The hub's API over HTTP; a refusal becomes an error message (the hub's error and fix)."""

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        import os

        self.url = (url or os.environ.get("REMEDY_HUB_URL") or DEFAULT_HUB_URL).rstrip("/")
        self.token = token or os.environ.get("REMEDY_HUB_TOKEN")

    def call(
        self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        if not self.token:
            raise _fail(
                "REMEDY_HUB_TOKEN is not set: `remedy hub create-user NAME --role admin` prints a "
                "token"
            )
        try:
            response = httpx.request(
                method,
                self.url + path,
                json=body,
                params={k: v for k, v in (params or {}).items() if v is not None},
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=30,
            )
        except httpx.HTTPError as exc:
            raise _fail(
                f"the hub at {self.url} does not answer ({exc}); start it with `remedy hub serve` "
                "or set REMEDY_HUB_URL"
            ) from None
        if response.status_code >= 400:
            try:
                found = response.json()
                message = f"{found.get('error')}\n  fix: {found.get('fix')}"
            except ValueError:
                message = response.text[:500]
            raise _fail(f"{response.status_code}: {message}", 1)
        return response.json() if response.content else None


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _table(columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def _load_document(path: Path) -> Any:
    """A JSON or YAML document ('-': standard input); JSON lines are read as a list."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix in (".yaml", ".yml"):
        try:
            yaml = importlib.import_module("yaml")
        except ImportError:
            raise _fail("reading YAML needs PyYAML (pip install pyyaml); or give JSON") from None
        try:
            return yaml.safe_load(text)
        except Exception as exc:  # yaml.YAMLError, without importing its types
            raise _fail(f"{path} is not valid YAML: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError:
            raise _fail(
                f"{path} is not valid JSON ({first.msg} at line {first.lineno} column "
                f"{first.colno})"
            ) from None


def _parameters(pairs: list[str]) -> dict[str, Any]:
    try:
        return parse_parameters(pairs)
    except ValueError as exc:
        raise _fail(str(exc)) from None


# -- remedy hub -----------------------------------------------------------------------------------

hub_app = typer.Typer(help="Run the hub, and set it up.", no_args_is_help=True)


@hub_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    log_level: Annotated[str, typer.Option(envvar="REMEDY_LOG_LEVEL")] = "INFO",
) -> None:
    """Serve the hub's API (OpenAPI at /docs). The store is migrated first (REMEDY_DATABASE_URL:
    a SQLite file under .remedy/ by default, PostgreSQL in production)."""
    import uvicorn

    from hub.app import create_app
    from hub.config import HubSettings
    from remedy.logs import setup_logging

    setup_logging(log_level)
    settings = HubSettings()
    if not settings.hub_public_url and host not in ("0.0.0.0", "::", ""):
        # the deployment commands name this address, never a request's Host header
        settings = settings.model_copy(update={"hub_public_url": f"http://{host}:{port}"})
    app = create_app(settings)
    console.print(f"Remedy hub on http://{host}:{port} (API documentation: /docs)")
    uvicorn.run(app, host=host, port=port, log_config=None, log_level=log_level.lower())


@hub_app.command("migrate")
def migrate() -> None:
    """Bring the store's tables up to date (`serve` does it too)."""
    from hub.config import HubSettings
    from hub.db import Database

    db = Database(HubSettings())
    db.migrate()
    db.dispose()
    console.print(f"store up to date ({db.dialect})")


@hub_app.command("create-user")
def create_user_command(
    name: str,
    role: Annotated[str, typer.Option(help="admin, analyst or viewer.")] = "viewer",
    as_json: AsJson = False,
) -> None:
    """Make a user in the store directly (the way to the first admin); print its token once."""
    from hub.auth import Role, create_user
    from hub.config import HubSettings
    from hub.db import Database
    from hub.errors import ApiError

    try:
        chosen = Role(role.lower())
    except ValueError:
        raise _fail(f"--role must be admin, analyst or viewer, not {role!r}") from None
    db = Database(HubSettings())
    try:
        db.migrate()
        _, token = db.run(lambda s: create_user(s, name, chosen))
    except ApiError as exc:
        raise _fail(f"{exc.error} ({exc.fix})") from None
    finally:
        db.dispose()
    if as_json:
        _print_json({"name": name, "role": chosen.value, "token": token})
        return
    console.print(f"user [bold]{name}[/bold] ({chosen.value}); its token, shown this once:")
    print(token)


# -- remedy groups --------------------------------------------------------------------------------

groups_app = typer.Typer(
    help="Worker groups: their workers, jobs and credentials.", no_args_is_help=True
)


def _print_secret(found: dict[str, Any]) -> None:
    console.print(f"client id:     {found['client_id']}")
    print(f"client secret: {found['client_secret']}")  # plain: never wrapped
    console.print("[yellow]the secret is shown this once: keep it now[/yellow]")
    console.rule("deploy a worker (AWS)")
    print(found["deploy"]["aws"])
    console.rule("deploy a worker (Azure)")
    print(found["deploy"]["azure"])


@groups_app.command("create")
def groups_create(
    name: str,
    description: Annotated[str, typer.Option(help="What the group is for.")] = "",
    as_json: AsJson = False,
) -> None:
    """Make a group; print its client id and secret (once) and the worker deployment commands."""
    found = HubApi().call("POST", "/worker-groups", body={"name": name, "description": description})
    if as_json:
        _print_json(found)
        return
    console.print(f"group [bold]{found['group']['id']}[/bold] ({name})")
    _print_secret({**found, "client_id": found["group"]["client_id"]})


@groups_app.command("list")
def groups_list(as_json: AsJson = False) -> None:
    found = HubApi().call("GET", "/worker-groups")
    if as_json:
        _print_json(found)
        return
    _table(
        ["id", "name", "enabled", "workers online", "accounts", "client id"],
        [
            [
                g["id"],
                g["name"],
                g["enabled"],
                f"{g['workers_online']}/{g['workers_total']}",
                ", ".join(g["accounts"]),
                g["client_id"],
            ]
            for g in found
        ],
    )


@groups_app.command("get")
def groups_get(group_id: str, as_json: AsJson = False) -> None:
    """A group, its workers (Online/Offline) and the jobs its online workers offer."""
    api = HubApi()
    group = api.call("GET", f"/worker-groups/{group_id}")
    workers = api.call("GET", f"/worker-groups/{group_id}/workers")
    jobs = api.call("GET", f"/worker-groups/{group_id}/jobs")
    if as_json:
        _print_json({**group, "workers": workers, "jobs": jobs})
        return
    state = "enabled" if group["enabled"] else "[red]disabled[/red]"
    console.print(f"[bold]{group['id']}[/bold] {group['name']} ({state}): {group['description']}")
    console.print(f"accounts: {', '.join(group['accounts']) or 'none'}")
    _table(
        ["worker", "state", "host", "version", "last heartbeat", "jobs"],
        [
            [
                w["worker_id"],
                w["state"],
                w["host"],
                w["version"],
                w["last_heartbeat"],
                len(w["jobs"]),
            ]
            for w in workers
        ],
    )
    _table(
        ["job", "provider", "checksum", "workers"],
        [
            [j["name"], j["provider"], ", ".join(c[:12] for c in j["checksums"]), len(j["workers"])]
            for j in jobs
        ],
    )


def _switch(group_id: str, action: str, as_json: bool) -> None:
    found = HubApi().call("POST", f"/worker-groups/{group_id}/{action}")
    if as_json:
        _print_json(found)
    else:
        console.print(f"group {found['id']}: {'enabled' if found['enabled'] else 'disabled'}")


@groups_app.command("enable")
def groups_enable(group_id: str, as_json: AsJson = False) -> None:
    _switch(group_id, "enable", as_json)


@groups_app.command("disable")
def groups_disable(group_id: str, as_json: AsJson = False) -> None:
    """A disabled group takes no new runs."""
    _switch(group_id, "disable", as_json)


@groups_app.command("regenerate-secret")
def groups_regenerate(group_id: str, as_json: AsJson = False) -> None:
    """A new client secret (shown once); the old one stops working at once."""
    found = HubApi().call("POST", f"/worker-groups/{group_id}/regenerate-secret")
    if as_json:
        _print_json(found)
    else:
        _print_secret(found)


@groups_app.command("logs")
def groups_logs(
    group_id: str,
    limit: Annotated[int, typer.Option(help="How many entries.")] = 50,
    as_json: AsJson = False,
) -> None:
    """The job logs the group's workers shipped, newest first."""
    found = HubApi().call("GET", f"/worker-groups/{group_id}/logs", params={"limit": limit})
    _print_logs(found, as_json)


# -- remedy accounts ------------------------------------------------------------------------------

accounts_app = typer.Typer(
    help="Cloud accounts (AWS) and subscriptions (Azure).", no_args_is_help=True
)


@accounts_app.command("add")
def accounts_add(
    account_id: Annotated[
        str, typer.Argument(help="12-digit AWS account id, or Azure subscription id.")
    ],
    provider: Annotated[str, typer.Option(help="aws or azure.")] = "aws",
    role_arn: Annotated[str | None, typer.Option(help="AWS: the role the worker assumes.")] = None,
    external_id: Annotated[
        str | None, typer.Option(help="AWS: its trust policy's external id.")
    ] = None,
    name: Annotated[str, typer.Option(help="A name to show.")] = "",
    group: Annotated[
        list[str], typer.Option("--group", help="Associate with this worker group; repeatable.")
    ] = [],  # noqa: B006
    as_json: AsJson = False,
) -> None:
    """Register an account (or update how it is reached) and associate it with groups."""
    api = HubApi()
    found = api.call(
        "POST",
        "/accounts",
        body={
            "provider": provider,
            "account_id": account_id,
            "name": name,
            "role_arn": role_arn,
            "external_id": external_id,
        },
    )
    for group_id in group:
        api.call("PUT", f"/worker-groups/{group_id}/accounts/{account_id}")
    if group:
        found = api.call("GET", f"/accounts/{account_id}")
    if as_json:
        _print_json(found)
    else:
        console.print(
            f"account {found['account_id']} ({found['provider']}); groups: "
            f"{', '.join(found['groups']) or 'none'}"
        )


@accounts_app.command("list")
def accounts_list(
    group: Annotated[str | None, typer.Option("--group", help="Only this group's.")] = None,
    as_json: AsJson = False,
) -> None:
    path = f"/worker-groups/{group}/accounts" if group else "/accounts"
    found = HubApi().call("GET", path)
    if as_json:
        _print_json(found)
        return
    _table(
        ["account", "provider", "name", "role ARN", "external id", "groups"],
        [
            [
                a["account_id"],
                a["provider"],
                a["name"],
                a["role_arn"],
                a["external_id"],
                ", ".join(a["groups"]),
            ]
            for a in found
        ],
    )


# -- remedy actions -------------------------------------------------------------------------------

actions_app = typer.Typer(
    help="Remediation actions: what to run on which findings.", no_args_is_help=True
)


def _action_id(api: HubApi, action: str) -> int:
    """An action given by id or by name."""
    if action.isdigit():
        return int(action)
    for found in api.call("GET", "/remediations"):
        if found["name"] == action:
            return int(found["id"])
    raise _fail(f"no remediation action named {action!r} (`remedy actions list`)")


@actions_app.command("create")
def actions_create(
    file: Annotated[
        Path | None,
        typer.Option("--file", help="The action as JSON or YAML (fields of POST /remediations)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Its name.")] = None,
    provider: Annotated[str, typer.Option(help="aws or azure.")] = "aws",
    group: Annotated[str | None, typer.Option("--group", help="Worker group id.")] = None,
    rule: Annotated[list[str], typer.Option("--rule", help="Rule (policy) id; repeatable.")] = [],  # noqa: B006
    job: Annotated[
        list[str], typer.Option("--job", help="Job; repeat for a chain run in order.")
    ] = [],  # noqa: B006
    param: Annotated[
        list[str], typer.Option("--param", help="NAME=VALUE for every job; repeatable.")
    ] = [],  # noqa: B006
    account: Annotated[
        list[str], typer.Option("--account", help="Account id; repeatable (default: the group's).")
    ] = [],  # noqa: B006
    region: Annotated[
        list[str], typer.Option("--region", help="Only findings in this region; repeatable.")
    ] = [],  # noqa: B006
    min_risk: Annotated[float | None, typer.Option(help="Minimum risk score (0-100).")] = None,
    min_level: Annotated[
        str | None, typer.Option(help="Minimum level: Low, Medium, High, Critical.")
    ] = None,
    auto: Annotated[bool, typer.Option("--auto", help="Auto-remediation active.")] = False,
    publish: Annotated[bool, typer.Option("--publish", help="Publish it at once.")] = False,
    as_json: AsJson = False,
) -> None:
    """Make an action from a file, or from flags."""
    if file is not None:
        body = _load_document(file)
        if not isinstance(body, dict):
            raise _fail(f"{file} must hold one action (an object)")
    else:
        if not (name and group and rule and job):
            raise _fail("give --file, or --name, --group, at least one --rule and one --job")
        parameters = _parameters(param)
        criteria: dict[str, Any] = {"regions": region}
        if min_risk is not None:
            criteria["min_risk_score"] = min_risk
        if min_level:
            criteria["min_level"] = min_level.capitalize()
        body = {
            "name": name,
            "provider": provider,
            "worker_group_id": group,
            "rule_ids": rule,
            "account_ids": account,
            "criteria": criteria,
            "steps": [{"job": j, "parameters": parameters} for j in job],
            "auto_remediate": auto,
        }
    if publish:
        body["status"] = "published"
    found = HubApi().call("POST", "/remediations", body=body)
    if as_json:
        _print_json(found)
    else:
        console.print(f"action [bold]{found['id']}[/bold] {found['name']} ({found['status']})")


@actions_app.command("list")
def actions_list(as_json: AsJson = False) -> None:
    found = HubApi().call("GET", "/remediations")
    if as_json:
        _print_json(found)
        return
    _table(
        ["id", "name", "provider", "group", "rules", "jobs", "status", "auto"],
        [
            [
                a["id"],
                a["name"],
                a["provider"],
                a["worker_group_id"],
                ", ".join(a["rule_ids"]),
                " → ".join(s["job"] for s in a["steps"]),
                a["status"],
                a["auto_remediate"],
            ]
            for a in found
        ],
    )


@actions_app.command("publish")
def actions_publish(action: str, as_json: AsJson = False) -> None:
    """Publish an action: findings posted from now on are matched against it."""
    api = HubApi()
    found = api.call("POST", f"/remediations/{_action_id(api, action)}/publish")
    if as_json:
        _print_json(found)
    else:
        console.print(f"action {found['id']} {found['name']}: {found['status']}")


# -- remedy findings ------------------------------------------------------------------------------

findings_app = typer.Typer(help="Findings: import them, see their status.", no_args_is_help=True)


@findings_app.command("import")
def findings_import(
    file: Annotated[
        Path, typer.Argument(help="One finding, a JSON list, or JSON lines ('-': stdin).")
    ],
    as_json: AsJson = False,
) -> None:
    """Post findings to the hub: they are matched, and auto runs start."""
    document = _load_document(file)
    found = HubApi().call(
        "POST", "/findings", body=document if isinstance(document, list) else [document]
    )
    if as_json:
        _print_json(found)
    else:
        _table(
            ["finding", "result", "status", "matched", "runs", "error"],
            [
                [
                    i["finding_id"],
                    i["result"],
                    i["status"],
                    ", ".join(map(str, i["matched"])),
                    ", ".join(i["runs"]),
                    i["error"],
                ]
                for i in found["items"]
            ],
        )
        console.print(f"{found['accepted']} accepted, {found['rejected']} rejected")
    if found["rejected"]:
        raise typer.Exit(1)


@findings_app.command("list")
def findings_list(
    status: Annotated[
        str | None, typer.Option(help="open, remediating, remediated, failed, suppressed.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many.")] = 50,
    as_json: AsJson = False,
) -> None:
    found = HubApi().call("GET", "/findings", params={"status": status, "limit": limit})
    if as_json:
        _print_json(found)
        return
    _table(
        ["finding", "status", "account", "rule", "resource", "runs"],
        [
            [f["id"], f["status"], f["account_id"], f["rule_id"], f["object_id"], len(f["runs"])]
            for f in found["items"]
        ],
    )


# -- runs -----------------------------------------------------------------------------------------

runs_app = typer.Typer(help="Remediation runs started by the hub.", no_args_is_help=True)


def _print_runs(runs: list[dict[str, Any]]) -> None:
    _table(
        ["run", "finding", "action", "trigger", "status", "message"],
        [
            [r["id"], r["finding_id"], r["remediation"], r["trigger"], r["status"], r["message"]]
            for r in runs
        ],
    )


@runs_app.command("list")
def runs_list(
    status: Annotated[
        str | None, typer.Option(help="pending, submitted, running, succeeded, failed, cancelled.")
    ] = None,
    finding: Annotated[str | None, typer.Option(help="Only this finding's runs.")] = None,
    action: Annotated[int | None, typer.Option(help="Only this action's runs (id).")] = None,
    group: Annotated[str | None, typer.Option(help="Only this worker group's runs.")] = None,
    limit: Annotated[int, typer.Option(help="How many.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Runs, newest first."""
    found = HubApi().call(
        "GET",
        "/runs",
        params={
            "status": status,
            "finding_id": finding,
            "remediation_id": action,
            "group_id": group,
            "limit": limit,
        },
    )
    if as_json:
        _print_json(found)
    else:
        _print_runs(found["items"])


def _print_run(run: dict[str, Any]) -> None:
    colour = {
        "succeeded": "green",
        "succeeded_with_errors": "yellow",
        "failed": "red",
        "running": "yellow",
    }.get(run["status"], "white")
    console.print(
        f"[bold]{run['id']}[/bold] {run['remediation']} on finding {run['finding_id']}: "
        f"[{colour}]{run['status']}[/{colour}] {run['message']}"
    )
    _table(
        ["step", "state", "attempts", "exit", "message"],
        [
            [s["name"], s["state"], s["attempts"] or "", s["exit_code"], s["message"]]
            for s in run["steps"]
        ],
    )
    if run.get("notification"):
        console.print(f"notification: {run['notification']}")
    console.print(run["temporal_url"])


@runs_app.command("get")
def runs_get(run_id: str, as_json: AsJson = False) -> None:
    """A run's status from its workflow, its steps, and its link in the Temporal UI."""
    found = HubApi().call("GET", f"/runs/{run_id}")
    if as_json:
        _print_json(found)
    else:
        _print_run(found)


def _print_logs(found: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(found)
        return
    for entry in found["items"]:
        console.rule(
            f"{entry['received_at']} {entry['run_id']} {entry['job']} "
            f"(worker {entry['worker_id']} of group {entry['group_id']})"
        )
        console.print(entry["text"], markup=False, highlight=False)
    console.print(f"{len(found['items'])} of {found['total']} entries")


@runs_app.command("logs")
def runs_logs(
    run_id: str,
    limit: Annotated[int, typer.Option(help="How many entries.")] = 100,
    as_json: AsJson = False,
) -> None:
    """The job logs the workers shipped for this run (oldest first)."""
    found = HubApi().call("GET", f"/runs/{run_id}/logs", params={"limit": limit, "order": "oldest"})
    _print_logs(found, as_json)


def remediate_action(
    action: Annotated[str, typer.Option("--action", help="The action: id or name.")],
    finding: Annotated[list[str], typer.Option("--finding", help="Finding id; repeatable.")],
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Wait for the runs to end; exit 0 if all succeeded, 3 if one logged errors, else 1.",
        ),
    ] = False,
    timeout: Annotated[float, typer.Option(help="How long --wait waits, in seconds.")] = 900.0,
    as_json: AsJson = False,
) -> None:
    """Run a hub remediation action on findings (Admin or Analyst); print the runs.

    (`remedy remediate` runs jobs directly on Temporal, without the hub.)
    """
    api = HubApi()
    found = api.call(
        "POST", f"/remediations/{_action_id(api, action)}/run", body={"finding_ids": finding}
    )
    runs = found["runs"]
    if wait:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = [api.call("GET", f"/runs/{r['id']}") for r in runs]
            if all(r["status"] in ENDED for r in runs):
                break
            time.sleep(1)
    if as_json:
        _print_json({"runs": runs})
    else:
        _print_runs(runs)
    if wait:
        states = {r["status"] for r in runs}
        if states - {"succeeded", "succeeded_with_errors"}:
            raise typer.Exit(1)
        if "succeeded_with_errors" in states:
            raise typer.Exit(3)  # as `remedy remediate --wait`: fixed, but a job logged errors


def register(app: typer.Typer) -> None:
    """Add the hub's commands to `remedy`."""
    from remedy.hub_cli_tokens import token_app, user_app

    hub_app.add_typer(token_app, name="token")
    hub_app.add_typer(user_app, name="user")
    app.add_typer(hub_app, name="hub")
    app.add_typer(groups_app, name="groups")
    app.add_typer(accounts_app, name="accounts")
    app.add_typer(actions_app, name="actions")
    app.add_typer(findings_app, name="findings")
    app.add_typer(runs_app, name="runs")
    app.command("remediate-action")(remediate_action)
