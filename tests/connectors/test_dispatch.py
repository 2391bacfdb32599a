"""The dispatcher: one path for every channel, in its three modes, with a fake slow bot
(for the races) and over real HTTP on 127.0.0.1 (methods, limits, errors)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest

from bot.generators.fake import FakeGenerator
from bot.sessions import MemorySessionStore
from bot.sessions.base import ADDRESS
from bot.types import IncomingMessage, Reply
from connectors.base import ChannelRequest, ChannelResponse, Connector, Inbound
from connectors.config import ServerConfig
from connectors.dispatch import Dispatcher, _Passive
from connectors.outbound import CollectingOutbound
from connectors.registry import register
from tests.connectors.conftest import faq_entry, make_bot, make_server_config, serving
from tests.connectors.test_server import assert_error

WINDOW = 0.3


class SlowBot:
    """Stands in for ``Bot``: answers after the delay the message asks for, or fails."""

    def __init__(self) -> None:
        self.sessions = MemorySessionStore()
        self.answered: list[str] = []
        self._guard = threading.Lock()

    def reply(self, message: IncomingMessage) -> Reply:
        delay = float(message.meta.get("delay", 0))
        if message.meta.get("fail") == "value":
            raise ValueError("the message is longer than 2000 characters")
        if message.meta.get("fail") == "crash":
            raise RuntimeError("index vanished at /srv/secret/path")
        time.sleep(delay)
        session = self.sessions.load(message.session_id, channel=message.channel, user_id="u")
        self.sessions.save_state(session)
        with self._guard:
            self.answered.append(message.session_id)
        return Reply(f"answer to {message.text}", "generate", 0.9, message.session_id)


class WindowConnector(Connector):
    """A WeChat-like platform: answers inline within the window, else acknowledges with
    ``success`` and sends the answer later; verifies its URL with a GET."""

    name = "window-test"
    methods = frozenset({"GET", "POST"})
    answers_later = True
    reply_window_s = WINDOW
    #: every instance made, so that a test can find the one the server built
    created: ClassVar[list[WindowConnector]] = []

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.outbound = CollectingOutbound()
        self.created.append(self)

    def parse(self, request: ChannelRequest) -> Inbound:
        if request.method == "GET":
            return Inbound(response=ChannelResponse.text(request.query.get("echostr", "")))
        body = request.json()
        meta = {k: body[k] for k in ("delay", "fail") if k in body}
        message = IncomingMessage(
            body["text"],
            session_id=f"win:{body['user']}",
            channel=self.name,
            user_id=body["user"],
            meta=meta,
        )
        return Inbound([message])

    def address(self, message: IncomingMessage) -> dict[str, Any] | None:
        return {"openid": message.user_id}

    def render(self, reply: Reply, message: IncomingMessage) -> ChannelResponse:
        return ChannelResponse.text(f"passive: {reply.text}")

    def acknowledge(self, messages: list[IncomingMessage]) -> ChannelResponse:
        return ChannelResponse.text("success")


class LaterConnector(WindowConnector):
    """A Slack-like platform: always acknowledged at once, answered from a worker."""

    name = "later-test"
    reply_window_s = None


class InlineConnector(WindowConnector):
    """A platform answered in the HTTP response."""

    name = "inline-test"
    answers_later = False


def request(text: str, user: str, **extra: Any) -> ChannelRequest:
    return ChannelRequest.from_json({"text": text, "user": user, **extra})


def dispatcher(bot: SlowBot, **server: Any) -> Dispatcher:
    config = ServerConfig.model_validate(
        {"concurrency": 64, "rate_limit": {"per_session": 0, "per_ip": 0}, **server}
    )
    return Dispatcher(bot, config)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- modes
def test_a_reply_within_the_window_is_the_response_and_a_slow_one_is_sent_once():
    bot, connector = SlowBot(), WindowConnector()
    service = dispatcher(bot)

    async def run() -> list[ChannelResponse]:
        return await asyncio.gather(
            service.dispatch(connector, request("fast", "u-fast")),
            service.dispatch(connector, request("slow", "u-slow", delay=WINDOW + 0.4)),
        )

    started = time.monotonic()
    fast, slow = asyncio.run(run())
    assert time.monotonic() - started < WINDOW + 0.3  # the slow one did not hold its response
    assert fast.body == b"passive: answer to fast" and slow.body == b"success"
    assert service.drain(timeout=10)
    assert connector.outbound.to("win:u-fast") == []
    assert connector.outbound.to("win:u-slow") == ["answer to slow"]
    service.close()


def test_with_every_slot_busy_a_window_channel_is_acknowledged_at_once():
    """An answer that must queue behind others cannot make the window: the platform gets
    its acknowledgement at once instead of at the window's end, and the answer follows."""
    bot, connector = SlowBot(), WindowConnector()
    service = dispatcher(bot, concurrency=2)

    async def run() -> tuple[ChannelResponse, float]:
        busy = [
            service.dispatch(connector, request("busy", f"u-busy{n}", delay=WINDOW * 3))
            for n in range(2)
        ]
        first = [asyncio.ensure_future(b) for b in busy]
        await asyncio.sleep(0.05)  # the two slots are taken
        assert service.saturated()
        started = time.monotonic()
        queued = await service.dispatch(connector, request("queued", "u-queued"))
        took = time.monotonic() - started
        await asyncio.gather(*first)
        return queued, took

    queued, took = asyncio.run(run())
    assert queued.body == b"success" and took < WINDOW / 2
    assert service.drain(timeout=10)
    assert connector.outbound.to("win:u-queued") == ["answer to queued"]
    assert not service.saturated()
    service.close()


