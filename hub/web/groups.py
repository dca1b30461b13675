"""Worker groups and accounts: online workers and their jobs, the deploy commands, a new secret
(shown once, in the answer to the POST only), enable and disable; accounts with their role ARNs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from hub import groups
from hub.auth import Permission, Role
from hub.context import Hub, HubDep
from hub.models import WorkerGroup, utcnow
from hub.routes.admin import HUB_URL_PLACEHOLDER
from hub.routes.common import GroupId
from hub.schemas import AccountIn, AccountOut, DeployCommands, GroupIn
from hub.web.csrf import checked_form
from hub.web.render import invalid_form, redirect, render
from hub.web.session import PageUser, may
from hub.web.sessions import SignedIn

router = APIRouter(prefix="/ui", include_in_schema=False)


def _deploy(hub: Hub, group: WorkerGroup) -> DeployCommands:
    return groups.deploy_commands(
        group,
        hub.settings.hub_public_url or HUB_URL_PLACEHOLDER,
        hub.temporal_settings.address,
        hub.settings.hub_worker_image,
    )


def _shown(account: AccountOut, user: SignedIn) -> AccountOut:
    if user.caller.role != Role.ADMIN:  # external ids guard the trust: admins only, as the API
        account.external_id = None
    return account


@router.get("/groups")
def groups_page(request: Request, hub: HubDep, user: PageUser) -> HTMLResponse:
    rows = hub.db.run(
        lambda s: [groups.group_out(s, g, hub.settings) for g in groups.list_groups(s)]
    )
    return render(request, "groups.html", user, rows=rows, created=None)


@router.post("/groups")
async def create_group(request: Request, hub: HubDep, user: PageUser) -> HTMLResponse:
    may(user, Permission.MANAGE, "create worker groups")
    form = await checked_form(request, user)
    try:
        body = GroupIn(name=str(form.get("name", "")), description=str(form.get("description", "")))
    except ValidationError as exc:
        raise invalid_form(exc) from None

    def work(session: Session) -> dict[str, Any]:
        group, secret = groups.create_group(session, body)
        return {
            "group": groups.group_out(session, group, hub.settings),
            "secret": secret,
            "deploy": _deploy(hub, group),
        }

    created = await hub.db.call(work)
    return render(request, "group_secret.html", user, **created)


def _group(session: Session, hub: Hub, group_id: str, user: SignedIn) -> dict[str, Any]:
    group = groups.get_group(session, group_id)
    now = utcnow()
    return {
        "group": groups.group_out(session, group, hub.settings),
        "workers": [
            groups.worker_out(w, hub.settings, now) for w in groups.workers_of(session, group_id)
        ],
        "jobs": list(groups.offered_jobs(session, group_id, hub.settings).values()),
        "accounts": [
            _shown(groups.account_out(session, a), user)
            for a in groups.list_accounts(session, group_id)
        ],
        "all_accounts": [a.id for a in groups.list_accounts(session)],
        "deploy": _deploy(hub, group),
    }


@router.get("/groups/{group_id}")
def group_page(group_id: GroupId, request: Request, hub: HubDep, user: PageUser) -> HTMLResponse:
    return render(
        request, "group.html", user, **hub.db.run(lambda s: _group(s, hub, group_id, user))
    )


@router.post("/groups/{group_id}/enable")
async def enable(group_id: GroupId, request: Request, hub: HubDep, user: PageUser) -> Response:
    return await _enabled(request, hub, user, group_id, True)


@router.post("/groups/{group_id}/disable")
async def disable(group_id: GroupId, request: Request, hub: HubDep, user: PageUser) -> Response:
    return await _enabled(request, hub, user, group_id, False)


async def _enabled(request: Request, hub: Hub, user: SignedIn, group_id: str, on: bool) -> Response:
    may(user, Permission.MANAGE, "enable or disable worker groups")
    await checked_form(request, user)
    await hub.db.call(lambda s: groups.set_enabled(s, group_id, on))
    return redirect(f"/ui/groups/{group_id}", "enabled" if on else "disabled")


@router.post("/groups/{group_id}/regenerate-secret")
async def regenerate(
    group_id: GroupId, request: Request, hub: HubDep, user: PageUser
) -> HTMLResponse:
    """A new client secret, shown in this answer only; the old one stops working at once."""
    may(user, Permission.MANAGE, "rotate worker group secrets")
    await checked_form(request, user)

    def work(session: Session) -> dict[str, Any]:
        group, secret = groups.regenerate_secret(session, group_id)
        return {
            "group": groups.group_out(session, group, hub.settings),
            "secret": secret,
            "deploy": _deploy(hub, group),
        }

    return render(request, "group_secret.html", user, **await hub.db.call(work))


@router.post("/groups/{group_id}/accounts")
async def associate(group_id: GroupId, request: Request, hub: HubDep, user: PageUser) -> Response:
    may(user, Permission.MANAGE, "associate accounts")
    form = await checked_form(request, user)
    account_id = str(form.get("account_id", "")).strip()
    await hub.db.call(lambda s: groups.associate(s, group_id, account_id))
    return redirect(f"/ui/groups/{group_id}", "associated")


@router.get("/accounts")
def accounts_page(request: Request, hub: HubDep, user: PageUser) -> HTMLResponse:
    rows = hub.db.run(
        lambda s: [_shown(groups.account_out(s, a), user) for a in groups.list_accounts(s)]
    )
    return render(request, "accounts.html", user, rows=rows)


@router.post("/accounts")
async def put_account(request: Request, hub: HubDep, user: PageUser) -> Response:
    may(user, Permission.MANAGE, "register accounts")
    form = await checked_form(request, user)
    fields = {k: str(v).strip() for k, v in form.items() if k != "csrf_token" and str(v).strip()}
    try:
        body = AccountIn.model_validate(fields)
    except ValidationError as exc:
        raise invalid_form(exc) from None
    await hub.db.call(lambda s: groups.put_account(s, body))
    return redirect("/ui/accounts", "saved")
