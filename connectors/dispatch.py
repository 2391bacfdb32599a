"""The one path every channel's messages take on the server:

    verify → parse → limits → conversation lock and answering slot → Bot → deliver

``Dispatcher.dispatch`` runs one neutral request through it in the mode its connector
declares (see ``Connector``): inline (the reply is the HTTP response), acknowledge first and
answer from a worker (Bolt's ``ack()`` + lazy listeners), or answer inline when the reply is
ready within ``reply_window_s`` and otherwise acknowledge and send it later: exactly one of
the two, under races too (``_Passive``).

Answering is CPU-bound, so workers run on a pool of their own: a platform's acknowledgement
never waits behind answers being generated, and at most ``server.concurrency`` answers are
made at once (the rest wait their turn, in order per conversation).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import os
import threading
import weakref
from collections.abc import Callable, Iterator

from starlette.concurrency import run_in_threadpool

from bot.engine import Bot
from bot.sessions.base import ADDRESS
from bot.types import IncomingMessage, Reply
from connectors.base import ChannelError, ChannelRequest, ChannelResponse, Connector, Inbound
from connectors.config import ServerConfig
from connectors.limits import RateLimited, RateLimiter
from knowledge.text import detect_language

log = logging.getLogger(__name__)

#: the body of a 500: what failed is in the log, never in the response
INTERNAL = {"error": {"code": "internal", "message": "the server failed; it has been logged"}}


class Dispatcher:
    """Limits, conversation locks, answering slots and workers, shared by every channel."""

    def __init__(self, bot: Bot, server: ServerConfig) -> None:
        self.bot = bot
        self.server = server
        limits = server.rate_limit
        self.per_session = RateLimiter(limits.per_session, limits.window_s)
        self.per_ip = RateLimiter(limits.per_ip, limits.window_s)
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._locks_guard = threading.Lock()
        # answering is CPU-bound: more at once only thrashes the cores and the GIL
        slots = server.concurrency or 2 * (os.cpu_count() or 1)
        self.slots = threading.BoundedSemaphore(slots)
        self._slot_count = slots
        # answers being made or waiting for a slot (``answering``): when every slot is
        # taken, a new answer cannot be ready within a platform's reply window
        self._answering = 0
        self._answering_guard = threading.Lock()
        # workers wait for a conversation's lock before a slot: more workers than slots, so
        # that one busy conversation cannot hold every worker while slots sit idle
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(4, 2 * slots), thread_name_prefix="shopbot-answer"
        )
        self._pending: set[concurrent.futures.Future[None]] = set()
        self._pending_guard = threading.Lock()

    # ------------------------------------------------------------------ building blocks
    def lock(self, session_id: str) -> threading.Lock:
        """The lock that keeps one conversation's messages in order."""
        with self._locks_guard:
            lock = self._locks.get(session_id)
            if lock is None:
                lock = threading.Lock()
                self._locks[session_id] = lock
            return lock

    def limit(self, message: IncomingMessage, sender: str) -> None:
        """Count the message against both budgets, or against neither (RateLimited)."""
        checks = (
            (self.per_ip, sender, "from your address"),
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

    def reply(self, message: IncomingMessage, connector: Connector | None = None) -> Reply:
        """The bot's reply under the conversation's lock and an answering slot; the
        conversation's outbound address is stored with it (``Session.meta[ADDRESS]``)."""
        with self.lock(message.session_id):
            with self.answering():
                reply = self.bot.reply(message)
            if connector is not None:
                self._remember(connector, message)
            return reply

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """An answering slot, counted while it is waited for and held (``saturated``)."""
        with self._answering_guard:
            self._answering += 1
        try:
            with self.slots:
                yield
        finally:
            with self._answering_guard:
                self._answering -= 1

    def saturated(self) -> bool:
        """Every answering slot is taken (or waited for): a new answer starts only after
        one of them is done."""
        return self._answering >= self._slot_count

    def _remember(self, connector: Connector, message: IncomingMessage) -> None:
        """Store where the customer is reached, when it is new: it survives restarts, and
        a human agent's message finds the customer there (``Connector.relay``)."""
        address = connector.address(message)
        if not address:
            return
        session = self.bot.sessions.get(message.session_id, last=0)
        if session is not None and session.meta.get(ADDRESS) != address:
            session.meta[ADDRESS] = address
            self.bot.sessions.save_state(session)

    def receive(self, connector: Connector, request: ChannelRequest) -> Inbound:
        """verify → parse (ChannelError when refused)."""
        connector.verify(request)
        return connector.parse(request)

    # ------------------------------------------------------------------ the path
    async def dispatch(self, connector: Connector, request: ChannelRequest) -> ChannelResponse:
        """One request of ``connector``'s platform, answered in the connector's mode.

        Refusals are their 4xx; a message the bot refuses (too long) a 422 inline, a text
        out of band; any other failure is logged and answered with a generic 500 inline, the
        acknowledgement and a fallback text out of band. No trace reaches anyone."""
        try:
            inbound = await run_in_threadpool(self.receive, connector, request)
        except ChannelError as exc:
            return exc.response()
        except Exception:
            log.exception("%s request could not be read", connector.name)
            return ChannelResponse.json(INTERNAL, status=500)
        if inbound.response is not None:
            return inbound.response
        messages = inbound.messages
        if not connector.answers_later:
            return await asyncio.to_thread(self.inline, connector, messages, request.client)
        window = connector.reply_window_s
        # with every slot busy the answer would queue behind others and miss the window:
        # acknowledge at once rather than keep the platform waiting for the window's end
        passive = _Passive() if window and len(messages) == 1 and not self.saturated() else None
        self.later(connector, messages, request.client, passive=passive)
        if passive is None:
            return connector.acknowledge(messages)
        return await self._within(connector, messages[0], passive, float(window or 0))

    def inline(
        self, connector: Connector, messages: list[IncomingMessage], client: str | None
    ) -> ChannelResponse:
        """limits → lock and slot → bot for each message → ``connector.deliver``."""
        replies: list[tuple[IncomingMessage, Reply]] = []
        try:
            for message in messages:
                self.limit(message, connector.sender(message, client))
                replies.append((message, self.reply(message, connector)))
        except ChannelError as exc:
            return exc.response()
        except RateLimited as exc:
            return rate_limited(exc)
        except ValueError as exc:  # the bot refused the message (empty, too long)
            return ChannelError(422, "bad_message", str(exc)).response()
        except Exception:
            log.exception("%s reply failed", connector.name)
            return ChannelResponse.json(INTERNAL, status=500)
        return connector.deliver(replies)

    def later(
        self,
        connector: Connector,
        messages: list[IncomingMessage],
        client: str | None,
        *,
        passive: _Passive | None = None,
    ) -> concurrent.futures.Future[None]:
        """Answer ``messages`` on a worker and deliver them with ``connector.send`` (the
        first one inline instead when ``passive`` takes it)."""

        def work() -> None:
            for n, message in enumerate(messages):
                self._answer_one(connector, message, client, passive if n == 0 else None)

        return self._submit(work)

    async def _within(
        self, connector: Connector, message: IncomingMessage, passive: _Passive, window: float
    ) -> ChannelResponse:
        """The reply rendered inline if the worker has it within ``window`` seconds, else
        the acknowledgement (and the worker sends it when it is done)."""
        try:
            await asyncio.wait_for(passive.ready(), timeout=window)
        except TimeoutError:
            pass
        except asyncio.CancelledError:  # the platform hung up: the answer goes out of band
            ready = passive.take()
            if ready is not None:
                self._submit(lambda: self._deliver(connector, message, ready, None))
            raise
        reply = passive.take()
        if reply is None:
            return connector.acknowledge([message])
        try:
            return connector.render(reply, message)
        except Exception:
            log.exception("%s reply could not be rendered (session %s)", connector.name, reply)
            return connector.acknowledge([message])

    # ------------------------------------------------------------------ the worker
    def _answer_one(
        self,
        connector: Connector,
        message: IncomingMessage,
        client: str | None,
        passive: _Passive | None,
    ) -> None:
        try:
            if message.meta.get("agent"):  # a person of the support team: not for the bot
                self._agent(connector, message)
                return
            try:
                self.limit(message, connector.sender(message, client))
            except RateLimited as exc:
                log.warning(
                    "%s message not answered (session %s): %s",
                    message.channel,
                    message.session_id,
                    exc,
                )
                self._fallback(connector, message, self._slow_down(message, exc), passive)
                return
            try:
                reply = self.reply(message, connector)
            except ValueError as exc:  # the bot refused the message (too long): say why
                self._fallback(connector, message, str(exc), passive)
                return
            except Exception:  # the platform has had its ack: the customer gets a fallback
                log.exception("%s reply failed (session %s)", message.channel, message.session_id)
                self._fallback(connector, message, None, passive)
                return
            self._deliver(connector, message, reply, passive)
        finally:
            if passive is not None:
                passive.offer(None)  # (no-op when it was offered already)

    def _slow_down(self, message: IncomingMessage, exc: RateLimited) -> str:
        """What a rate-limited customer is told on a platform, in their language (the
        channel's when the message shows none: Chinese on WeChat)."""
        messages = getattr(self.bot, "messages", None)
        if messages is None:
            return str(exc)
        hint = message.meta.get("language")
        language = detect_language(message.text, default=hint if hint in ("en", "zh") else "en")
        return messages.get("rate_limited", language, seconds=f"{math.ceil(exc.retry_after)}")

    def _agent(self, connector: Connector, message: IncomingMessage) -> None:
        try:
            connector.agent(message, self.bot, self.lock)
        except Exception:
            log.exception("%s agent message failed", message.channel)

    def _deliver(
        self,
        connector: Connector,
        message: IncomingMessage,
        reply: Reply,
        passive: _Passive | None,
    ) -> None:
        if passive is not None and not reply.meta.get("repeated"):
            if not connector.fits_inline(reply):
                passive.offer(None)  # acknowledged now; sent from here, in order, below
            elif passive.offer(reply):
                return  # the HTTP response carries it
        try:
            with self.lock(message.session_id):  # posts in order; handover state kept whole
                connector.send(message, reply, self.bot)
        except Exception:
            log.exception("%s delivery failed (session %s)", message.channel, message.session_id)

    def _fallback(
        self,
        connector: Connector,
        message: IncomingMessage,
        text: str | None,
        passive: _Passive | None,
    ) -> None:
        if passive is not None:
            reply = Reply(text or connector.fallback_text, "dont_know", 0.0, message.session_id)
            if passive.offer(reply):
                return
        try:
            connector.fallback(message, text)
        except Exception:
            log.exception("%s fallback failed (session %s)", message.channel, message.session_id)

    # ------------------------------------------------------------------ workers
    def _submit(self, work: Callable[[], None]) -> concurrent.futures.Future[None]:
        future = self._pool.submit(work)
        with self._pending_guard:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: concurrent.futures.Future[None]) -> None:
        with self._pending_guard:
            self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("answer worker failed", exc_info=future.exception())

    def drain(self, timeout: float | None = None) -> bool:
        """Wait for the answers being made; False if some are still running at ``timeout``."""
        with self._pending_guard:
            pending = list(self._pending)
        _, running = concurrent.futures.wait(pending, timeout=timeout)
        return not running

    def close(self) -> None:
        """Finish the answers being made (their platforms were acknowledged); drop those not
        started (a stopping server would be killed before it made them all)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class _Passive:
    """The first answer of a request with a reply window, which goes out exactly once:
    in the HTTP response (the worker ``offer``s it in time and the response ``take``s it),
    or out of band (the response gave up first; the worker's ``offer`` says so)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._state = "waiting"  # → offered (→ taken) | later | done
        self._reply: Reply | None = None
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def offer(self, reply: Reply | None) -> bool:
        """From the worker: True if the HTTP response will carry ``reply``; None means
        there is nothing for it (an agent's message, an answer sent before)."""
        with self._guard:
            if self._state != "waiting":
                return False
            self._state, self._reply = ("offered", reply) if reply is not None else ("done", None)
        with contextlib.suppress(RuntimeError):  # (the loop has stopped: nobody waits)
            self._loop.call_soon_threadsafe(self._event.set)
        return reply is not None

    async def ready(self) -> None:
        await self._event.wait()

    def take(self) -> Reply | None:
        """From the HTTP response: the reply to render, or None (acknowledge instead; a
        reply offered later goes out of band)."""
        with self._guard:
            if self._state == "offered":
                self._state = "taken"
                return self._reply
            if self._state == "waiting":
                self._state = "later"
            return None


def rate_limited(exc: RateLimited) -> ChannelResponse:
    """The 429 of a rate limit, with the seconds to wait in Retry-After."""
    body = {"error": {"code": "rate_limited", "message": str(exc)}}
    response = ChannelResponse.json(body, status=429)
    response.headers["retry-after"] = str(max(1, round(exc.retry_after)))
    return response