def test_a_reply_too_long_for_the_response_is_acknowledged_at_once_and_sent():
    class OneLine(WindowConnector):
        name = "one-line-test"

        def fits_inline(self, reply: Reply) -> bool:
            return "\n" not in reply.text

    bot, connector = SlowBot(), OneLine()
    service = dispatcher(bot)
    original = bot.reply
    bot.reply = lambda m: Reply(original(m).text + "\nmore", "generate", 0.9, m.session_id)

    async def run() -> tuple[ChannelResponse, float]:
        started = time.monotonic()
        response = await service.dispatch(connector, request("long", "u-long"))
        return response, time.monotonic() - started

    response, took = asyncio.run(run())
    assert response.body == b"success" and took < WINDOW / 2
    assert service.drain(timeout=10)
    assert connector.outbound.to("win:u-long") == ["answer to long\nmore"]
    service.close()


def test_exactly_one_delivery_at_the_edge_of_the_window():
    """Answers finishing around the moment the window closes: each goes out exactly once,
    inline or through the outbound path, never both, never neither."""
    bot, connector = SlowBot(), WindowConnector()
    service = dispatcher(bot)
    delays = {f"u{n}": WINDOW + (n % 11 - 5) * 0.01 for n in range(44)}  # ±50 ms of the edge
    delays |= {"early": 0.0, "late": WINDOW + 0.5}

    async def run() -> dict[str, ChannelResponse]:
        users = list(delays)
        answers = await asyncio.gather(
            *(service.dispatch(connector, request(u, u, delay=delays[u])) for u in users)
        )
        return dict(zip(users, answers, strict=True))

    responses = asyncio.run(run())
    assert service.drain(timeout=20)
    for user, response in responses.items():
        inline = response.body != b"success"
        sent = connector.outbound.to(f"win:{user}")
        if inline:
            assert response.body == f"passive: answer to {user}".encode() and sent == [], user
        else:
            assert sent == [f"answer to {user}"], (user, sent)
    assert responses["early"].body != b"success" and responses["late"].body == b"success"
    assert sorted(bot.answered) == sorted(f"win:{u}" for u in delays)  # each answered once
    service.close()


