"""CSRF: every form carries its session's token, checked on every POST before anything else.

The session cookie is SameSite=Strict already; the token also refuses a request forged from a
page that shares the site (another port of the same host), and a form replayed after sign-out.
"""

from __future__ import annotations

import hmac

from fastapi import Request
from starlette.datastructures import FormData

from hub.errors import ApiError
from hub.web.sessions import SignedIn

FIELD = "csrf_token"


async def checked_form(request: Request, user: SignedIn) -> FormData:
    """The POSTed form, once its CSRF token is the session's (403 otherwise)."""
    form = await request.form()
    sent = form.get(FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), user.csrf.encode()):
        raise ApiError(
            403,
            "the form's CSRF token is missing or is not this session's",
            "reload the page and send the form again",
        )
    return form
