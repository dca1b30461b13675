"""`remedy hub` (serve, migrate, create-user), `remedy groups` and `remedy accounts`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from console.hub_api import (
    AsJson,
    HubApi,
    console,
    err,
    fail,
    print_json,
    print_logs,
    print_table,
)
from console.hub_cli_flags import ACCOUNT_FLAGS, GROUP_FLAGS

# -- remedy hub -----------------------------------------------------------------------------------

hub_app = typer.Typer(help="Run the hub, and set it up.", no_args_is_help=True)


@hub_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    log_level: Annotated[str, typer.Option(envvar="REMEDY_LOG_LEVEL")] = "INFO",
) -> None:
    """Serve the hub's web pages (/ui: sign in with a user token) and its API (OpenAPI at /docs). The store is migrated first (REMEDY_DATABASE_URL:
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
    console.print(
        f"Remedy hub on http://{host}:{port}: pages at /ui (sign in with a user token), "
        "API documentation at /docs"
    )
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
    role: Annotated[
        str | None,
        typer.Option(
            help="admin, analyst or viewer; viewer when not given (it may only read): "
            "the first user needs --role admin."
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the new user (name, role, token) as JSON; no API is called."
        ),
    ] = False,
) -> None:
    """Make a user in the store directly (the way to the first admin); print its token once.

    The role is viewer unless --role says otherwise."""
    from hub.auth import Role, create_user
    from hub.config import HubSettings
    from hub.db import Database
    from hub.errors import ApiError

    try:
        chosen = Role((role or "viewer").lower())
    except ValueError:
        raise fail(f"--role must be admin, analyst or viewer, not {role!r}") from None
    db = Database(HubSettings())
    try:
        db.migrate()
        _, token = db.run(lambda s: create_user(s, name, chosen))
    except ApiError as exc:
        raise fail(f"{exc.error} ({exc.fix})") from None
    finally:
        db.dispose()
    if as_json:
        print_json({"name": name, "role": chosen.value, "token": token})
        return
    given = (
        ""
        if role
        else f", the default role: `remedy hub user set-role {name} admin|analyst` changes it"
    )
    console.print(
        f"user [bold]{name}[/bold] ({chosen.value}{given}); its token, shown this once:",
        highlight=False,
    )
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
    found = HubApi().call(
        "POST",
        "/worker-groups",
        body={"name": name, "description": description},
        flags=GROUP_FLAGS,
    )
    if as_json:
        print_json(found)
        return
    console.print(f"group [bold]{found['group']['id']}[/bold] ({name})")
    _print_secret({**found, "client_id": found["group"]["client_id"]})


@groups_app.command("list")
def groups_list(as_json: AsJson = False) -> None:
    found = HubApi().call("GET", "/worker-groups")
    if as_json:
        print_json(found)
        return
    print_table(
        ["id", "name", "enabled", "workers online", "job code", "accounts", "client id"],
        [
            [
                g["id"],
                g["name"],
                g["enabled"],
                f"{g['workers_online']}/{g['workers_total']}",
                ", ".join(v["code_version"] or "unknown" for v in g.get("code_versions", [])),
                ", ".join(g["accounts"]),
                g["client_id"],
            ]
            for g in found
        ],
    )
    for g in found:
        for warning in g.get("warnings", []):
            err.print(f"[yellow]warning:[/yellow] {escape(warning)}")


@groups_app.command("get")
def groups_get(group_id: str, as_json: AsJson = False) -> None:
    """A group, its workers (Online/Offline) and the jobs its online workers offer."""
    api = HubApi()
    group = api.call("GET", f"/worker-groups/{group_id}")
    workers = api.call("GET", f"/worker-groups/{group_id}/workers")
    jobs = api.call("GET", f"/worker-groups/{group_id}/jobs")
    if as_json:
        print_json({**group, "workers": workers, "jobs": jobs})
        return
    state = "enabled" if group["enabled"] else "[red]disabled[/red]"
    console.print(f"[bold]{group['id']}[/bold] {group['name']} ({state}): {group['description']}")
    console.print(f"accounts: {', '.join(group['accounts']) or 'none'}")
    print_table(
        ["worker", "state", "host", "version", "job code", "commit", "last heartbeat", "jobs"],
        [
            [
                w["worker_id"],
                w["state"],
                w["host"],
                w["version"],
                w.get("code_version") or "unknown",
                (w.get("code_commit") or "")[:12],
                w["last_heartbeat"],
                len(w["jobs"]),
            ]
            for w in workers
        ],
    )
    print_table(
        ["job", "provider", "checksum", "workers"],
        [
            [j["name"], j["provider"], ", ".join(c[:12] for c in j["checksums"]), len(j["workers"])]
            for j in jobs
        ],
    )
    for warning in group.get("warnings", []):
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")


def _switch(group_id: str, action: str, as_json: bool) -> None:
    found = HubApi().call("POST", f"/worker-groups/{group_id}/{action}")
    if as_json:
        print_json(found)
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
        print_json(found)
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
    print_logs(found, as_json)


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
        flags=ACCOUNT_FLAGS,
    )
    for group_id in group:
        api.call("PUT", f"/worker-groups/{group_id}/accounts/{account_id}")
    if group:
        found = api.call("GET", f"/accounts/{account_id}")
    if as_json:
        print_json(found)
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
        print_json(found)
        return
    print_table(
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
