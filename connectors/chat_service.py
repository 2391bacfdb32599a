"""The chat service behind the HTTP API: limits, conversation locks, answering slots and
streaming, independent of the web framework's routes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import weakref
from collections.abc import AsyncIterator
from typing import Any

from bot.engine import Bot
from bot.sessions import Session
from bot.sessions.base import ANSWER, INTERRUPTED, PENDING
from bot.types import IncomingMessage, Reply
from connectors.base import ChannelError
from connectors.config import ServerConfig, ShopbotConfig
from connectors.limits import RateLimited, RateLimiter
from connectors.web import WebConnector, new_session_token, reply_payload

log = logging.getLogger(__name__)


class ChatService:
    """Everything the HTTP layer needs, free of HTTP: sessions, limits, the bot."""

    def __init__(self, bot: Bot, config: ShopbotConfig, web: WebConnector) -> None:
        self.bot = bot
        self.config = config
        self.server: ServerConfig = config.server
        self.web = web
        limits = self.server.rate_limit
        self.per_session = RateLimiter(limits.per_session, limits.window_s)
        self.per_ip = RateLimiter(limits.per_ip, limits.window_s)
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._locks_guard = threading.Lock()
        # answering is CPU-bound: more at once only thrashes the cores and the GIL
        slots = self.server.concurrency or 2 * (os.cpu_count() or 1)
        self.slots = threading.BoundedSemaphore(slots)
        self._workers: set[asyncio.Future[None]] = set()

    def lock(self, session_id: str) -> threading.Lock:
        """The lock that keeps one conversation's messages in order."""
        with self._locks_guard:
            lock = self._locks.get(session_id)
            if lock is None:
                lock = threading.Lock()
                self._locks[session_id] = lock
            return lock

    def limit(self, message: IncomingMessage, client: str) -> None:
        """Count the message against both budgets, or against neither (RateLimited)."""
        checks = (
            (self.per_ip, client, "from your address"),
            (self.per_session, message.session_id, "in this conversation"),
        )
        for limiter, key, what in checks:
            wait = limiter.check(key, count=False)
            if wait is not None:
                raise RateLimited(
                    f"too many messages {what}: at most {limiter.limit} per "
                    f"{limiter.window_s:g} s. Try again in {wait:.0f} s",
                    retry_after=wait,
                )
        for limiter, key, _ in checks:  # (a race may let one extra message through)
            limiter.check(key)

    def require(self, session_id: str) -> None:
        """ChannelError 404 unless the conversation exists on this channel (reads no turns)."""
        self._web_session(session_id, last=0)

    def session(self, session_id: str) -> Session:
        """The conversation with all its turns; ChannelError 404 when there is none."""
        return self._web_session(session_id)

    def _web_session(self, session_id: str, *, last: int | None = None) -> Session:
        """A conversation of the web channel: those of other channels (the CLI's ``cli``,
        a replayed transcript's) share the data folder but are not the web's to show."""
        try:
            found = self.bot.sessions.get(session_id, last=last)
        except ValueError:  # not even a valid id
            found = None
        if found is None or found.channel != self.web.name:
            raise unknown_session()
        return found

    def prepare(self, body: Any, client: str) -> IncomingMessage:
        """Validate a chat body and apply the limits; ChannelError/RateLimited otherwise."""
        message = self.web.message(body, client=client)
        if isinstance(body, dict) and body.get("session_id") is not None:
            self.require(message.session_id)  # 404 for tokens the server never gave out
        self.limit(message, client)
        return message

    def create_session(self, user_id: str = "anonymous") -> Session:
        user_id = self.bot.redactor.pseudonym(user_id)  # a user id that is an e-mail address
        session = self.bot.sessions.load(
            new_session_token(), channel=self.web.name, user_id=user_id
        )
        self.bot.sessions.save_state(session)
        return session

    def reply(self, message: IncomingMessage) -> Reply:
        with self.lock(message.session_id), self.slots:
            return self.bot.reply(message)

    async def stream(self, message: IncomingMessage) -> AsyncIterator[str]:
        """Server-Sent Events for one message; errors after the start become an event.

        The bot runs to the end in a worker thread of its own, which alone holds the
        conversation's lock and an answering slot: a customer who closes the tab mid-answer
        frees both as soon as the answer is finished, and the answer is still stored (the
        widget finds it in the history after a reload).
        """
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[object] = asyncio.Queue()

        def put(item: object) -> None:
            # (RuntimeError: the server is shutting down and nobody is listening)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(events.put_nowait, item)

        def work() -> None:
            try:
                with self.lock(message.session_id), self.slots:
                    for event in self.bot.stream(message):
                        put(event)
            except Exception:  # the stream has started: the client gets an event, we the trace
                log.exception("streaming reply failed (session %s)", message.session_id)
                put(_FAILED)
            finally:
                put(_END)

        worker = asyncio.ensure_future(asyncio.to_thread(work))
        self._workers.add(worker)  # keep a reference until it is done, listened to or not
        worker.add_done_callback(self._workers.discard)
        yield _sse("session", {"session_id": message.session_id})
        while (event := await events.get()) is not _END:
            if event is _FAILED:
                message_text = "the bot could not answer; please try again"
                yield _sse("error", {"code": "internal", "message": message_text})
            elif isinstance(event, Reply):
                yield _sse("reply", {"session_id": event.session_id, **reply_payload(event)})
            elif event:
                yield _sse("delta", {"text": event})
        yield _sse("done", {})


def unknown_session() -> ChannelError:
    return ChannelError(
        404,
        "unknown_session",
        "this conversation does not exist (it may have expired): start a new one by sending "
        "the message without session_id, or POST /api/sessions",
    )


_END = object()
_FAILED = object()


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def history(session: Session) -> dict[str, Any]:
    """A conversation as the widget renders it after a reload."""
    return {
        "session_id": session.id,
        "state": session.state,
        "handoff": session.state == "handoff",
        "language": session.language,
        "messages": [
            {
                "role": turn.role,
                "text": turn.text,
                "created_at": turn.created_at,
                "action": turn.action,
                "citations": turn.citations,
                "products": turn.meta.get("products", []),
                "options": turn.meta.get("options", []),
                "unattended": bool(turn.meta.get("unattended")),  # a handoff nobody took
                # a customer's message being answered, or whose answer was cut off (the
                # server stopped): sending it again with its message_id completes it
                "pending": turn.meta.get(ANSWER) == PENDING,
                "interrupted": turn.meta.get(ANSWER) == INTERRUPTED,
            }
            for turn in session.turns
            if turn.role != "system"
        ],
    }
