"""How the HTTP server fails: every error is ``{"error": {"code", "message"}}``, a 4xx that
says what to fix, or a generic 500 whose trace goes to the log and never to the client.

``CatchAll`` answers an unexpected exception inside the middleware stack, so the 500 passes
through CORS like any other response and the connection stays usable; Starlette's own
last-resort handler sits outside CORS and re-raises, and uvicorn then drops the connection
without ``Connection: close``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.base import ChannelError
from connectors.limits import RateLimited, json_response

log = logging.getLogger(__name__)

INTERNAL = {"error": {"code": "internal", "message": "the server failed; it has been logged"}}


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable name, e.g. unknown_session")
    message: str = Field(description="what is wrong and how to fix it")


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


_MEANINGS = {
    400: "the body is not JSON the API can read (bad_json, too_deep, bad_number, empty_body)",
    401: "the Authorization header is missing or wrong",
    403: "this endpoint is switched off in the configuration",
    404: "no such conversation or endpoint",
    405: "method not allowed; the Allow header lists the methods that are",
    413: "the message or the request body is too long",
    415: "the body is not JSON",
    422: "the body is JSON but not a valid request (the message says which field)",
    429: "too many messages; retry after the Retry-After header's seconds",
    500: "the server failed; the trace is in its log",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route can answer with."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in (*statuses, 500):
        entry: dict[str, Any] = {"model": ErrorBody, "description": _MEANINGS[status]}
        if status == 429:
            entry["headers"] = {
                "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
            }
        if status == 405:
            entry["headers"] = {"Allow": {"description": "allowed methods", "schema": {}}}
        documented[status] = entry
    return documented


def install_error_handlers(app: FastAPI) -> None:
    """The JSON error bodies of refusals, rate limits, invalid requests and HTTP errors."""

    @app.exception_handler(ChannelError)
    async def channel_error(request: Request, exc: ChannelError) -> JSONResponse:
        return json_response(exc.status, exc.payload())

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
        body = {"error": {"code": "rate_limited", "message": str(exc)}}
        return json_response(429, body, {"retry-after": str(max(1, round(exc.retry_after)))})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body') or 'body'}: {err['msg']}"
            for err in exc.errors()
        )
        return json_response(422, {"error": {"code": "invalid_request", "message": problems}})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = (
                f"{request.url.path} does not take {request.method}: use {allowed} (see /docs)"
            )
        else:
            message = str(exc.detail)
        body = {"error": {"code": code, "message": message}}
        return json_response(exc.status_code, body, dict(exc.headers or {}))


class CatchAll:
    """ASGI middleware: an exception that reaches it becomes the generic JSON 500 (the trace
    logged here), inside CORS, with the connection left usable. An exception after the
    response has started cannot become a response: the connection is closed, as it must be
    for a response cut short."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await json_response(500, INTERNAL)(scope, receive, send)
