"""Every 4xx answer is `{"error": what is wrong, "fix": how to fix it}` (plus `field` when one is)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("remedy.hub")


class Problem(BaseModel):
    field: str
    problem: str


class ErrorBody(BaseModel):
    error: str
    fix: str
    field: str | None = None
    problems: list[Problem] | None = None  # every validation error, when there were several
    limit: int | None = None  # 413: the limit the request went over


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        fix: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.fix = fix
        self.field = field
        self.headers = headers

    def response(self) -> JSONResponse:
        body = ErrorBody(error=self.error, fix=self.fix, field=self.field)
        return JSONResponse(
            body.model_dump(exclude_none=True), status_code=self.status, headers=self.headers
        )


def not_found(kind: str, ident: object, listing: str) -> ApiError:
    return ApiError(
        404, f"no {kind} {str(ident)[:200]!r}", f"check the id; `GET {listing}` lists them"
    )


def invalid(field: str, problem: str, fix: str) -> ApiError:
    return ApiError(422, f"{field}: {problem}", fix, field=field)


def check_storable(value: object, field: str) -> None:
    """Refuse NUL characters and non-finite numbers anywhere in a JSON value (422 names where)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise invalid(field, "contains a NUL character", "remove the NUL (\\u0000) character")
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise invalid(field, "is not a finite number", "use a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key, field)
            check_storable(item, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_storable(item, f"{field}.{index}")


#: What to do about FastAPI's own validation errors, by pydantic error type.
_FIXES = {
    "missing": "add the field",
    "json_invalid": "send a valid JSON document with Content-Type: application/json",
    "extra_forbidden": "remove the field: it is not part of this request",
    "string_too_long": "shorten the value",
    "string_too_short": "give a non-empty value",
    "string_pattern_mismatch": "use a value of the documented form",
    "literal_error": "use one of the allowed values",
    "enum": "use one of the allowed values",
}


def _at_body(error: Any) -> bool:
    """A body was sent and read as something else than JSON (a missing body is another error)."""
    if not isinstance(error, dict):
        return False
    location: Sequence[Any] = error.get("loc") or ("",)
    return location[0] == "body" and error.get("type") != "missing"


def _field(location: Sequence[Any]) -> str:
    return ".".join(str(part) for part in location) or "body"


def _is_json(content_type: str) -> bool:
    kind = content_type.lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip()
    if not _is_json(content_type) and any(_at_body(e) for e in errors):
        # FastAPI reads a body not declared JSON as no object at all; its message ("body:
        # Input should be a valid dictionary") would send the sender looking at fields
        sent = f"is {content_type[:100]}" if content_type else "has no Content-Type"
        return JSONResponse(
            {
                "error": f"the body {sent}; this endpoint reads JSON",
                "fix": "send JSON: Content-Type: application/json",
                "field": "body",
            },
            status_code=415,
        )
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request", "type": ""}
    field = _field(first.get("loc", ()))
    fix = _FIXES.get(str(first.get("type")), "correct the value; /docs shows the expected shape")
    body = {
        "error": f"{field}: {first.get('msg', 'invalid')}",
        "fix": fix + (" (and see `problems` for the rest)" if len(errors) > 1 else ""),
        "field": field,
        # what was wrong, never the values sent (they might be someone's secret)
        "problems": [
            {"field": _field(e.get("loc", ())), "problem": str(e.get("msg", ""))[:300]}
            for e in errors[:20]
        ],
    }
    return JSONResponse(body, status_code=422)


_HTTP_FIXES = {
    404: "check the path; /docs lists every endpoint",
    405: "use one of the methods /docs lists for this path",
}


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    fix = _HTTP_FIXES.get(status, "see /docs for this endpoint")
    error = str(exc.detail) if exc.detail else "request refused"
    return JSONResponse(
        {"error": error, "fix": fix}, status_code=status, headers=getattr(exc, "headers", None)
    )


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return exc.response()


async def _data_error(request: Request, exc: DataError) -> JSONResponse:
    # a value the database cannot hold (e.g. a NUL character, a number out of range)
    return JSONResponse(
        {
            "error": "a value in the request cannot be stored: "
            + str(getattr(exc.orig, "args", [""])[0])[:200],
            "fix": "remove control characters and keep numbers within their documented ranges",
        },
        status_code=422,
    )


async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
    return JSONResponse(
        {
            "error": "the request conflicts with what is stored (a duplicate or a missing reference)",
            "fix": "use another name, or check that what it refers to exists",
        },
        status_code=409,
    )


async def _too_deep(request: Request, exc: RecursionError) -> JSONResponse:
    # a safety net: hub/limits.py refuses deep JSON before it is parsed
    return JSONResponse(
        {"error": "body: nested too deeply to process", "fix": "flatten the document"},
        status_code=422,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(
        {"error": "internal error", "fix": "retry; if it persists, report it with the hub's log"},
        status_code=500,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _data_error)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _integrity_error)  # type: ignore[arg-type]
    app.add_exception_handler(RecursionError, _too_deep)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


#: OpenAPI: the error shape on every operation's 4xx answers
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        401: "no valid token",
        403: "the role may not do this",
        404: "not found",
        409: "conflict",
        413: "the body (or a line of it) is over its limit, which the error names",
        415: "the body is not JSON: send Content-Type: application/json",
        422: "invalid request: `field` names what is wrong",
        429: "too many failed authentications from this address: see Retry-After",
    }.items()
}
