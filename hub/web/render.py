"""Rendering pages: the templates, who is signed in, and errors shown as pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from hub.errors import ApiError
from hub.web.sessions import SignedIn

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

#: what a page says after a change: redirects name one of these (never free text from the URL)
DONE = {
    "approved": "Approved: the run applies the plan.",
    "rejected": "Rejected: the run fails and nothing is changed.",
    "retried": "Started again.",
    "rolled_back": "Rollback started.",
    "triggered": "Run started.",
    "published": "Published: findings posted from now on are matched against it.",
    "unpublished": "Back to draft.",
    "paused": "Paused: its runs wait until it is resumed.",
    "resumed": "Resumed: its waiting runs start as its limits allow.",
    "saved": "Saved.",
    "enabled": "Enabled.",
    "disabled": "Disabled.",
    "suppressed": "Suppressed.",
    "opened": "Open again.",
    "associated": "Account associated.",
    "revoked": "Token revoked.",
    "role": "Role changed.",
}


def render(
    request: Request, name: str, user: SignedIn | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    done = DONE.get(request.query_params.get("done", ""))
    response = templates.TemplateResponse(
        request, name, {"user": user, "done": done, **context}, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(path: str, done: str | None = None) -> RedirectResponse:
    """Post/redirect/get: a change answers a redirect to the page that shows it."""
    if done:
        path += ("&" if "?" in path else "?") + f"done={quote(done)}"
    return RedirectResponse(path, status_code=303)


class SignInNeeded(Exception):
    """Raised by a page when nobody is signed in: answered with a redirect to the sign-in page."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


def invalid_form(exc: ValidationError) -> ApiError:
    """A form's first invalid field, as the API names it (422)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return ApiError(422, f"{where}: {first['msg']}", "correct it and send again", field=where)


def error_page(request: Request, exc: ApiError, user: SignedIn | None) -> HTMLResponse:
    response = render(
        request, "error.html", user, status_code=exc.status, error=exc.error, fix=exc.fix, exc=exc
    )
    for key, value in (exc.headers or {}).items():
        if key.lower() != "www-authenticate":  # a page never asks the browser for credentials
            response.headers[key] = value
    return response