def test_the_passive_handover_is_exactly_once_under_a_race():
    async def race() -> None:
        for _ in range(300):
            passive = _Passive()
            reply = Reply("r", "generate", 1.0, "s")
            start = threading.Barrier(2)
            offered: list[bool] = []

            def worker(
                p: _Passive = passive,
                go: threading.Barrier = start,
                out: list[bool] = offered,
                r: Reply = reply,
            ) -> None:
                go.wait()
                out.append(p.offer(r))

            thread = threading.Thread(target=worker)
            thread.start()
            start.wait()
            taken = passive.take()
            thread.join()
            assert offered[0] == (taken is not None)  # inline xor out of band

    asyncio.run(race())


def test_a_rate_limited_platform_customer_is_told_in_their_language():
    from bot.messages import Messages

    bot, connector = SlowBot(), LaterConnector()
    bot.messages = Messages()  # type: ignore[attr-defined]
    service = dispatcher(bot, rate_limit={"per_session": 1, "per_ip": 0, "window_s": 60})

    async def run() -> None:
        for text in ("where is my order", "hello again"):
            await service.dispatch(connector, request(text, "en-user"))
            assert service.drain(timeout=10)
        for text in ("我的订单在哪", "还在吗"):
            await service.dispatch(connector, request(text, "zh-user"))
            assert service.drain(timeout=10)

    asyncio.run(run())
    english, chinese = connector.outbound.to("win:en-user"), connector.outbound.to("win:zh-user")
    assert english[0] == "answer to where is my order" and "Please wait" in english[1]
    assert chinese[0] == "answer to 我的订单在哪" and "秒后再试" in chinese[1]
    assert bot.answered.count("win:en-user") == 1  # the second was not answered
    service.close()


def test_answers_later_acknowledges_at_once_and_sends_through_the_outbound():
    bot, connector = SlowBot(), LaterConnector()
    service = dispatcher(bot)
    started = time.monotonic()
    response = asyncio.run(service.dispatch(connector, request("hi", "dm", delay=0.5)))
    assert response.body == b"success" and time.monotonic() - started < 0.4
    assert connector.outbound.to("win:dm") == []
    assert service.drain(timeout=10)
    (conversation, reply), *_ = connector.outbound.sent
    assert conversation.address == {"openid": "dm"} and reply.text == "answer to hi"
    # the address is kept with the conversation: an agent's message finds it after a restart
    assert bot.sessions.get("win:dm").meta[ADDRESS] == {"openid": "dm"}
    service.close()


def test_failures_are_a_422_a_generic_500_or_a_fallback_never_a_trace(caplog):
    bot = SlowBot()
    service = dispatcher(bot)
    inline = InlineConnector()
    refused = asyncio.run(service.dispatch(inline, request("x", "a", fail="value")))
    assert refused.status == 422 and refused.payload()["error"]["code"] == "bad_message"
    crashed = asyncio.run(service.dispatch(inline, request("x", "b", fail="crash")))
    assert crashed.status == 500 and b"/srv" not in crashed.body
    assert "index vanished" in caplog.text  # the cause is in the log
    later = LaterConnector()
    for user, fail in (("c", "value"), ("d", "crash")):
        ack = asyncio.run(service.dispatch(later, request("x", user, fail=fail)))
        assert ack.body == b"success"
    assert service.drain(timeout=10)
    assert "2000 characters" in later.outbound.to("win:c")[0]
    (generic,) = later.outbound.to("win:d")
    assert "could not answer" in generic and "/srv" not in generic
    window = WindowConnector()  # within the window, the fallback is the passive reply
    passive = asyncio.run(service.dispatch(window, request("x", "e", fail="crash")))
    assert b"could not answer" in passive.body and window.outbound.sent == []
    bad = asyncio.run(service.dispatch(window, ChannelRequest(body=b"{nope")))
    assert bad.status == 400
    service.close()


