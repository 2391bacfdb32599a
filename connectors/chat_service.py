"""The chat service behind the HTTP API: the dispatcher of every channel (limits,
conversation locks, answering slots, workers: ``connectors.dispatch``) plus what only the
web channel has (its sessions, streaming, history), independent of the web framework."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Collection
from typing import Any

from bot.engine import Bot
from bot.sessions import Session
from bot.sessions.base import ANSWER, INTERRUPTED, PENDING
from bot.types import IncomingMessage, Reply
from connectors.base import ChannelRequest, Connector
from connectors.config import ShopbotConfig
from connectors.dispatch import Dispatcher
from connectors.web import WebConnector, new_session_token, reply_payload, unknown_session

log = logging.getLogger(__name__)

__all__ = ["ChatService", "history", "unknown_session"]


class ChatService(Dispatcher):
    """Everything the HTTP layer needs, free of HTTP: the dispatcher, sessions, the bot.

    ``channels`` are the names of the channels this server serves: the agent routes reach
    their conversations (and only theirs: the CLI's or a replayed transcript's share the
    data folder but are not this server's)."""

    def __init__(
        self,
        bot: Bot,
        config: ShopbotConfig,
        web: WebConnector,
        *,
        channels: Collection[Connector] = (),
    ) -> None:
        super().__init__(bot, config.server)
        self.config = config
        self.web = web
        web.sessions = bot.sessions  # a session_id the server never issued is a 404
        self.channels: dict[str, Connector] = {c.name: c for c in channels}
        self.channels[web.name] = web
        self._workers: set[asyncio.Future[None]] = set()

    def require(self, session_id: str) -> None:
        """ChannelError 404 unless the conversation exists on the web channel (no turns read)."""
        self.web.require(session_id)

    def session(self, session_id: str) -> Session:
        """A web conversation with all its turns; ChannelError 404 when there is none."""
        return self._session(session_id, {self.web.name})

    def conversation(self, session_id: str) -> Session:
        """A conversation of any channel this server serves (the agent routes): 404 for
        another's, or none."""
        return self._session(session_id, self.channels)

    def _session(self, session_id: str, channels: Collection[str]) -> Session:
        try:
            found = self.bot.sessions.get(session_id)
        except ValueError:  # not even a valid id
            found = None
        if found is None or found.channel not in channels:
            raise unknown_session()
        return found

    def prepare(self, request: ChannelRequest) -> IncomingMessage:
        """A web request's message, session-checked and counted against the limits
        (ChannelError/RateLimited otherwise): the start of the dispatcher's path, for the
        stream that the dispatcher does not make."""
        (message,) = self.receive(self.web, request).messages
        self.limit(message, self.web.sender(message, request.client))
        return message

    def create_session(self, user_id: str = "anonymous") -> Session:
        user_id = self.bot.redactor.pseudonym(user_id)  # a user id that is an e-mail address
        session = self.bot.sessions.load(
            new_session_token(), channel=self.web.name, user_id=user_id
        )
        self.bot.sessions.save_state(session)
        return session

    def relay(self, session: Session, text: str) -> bool:
        """A human agent's message to the customer on the conversation's own channel; False
        when only its history carries it (the widget polls it)."""
        connector = self.channels.get(session.channel)
        return connector is not None and connector.relay(session, text)

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
                with self.lock(message.session_id), self.answering():
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
