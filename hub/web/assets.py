"""The static files the pages and the API docs load (vendored copies: static/vendor/VENDORED.md)."""

from __future__ import annotations

STATIC_PREFIX = "/ui/static"

HTMX_JS = "vendor/htmx-2.0.11.min.js"
SWAGGER_JS = "vendor/swagger-ui-bundle-5.35.0.js"
SWAGGER_CSS = "vendor/swagger-ui-5.35.0.css"
REDOC_JS = "vendor/redoc-2.5.4.standalone.js"
FAVICON = "vendor/favicon-32x32.png"
SWAGGER_INIT_JS = "swagger-init.js"
APP_CSS = "app.css"


def static_url(name: str) -> str:
    return f"{STATIC_PREFIX}/{name}"
