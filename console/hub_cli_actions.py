"""`remedy actions` and `remedy findings`: what the hub remediates, and how."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from console.findings_pull import pull
from console.findings_triage import FormatOption, findings_triage
from console.hub_api import (
    AsJson,
    HubApi,
    action_id,
    console,
    err,
    fail,
    job_parameters,
    load_document,
    print_json,
    print_table,
)
from console.hub_cli_flags import ACTION_FLAGS
from remedy.intake.detect import documents
from remedy.payload_shape import PayloadError

#: the hub's limit per request (hub/ingest.py MAX_BATCH)
MAX_BATCH = 1000

# -- remedy actions -------------------------------------------------------------------------------

actions_app = typer.Typer(
    help="Remediation actions: what to run on which findings.", no_args_is_help=True
)


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
    flags: dict[str, str] = {}
    if file is not None:
        body = load_document(file)
        if not isinstance(body, dict):
            raise fail(f"{file} must hold one action (an object)")
    else:
        flags = ACTION_FLAGS
        if not (name and group and rule and job):
            raise fail("give --file, or --name, --group, at least one --rule and one --job")
        parameters = job_parameters(param)
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
    found = HubApi().call("POST", "/remediations", body=body, flags=flags)
    if as_json:
        print_json(found)
    else:
        console.print(f"action [bold]{found['id']}[/bold] {found['name']} ({found['status']})")
        for warning in found.get("warnings") or []:
            err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


@actions_app.command("list")
def actions_list(as_json: AsJson = False) -> None:
    found = HubApi().call("GET", "/remediations")
    if as_json:
        print_json(found)
        return
    print_table(
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
    found = api.call("POST", f"/remediations/{action_id(api, action)}/publish")
    if as_json:
        print_json(found)
    else:
        console.print(f"action {found['id']} {found['name']}: {found['status']}")


# -- remedy findings ------------------------------------------------------------------------------

findings_app = typer.Typer(
    help="Findings: triage them offline, import them, see their status.", no_args_is_help=True
)
findings_app.command("triage")(findings_triage)
findings_app.command("pull")(pull)


@findings_app.command("import")
def findings_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="Findings: one, a JSON list, JSON lines, a Security Hub export "
            "({\"Findings\": [...]}), an EventBridge event, a Prowler json-ocsf file ('-': stdin)."
        ),
    ],
    format: FormatOption = None,
    as_json: AsJson = False,
) -> None:
    """Post findings to the hub (ASFF, OCSF, VSS; detected per finding): they are matched, and
    auto runs are queued for those to act on (the hub starts them, retrying while Temporal is
    away). Sent in batches of at most 1000."""
    try:
        findings = list(documents(load_document(file)))
    except PayloadError as exc:
        raise typer.BadParameter(str(exc)) from None
    api = HubApi()
    params = {"format": format} if format else None
    found: dict[str, Any] = {"accepted": 0, "rejected": 0, "queued": 0, "items": []}
    for start in range(0, max(len(findings), 1), MAX_BATCH):
        # the hub answers once the batch is stored (runs are queued, never awaited): a big
        # batch on a busy store may take a while, and that is no reason to give up
        batch = api.call(
            "POST",
            "/findings",
            body=findings[start : start + MAX_BATCH],
            params=params,
            read_timeout_s=600,
        )
        found["accepted"] += batch["accepted"]
        found["rejected"] += batch["rejected"]
        found["queued"] += batch.get("queued", 0)
        found["items"] += [{**i, "index": i["index"] + start} for i in batch["items"]]
    if as_json:
        print_json(found)
    else:
        print_table(
            ["finding", "format", "result", "status", "matched", "runs", "error / note"],
            [
                [
                    i["finding_id"],
                    i.get("format"),
                    i["result"],
                    i["status"],
                    ", ".join(map(str, i["matched"])),
                    ", ".join(i["runs"]),
                    i["error"] or i.get("note"),
                ]
                for i in found["items"]
            ],
        )
        console.print(
            f"{found['accepted']} accepted, {found['rejected']} rejected, "
            f"{found['queued']} runs queued"
        )
    if found["rejected"]:
        raise typer.Exit(1)


@findings_app.command("list")
def findings_list(
    status: Annotated[
        str | None,
        typer.Option(help="open, queued, remediating, remediated, failed, suppressed, resolved."),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many.")] = 50,
    as_json: AsJson = False,
) -> None:
    found = HubApi().call("GET", "/findings", params={"status": status, "limit": limit})
    if as_json:
        print_json(found)
        return
    print_table(
        ["finding", "status", "account", "rule", "resource", "runs"],
        [
            [f["id"], f["status"], f["account_id"], f["rule_id"], f["object_id"], len(f["runs"])]
            for f in found["items"]
        ],
    )
