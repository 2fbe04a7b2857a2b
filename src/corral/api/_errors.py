"""Errors as the spec's bodies: ``{"message": ...}`` (plus ``configurationValidationErrors`` for a bad
config), with the status of the error's kind. No traceback ever reaches a client."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from corral.errors import (
    BadRequestError,
    ConfigError,
    ConflictError,
    CorralError,
    LimitExceededError,
    NotFoundError,
    UpdateRefusedError,
)

log = logging.getLogger("corral.api")

#: error kind -> HTTP status (the first match wins: ConfigError before BadRequestError)
STATUS: tuple[tuple[type[CorralError], int], ...] = (
    (ConfigError, 400),
    (BadRequestError, 400),
    (NotFoundError, 404),
    (ConflictError, 409),
    (LimitExceededError, 429),
)


def error_status(exc: CorralError) -> int:
    """400/404/409/429 for what the client can fix; 500 for what this server could not do (a
    provider failure, a machine lacking a prerequisite)."""
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def error_body(exc: CorralError) -> dict[str, Any]:
    if isinstance(exc, ConfigError):
        from corral.service import config_errors_json

        body: dict[str, Any] = config_errors_json(exc.message, exc.findings)
        if "configurationValidationErrors" in body:
            body["configurationValidationErrors"] = located(exc.findings)
        return body
    if isinstance(exc, UpdateRefusedError):  # UpdateClusterBadRequestExceptionResponseContent
        refused: dict[str, Any] = {"message": exc.message, "changeSet": list(exc.change_set)}
        if exc.update_errors:
            refused["updateValidationErrors"] = list(exc.update_errors)
        return refused
    # the spec's error bodies have one field: the hint (the fix) goes into the message
    return {"message": f"{exc.message} (hint: {exc.hint})" if exc.hint else exc.message}


def located(findings: tuple[object, ...]) -> list[dict[str, Any]]:
    """pcluster's validation messages, each with Corral's ``line``/``column`` in the submitted
    config when known (the served spec declares them; the web UI's editor puts findings on lines)."""
    out: list[dict[str, Any]] = []
    for finding in findings:
        to_message = getattr(finding, "to_validation_message", None)
        if to_message is None:
            continue
        item: dict[str, Any] = dict(to_message())
        line, column = getattr(finding, "line", None), getattr(finding, "column", None)
        if line is not None:
            item["line"] = line
            if column is not None:
                item["column"] = column
        out.append(item)
    return out


def _describe_validation(exc: RequestValidationError) -> str:
    """``Bad Request: query parameter 'dryrun': expected a boolean (got 'maybe')``, one per problem."""
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        where = loc[0] if loc else "request"
        name = ".".join(loc[1:]) if len(loc) > 1 else ""
        kind = {"query": "query parameter", "path": "path parameter", "body": "body field"}.get(where, where)
        what = f"{kind} {name!r}" if name else "request body"
        got = err.get("input")
        shown = f" (got {str(got)[:80]!r})" if isinstance(got, str | int | float | bool) else ""
        parts.append(f"{what}: {err.get('msg', 'invalid')}{shown}")
    return "Bad Request: " + "; ".join(parts)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's own 405 names only the first route's)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match is not Match.NONE and route_methods:
            methods |= set(route_methods)
    methods.discard("HEAD")
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into the spec's shape."""

    @app.exception_handler(CorralError)
    async def corral_error(_request: Request, exc: CorralError) -> JSONResponse:
        return JSONResponse(error_body(exc), status_code=error_status(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"message": _describe_validation(exc)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"Not Found: no operation at {request.url.path!r} (the API lives under /v3)"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            message = (
                f"Method Not Allowed: {request.method} {request.url.path} (allowed: {', '.join(allowed)})"
            )
        return JSONResponse({"message": message}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return JSONResponse(
            {"message": f"Internal error: {type(exc).__name__} (the server's log has the details)"},
            status_code=500,
        )


__all__ = ["error_body", "error_status", "install", "located"]
