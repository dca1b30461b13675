"""Signing in and out, and the dependencies every page uses to know who is signed in."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.auth import Caller, Permission, authorize
from hub.context import HubDep, authenticated
from hub.errors import ApiError
from hub.web.config import web_settings
from hub.web.csrf import checked_form
from hub.web.render import SignInNeeded, redirect, render
from hub.web.sessions import SignedIn, close_session, open_session, signed_in

COOKIE = "remedy_session"
HOME = "/ui/runs"

router = APIRouter(prefix="/ui", include_in_schema=False)


def current_user(request: Request, hub: HubDep) -> SignedIn | None:
    cookie = request.cookies.get(COOKIE)
    user = hub.db.run(lambda s: signed_in(s, cookie)) if cookie else None
    if user is not None:
        request.state.caller = user.caller  # the audit log records the changes made from pages
    return user


def page_user(
    request: Request, user: Annotated[SignedIn | None, Depends(current_user)]
) -> SignedIn:
    """The signed-in user (a redirect to the sign-in page otherwise); may view, as every role."""
    if user is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(back if request.method == "GET" else HOME)
    return user


PageUser = Annotated[SignedIn, Depends(page_user)]


def may(user: SignedIn, permission: Permission, what: str) -> Caller:
    """The role matrix of the API (hub/auth.py), checked again by every POST handler."""
    authorize(user.caller, permission, what)
    return user.caller


def _safe_next(target: str | None) -> str:
    """Only a path of the pages themselves: never an address elsewhere (an open redirect)."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return HOME


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "sign_in.html", None, next=_safe_next(next))


@router.post("/sign-in")
def sign_in(
    request: Request,
    hub: HubDep,
    token: Annotated[str, Form(max_length=200)],
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """Exchange a user token for a session cookie (HttpOnly, SameSite=Strict, Secure over TLS).
    A sign-in posted from another site's page is refused: it would sign the browser in as
    whoever's token that page holds."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):
        raise ApiError(403, "a sign-in from another site's page", "sign in from the hub's page")
    hours = web_settings().hub_web_session_hours
    session_id, _ = authenticated(
        hub, request, True, lambda: hub.db.run(lambda s: open_session(s, token.strip(), hours))
    )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(hours * 3600),
        path="/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request, hub: HubDep, user: PageUser) -> Response:
    await checked_form(request, user)
    cookie = request.cookies.get(COOKIE, "")
    await hub.db.call(lambda s: close_session(s, cookie))
    response = redirect("/ui/sign-in")
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/")
def home() -> Response:
    return RedirectResponse(HOME, status_code=303)
