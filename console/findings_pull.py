"""`remedy findings pull securityhub`: Security Hub's findings into the hub, now or on a schedule.

Now: GetFindings with your own AWS identity (the usual boto3 chain: profile, environment,
`AWS_ENDPOINT_URL` for the sandbox), filtered and paginated (remedy/securityhub.py), posted to the
hub in batches. `--every`: instead, a Temporal schedule per account (remedy/pull_schedule.py)
whose runs the account's worker group executes with the account's role, so new findings flow in
without a push.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Annotated, Any

import typer

from console.hub_api import HubApi, console, fail, print_json
from remedy.securityhub import filters_for, pages, since


def _every(text: str) -> timedelta:
    span = re.fullmatch(r"(\d+)([mhd])", text.strip())
    if not span:
        raise typer.BadParameter(f"{text!r}: a span such as 15m, 1h or 1d")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[span.group(2)]
    return timedelta(**{unit: int(span.group(1))})


def pull(
    source: Annotated[str, typer.Argument(help="Where from: securityhub.")],
    status: Annotated[
        list[str] | None, typer.Option(help="Compliance status (repeatable; default FAILED).")
    ] = None,
    standard: Annotated[
        list[str] | None,
        typer.Option(help="A standard's ARN, or its id's prefix (repeatable)."),
    ] = None,
    account: Annotated[list[str] | None, typer.Option(help="AWS account id (repeatable).")] = None,
    region: Annotated[list[str] | None, typer.Option(help="Region (repeatable).")] = None,
    updated_since: Annotated[
        str | None, typer.Option(help="ISO 8601 time, or a span back: 90m, 12h, 7d.")
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(help="Schedule it instead (15m, 1h): per --account, run by --group."),
    ] = None,
    group: Annotated[str | None, typer.Option(help="The worker group of a schedule.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Pull findings from Security Hub (GetFindings) into the hub."""
    if source != "securityhub":
        raise typer.BadParameter(f"unknown source {source!r}: securityhub")
    statuses = tuple(status or ["FAILED"])
    if every:
        found = _schedule(_every(every), group, account or [], region or [], statuses, standard)
    else:
        found = _pull_now(statuses, standard, account, region, updated_since)
    if as_json:
        print_json(found)
    elif every:
        console.print("\n".join(f"schedule {s}" for s in found["schedules"]))
    else:
        console.print(
            f"{found['pulled']} pulled: {found['accepted']} accepted, {found['rejected']} "
            f"rejected, {found['queued']} runs queued"
        )


def _pull_now(
    statuses: tuple[str, ...],
    standards: list[str] | None,
    accounts: list[str] | None,
    regions: list[str] | None,
    updated_since: str | None,
) -> dict[str, Any]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        filters = filters_for(
            statuses=statuses,
            standards=tuple(standards or ()),
            accounts=tuple(accounts or ()),
            updated_since=since(updated_since) if updated_since else None,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    api = HubApi()
    found = {"pulled": 0, "accepted": 0, "rejected": 0, "queued": 0}
    names: list[str | None] = list(regions or []) or [None]  # None: the profile's region
    for name in names:
        client = boto3.client("securityhub", region_name=name)
        try:
            for page in pages(client, filters):
                answer = api.call("POST", "/findings", body=page, read_timeout_s=600)
                found["pulled"] += len(page)
                for key in ("accepted", "rejected", "queued"):
                    found[key] += int(answer.get(key, 0))
        except (BotoCoreError, ClientError) as exc:
            raise fail(f"Security Hub ({client.meta.region_name}): {exc}") from None
    return found


def _schedule(
    every: timedelta,
    group: str | None,
    accounts: list[str],
    regions: list[str],
    statuses: tuple[str, ...],
    standards: list[str] | None,
) -> dict[str, Any]:
    from remedy.config import TemporalSettings
    from remedy.pull_schedule import schedule_pull
    from remedy.temporal import connect
    from remedy.types import AccountRef, PullInput

    if not group or not accounts:
        raise typer.BadParameter("a schedule needs --group and at least one --account")
    if every < timedelta(minutes=1):
        raise typer.BadParameter("--every is at least 1m")
    api = HubApi()
    requests = []
    for account_id in accounts:
        known = api.call("GET", f"/accounts/{account_id}")
        requests.append(
            PullInput(
                account=AccountRef(
                    provider="aws",
                    account_id=account_id,
                    role_arn=known.get("role_arn"),
                    external_id=known.get("external_id"),
                ),
                regions=regions,
                statuses=list(statuses),
                standards=list(standards or []),
            )
        )

    async def create() -> list[str]:
        client = await connect(TemporalSettings())
        return [await schedule_pull(client, group, r, every) for r in requests]

    return {"schedules": asyncio.run(create())}
