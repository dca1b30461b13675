"""The API's interactive docs, served with the hub's own copies of Swagger UI and ReDoc."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse

from hub.web.assets import FAVICON, REDOC_JS, SWAGGER_CSS, SWAGGER_INIT_JS, SWAGGER_JS, static_url

router = APIRouter(include_in_schema=False)

#: FastAPI's Swagger page starts the UI with an inline script, which the CSP refuses: this page
#: loads the same bundle and a small file of our own that starts it (static/swagger-init.js).
SWAGGER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Remedy hub: API</title>
<link rel="icon" href="{icon}"><link rel="stylesheet" href="{css}"></head>
<body><div id="swagger-ui" data-openapi-url="/openapi.json"></div>
<script src="{js}"></script><script src="{init}"></script></body></html>
"""


@router.get("/docs")
def swagger() -> HTMLResponse:
    return HTMLResponse(
        SWAGGER_PAGE.format(
            css=static_url(SWAGGER_CSS),
            js=static_url(SWAGGER_JS),
            init=static_url(SWAGGER_INIT_JS),
            icon=static_url(FAVICON),
        )
    )


@router.get("/redoc")
def redoc() -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="Remedy hub: API",
        redoc_js_url=static_url(REDOC_JS),
        redoc_favicon_url=static_url(FAVICON),
        with_google_fonts=False,
    )
