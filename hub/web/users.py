"""Users (admins only): create, change role, disable or enable, issue and revoke tokens. A new
token is shown in the answer to the POST only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import tokens
from hub.auth import Permission, Role, create_user
from hub.context import Hub, HubDep
from hub.models import User
from hub.web.csrf import checked_form
from hub.web.render import invalid_form, redirect, render
from hub.web.session import PageUser, may
from hub.web.sessions import SignedIn

router = APIRouter(prefix="/ui", include_in_schema=False)


def _users(session: Session) -> list[dict[str, Any]]:
    found = []
    for user in session.scalars(select(User).order_by(User.name)):
        found.append(
            {
                "user": tokens.user_detail(session, user),
                "tokens": tokens.list_tokens(session, user.name),
            }
        )
    return found


@router.get("/users")
def users_page(request: Request, hub: HubDep, user: PageUser) -> HTMLResponse:
    may(user, Permission.MANAGE, "manage users")
    return render(request, "users.html", user, rows=hub.db.run(_users), issued=None)


def _role(value: object) -> Role:
    try:
        return Role(str(value))
    except ValueError:
        from hub.errors import ApiError

        raise ApiError(422, f"role: {value!r} is not a role", "admin, analyst or viewer") from None


@router.post("/users")
async def create(request: Request, hub: HubDep, user: PageUser) -> HTMLResponse:
    may(user, Permission.MANAGE, "create users")
    form = await checked_form(request, user)
    name, role = str(form.get("name", "")), _role(form.get("role"))
    made, token = await hub.db.call(lambda s: create_user(s, name, role))
    rows = await hub.db.call(_users)
    issued = {"user": made.name, "token": token}
    return render(request, "users.html", user, rows=rows, issued=issued)


@router.post("/users/{name}/role")
async def set_role(name: str, request: Request, hub: HubDep, user: PageUser) -> Response:
    may(user, Permission.MANAGE, "change roles")
    form = await checked_form(request, user)
    patch = tokens.UserPatch(role=_role(form.get("role")))
    await hub.db.call(lambda s: tokens.update_user(s, name, patch))
    return redirect("/ui/users", "role")


@router.post("/users/{name}/disable")
async def disable(name: str, request: Request, hub: HubDep, user: PageUser) -> Response:
    return await _disabled(request, hub, user, name, True)


@router.post("/users/{name}/enable")
async def enable(name: str, request: Request, hub: HubDep, user: PageUser) -> Response:
    return await _disabled(request, hub, user, name, False)


async def _disabled(request: Request, hub: Hub, user: SignedIn, name: str, off: bool) -> Response:
    may(user, Permission.MANAGE, "disable or enable users")
    await checked_form(request, user)
    patch = tokens.UserPatch(disabled=off)
    await hub.db.call(lambda s: tokens.update_user(s, name, patch))
    return redirect("/ui/users", "disabled" if off else "enabled")


@router.post("/users/{name}/tokens")
async def issue(name: str, request: Request, hub: HubDep, user: PageUser) -> HTMLResponse:
    may(user, Permission.MANAGE, "issue tokens")
    form = await checked_form(request, user)
    days = str(form.get("expires_in_days", "")).strip()
    try:
        body = tokens.TokenIn(label=str(form.get("label", "")), expires_in_days=days or None)
    except ValidationError as exc:
        raise invalid_form(exc) from None
    made = await hub.db.call(lambda s: tokens.issue(s, name, body))
    rows = await hub.db.call(_users)
    issued = {"user": name, "token": made.token}
    return render(request, "users.html", user, rows=rows, issued=issued)


@router.post("/users/{name}/tokens/{token_id}/revoke")
async def revoke(
    name: str, token_id: int, request: Request, hub: HubDep, user: PageUser
) -> Response:
    may(user, Permission.MANAGE, "revoke tokens")
    await checked_form(request, user)
    await hub.db.call(lambda s: tokens.revoke(s, name, token_id))
    return redirect("/ui/users", "revoked")
