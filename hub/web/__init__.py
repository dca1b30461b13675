"""The hub in a browser: server-rendered pages under /ui, the API docs served offline.

Pages call the same hub functions as the API routes and check the same role matrix (hub/auth.py),
once to show only the buttons a role may use and again in every POST handler. A user signs in
with their API token, exchanged for a server-side session (hub/web/sessions.py); every form
carries the session's CSRF token (hub/web/csrf.py); every answer has a Content-Security-Policy
(hub/web/headers.py).
"""

from __future__ import annotations

import inspect
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from hub.errors import ApiError
from hub.web import (
    actions,
    approvals,
    catalogue,
    docs,
    findings,
    groups,
    runs,
    session,
    users,
)
from hub.web.assets import STATIC_PREFIX
from hub.web.headers import SecurityHeaders
from hub.web.render import HERE, SignInNeeded, error_page, redirect

PAGES_PREFIX = "/ui"
ROUTERS = tuple(
    m.router for m in (session, findings, runs, approvals, actions, groups, catalogue, users, docs)
)


def mount(app: FastAPI) -> None:
    """Add the pages, their static files, the offline API docs and the security headers; `app`
    was made with `docs_url=None, redoc_url=None`."""
    app.mount(STATIC_PREFIX, StaticFiles(directory=HERE / "static"), name="web-static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(SecurityHeaders)
    api_errors = app.exception_handlers[ApiError]
    api_invalid = app.exception_handlers[RequestValidationError]

    async def page_error(request: Request, exc: Exception) -> Response:
        """On a page, an error is a page too (the API's answer is JSON)."""
        if not request.url.path.startswith(PAGES_PREFIX + "/"):
            handler = api_errors if isinstance(exc, ApiError) else api_invalid
            answer = handler(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        if isinstance(exc, RequestValidationError):
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            exc = ApiError(422, f"{where}: {first['msg']}", "correct it and try again", field=where)
        assert isinstance(exc, ApiError)
        return error_page(request, exc, session.current_user(request, request.app.state.hub))

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        target = f"/ui/sign-in?next={quote(exc.back_to, safe='/')}"
        if request.headers.get("hx-request") == "true":
            # a refreshing fragment whose session ended: the whole page goes to sign-in, rather
            # than the sign-in page inside the fragment
            return Response(status_code=204, headers={"HX-Redirect": target})
        return redirect(target)

    app.add_exception_handler(ApiError, page_error)
    app.add_exception_handler(RequestValidationError, page_error)
    app.add_exception_handler(SignInNeeded, sign_in_needed)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PAGES_PREFIX}/", status_code=303)