def test_inline_channels_are_rate_limited_too():
    service = dispatcher(SlowBot(), rate_limit={"per_session": 2, "per_ip": 0})
    connector = InlineConnector()
    statuses = [
        asyncio.run(service.dispatch(connector, request("hi", "same"))).status for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    limited = asyncio.run(service.dispatch(connector, request("hi", "same")))
    assert int(limited.headers["retry-after"]) >= 1
    service.close()


# ---------------------------------------------------------------------------- over HTTP
@pytest.fixture(scope="module")
def channel_server(demo_kb, tmp_path_factory) -> Iterator[tuple[str, Any, WindowConnector]]:
    register(WindowConnector)
    tmp = tmp_path_factory.mktemp("dispatch")
    config = make_server_config(tmp, rate_limit={"per_session": 3, "per_ip": 0})
    config.channels = {"web": {}, "replay": {}, "window-test": {}}
    bot = make_bot(demo_kb, config, FakeGenerator())
    with serving(config, bot) as url:
        yield url, bot, WindowConnector.created[-1]
    bot.sessions.close()


def test_methods_are_the_connectors_and_others_a_405_naming_them(channel_server):
    url, _, _ = channel_server
    with httpx.Client(base_url=url, timeout=30) as client:
        check = client.get("/channels/window-test", params={"echostr": "abc123"})
        assert check.status_code == 200 and check.text == "abc123"
        refused = client.get("/channels/replay")
        assert_error(refused, 405, "method_not_allowed")
        assert refused.headers["allow"] == "POST"
        put = client.put("/channels/window-test", content=b"{}")
        assert put.status_code == 405 and put.headers["allow"] == "GET, POST"
        assert_error(client.get("/channels/nope"), 404, "unknown_channel")


def test_inline_channels_go_through_limits_over_http(channel_server):
    url, _, _ = channel_server
    _, question, answer = faq_entry()
    body = {"conversation_id": "limits-1", "text": question}
    with httpx.Client(base_url=url, timeout=30) as client:
        answers = [client.post("/channels/replay", json=body) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].json()["plain_text"] == answer


def test_a_window_channel_answers_inline_over_http(channel_server):
    url, bot, _ = channel_server
    _, question, answer = faq_entry()
    with httpx.Client(base_url=url, timeout=30) as client:
        response = client.post("/channels/window-test", json={"text": question, "user": "h1"})
    assert response.status_code == 200 and response.text == f"passive: {answer}"
    assert bot.sessions.get("win:h1").meta[ADDRESS] == {"openid": "h1"}
    # an address is the platform's id: the bot keeps it exactly, however much it looks like
    # personal data (everything else in the session's metadata is redacted)
    session = bot.sessions.load("win:address", channel="window-test", user_id="u")
    session.meta[ADDRESS] = {"openid": "jo@example.com"}
    session.meta["note"] = "mail jo@example.com"
    bot.sessions.save_state(session)
    bot.reply(IncomingMessage(question, session_id="win:address", channel="window-test"))
    stored = bot.sessions.get("win:address").meta
    assert stored[ADDRESS] == {"openid": "jo@example.com"} and "jo@" not in stored["note"]


def test_an_agent_message_reaches_a_platform_conversation(channel_server):
    url, bot, served = channel_server
    with httpx.Client(base_url=url, timeout=30) as client:
        client.post(
            "/channels/window-test", json={"text": "I want to talk to a human", "user": "h2"}
        )
        admin = {"authorization": "Bearer agent-secret"}
        agent = client.post("/api/sessions/win:h2/agent", json={"text": "Sam here"}, headers=admin)
        assert agent.status_code == 200 and agent.json()["relayed"] is True
        # the customer-facing routes stay the widget's own
        assert_error(client.get("/api/sessions/win:h2"), 404, "unknown_session")
        assert client.post("/api/sessions/win:h2/release", headers=admin).json()["state"] == "bot"
    assert "Sam here" in served.outbound.to("win:h2")
    session = bot.sessions.get("win:h2")
    assert session.turns[-1].role == "agent"
    assert json.dumps(session.meta[ADDRESS]) == '{"openid": "h2"}'
