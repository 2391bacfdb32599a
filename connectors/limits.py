"""Request limits of the HTTP server: messages per conversation and per address in a
sliding window, and the body size, checked before the body is read."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.base import ChannelError


class RateLimiter:
    """Sliding-window message counts per key (session token, client IP); thread-safe.

    Memory stays bounded: keys idle for a whole window are dropped on the next sweep.
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = time.monotonic()

    def check(self, key: str, *, count: bool = True) -> float | None:
        """None if one more event for ``key`` is allowed (counted unless ``count`` is
        False), else the seconds until it would be. Refused events are not counted."""
        if self.limit <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            if now - self._last_sweep > self.window_s:
                self._sweep(now)
            events = self._events.setdefault(key, deque())
            while events and now - events[0] >= self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                return max(0.0, self.window_s - (now - events[0]))
            if count:
                events.append(now)
            return None

    def _sweep(self, now: float) -> None:
        stale = [k for k, v in self._events.items() if not v or now - v[-1] >= self.window_s]
        for key in stale:
            del self._events[key]
        self._last_sweep = now


class BodyLimit:
    """ASGI middleware: refuse request bodies above ``max_bytes`` with a 413, before reading
    them whole (checks Content-Length, then counts the bytes actually received)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(scope, receive, send, self.max_bytes)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge:
            await _too_large(scope, receive, send, self.max_bytes)


class _BodyTooLarge(Exception):
    pass


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    error = ChannelError(
        413,
        "body_too_large",
        f"the request body is larger than {limit} bytes (server.max_body_bytes): "
        "send a shorter message",
    )
    await json_response(error.status, error.payload())(scope, receive, send)


class RateLimited(Exception):
    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)
