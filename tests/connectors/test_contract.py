"""The contract every connector keeps, run against each available connector.

A connector's test driver knows how to build that platform's inbound request and how to read
the text out of its response; the checks are the same for all of them. The suite runs over
``available()``: a new built-in connector must add a driver here (``test_every_builtin_has_a
_driver`` fails until it does); a third-party one without a driver is skipped.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from bot.engine import Bot
from bot.generators.fake import FakeGenerator
from bot.sessions import MemorySessionStore
from bot.types import Citation, IncomingMessage, ProductCard, Reply
from connectors.base import (
    ChannelError,
    ChannelRequest,
    ChannelResponse,
    Connector,
    Inbound,
    reply_as_text,
)
from connectors.config import ServerConfig
from connectors.dispatch import Dispatcher
from connectors.outbound import CollectingOutbound
from connectors.registry import BUILTINS, available, build_connectors, connector_class, register
from knowledge.errors import ConfigError


@dataclass
class Driver:
    """How to talk to one connector the way its platform would."""

    def request(self, text: str, conversation: str) -> ChannelRequest:
        raise NotImplementedError

    def malformed(self) -> list[ChannelRequest]:
        """Requests the connector must refuse with a 4xx."""
        return [ChannelRequest(body=b"{not json"), ChannelRequest.from_json(["a", "list"])]

    def text(self, response: ChannelResponse) -> str:
        raise NotImplementedError

    def connector(self, name: str) -> Connector:
        return connector_class(name)()


class WebDriver(Driver):
    def request(self, text: str, conversation: str) -> ChannelRequest:
        return ChannelRequest.from_json({"text": text, "session_id": conversation})

    def malformed(self) -> list[ChannelRequest]:
        return [*super().malformed(), ChannelRequest.from_json({"text": ""})]

    def text(self, response: ChannelResponse) -> str:
        return response.payload()["reply"]["text"]


class ReplayDriver(Driver):
    def request(self, text: str, conversation: str) -> ChannelRequest:
        return ChannelRequest.from_json({"conversation_id": conversation, "text": text})

    def malformed(self) -> list[ChannelRequest]:
        return [*super().malformed(), ChannelRequest.from_json({"text": "no conversation"})]

    def text(self, response: ChannelResponse) -> str:
        return response.payload()["plain_text"]


class CollectingSlackClient:
    """Stands in for slack_sdk's WebClient: keeps each chat.postMessage call."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []

    def chat_postMessage(self, **kwargs: Any) -> dict[str, Any]:
        self.posts.append(kwargs)
        return {"ok": True}


class SlackDriver(Driver):
    """Direct messages signed with slack_sdk's SignatureVerifier; the replies are the
    chat.postMessage calls collected since the request (the HTTP response is only an ack)."""

    secret = "contract-signing-secret"

    def __init__(self) -> None:
        self.client = CollectingSlackClient()
        self.sent = 0

    def connector(self, name: str) -> Connector:
        self.client = CollectingSlackClient()
        options = {"signing_secret": self.secret, "bot_token": "xoxb-contract"}
        return connector_class(name)(options, client=self.client)  # type: ignore[call-arg]

    def signed(self, body: bytes) -> ChannelRequest:
        from slack_sdk.signature import SignatureVerifier

        stamp = str(int(time.time()))
        signature = SignatureVerifier(self.secret).generate_signature(timestamp=stamp, body=body)
        headers = {"x-slack-request-timestamp": stamp, "x-slack-signature": signature}
        return ChannelRequest(body=body, headers=headers)

    def request(self, text: str, conversation: str) -> ChannelRequest:
        self.sent = len(self.client.posts)
        payload = {
            "type": "event_callback",
            "team_id": "T1",
            "event_id": f"Ev{uuid.uuid4().hex[:12]}",
            "event": {
                "type": "message",
                "channel_type": "im",
                "channel": "D1",
                "user": conversation,
                "text": text,
                "ts": f"{time.time():.6f}",
            },
        }
        return self.signed(json.dumps(payload).encode())

    def malformed(self) -> list[ChannelRequest]:
        unsigned = super().malformed()
        return [*unsigned, *(self.signed(r.body) for r in unsigned)]

    def text(self, response: ChannelResponse) -> str:
        payload = response.payload()
        if isinstance(payload, dict) and "text" in payload:  # render: chat.postMessage's args
            return payload["text"]
        new = self.client.posts[self.sent :]
        return new[-1]["text"] if new else ""


class WeChatDriver(Driver):
    """Official Account messages in safe mode, encrypted and signed with wechatpy's crypto;
    the replies are the passive replies, decrypted (an acknowledgement reads as silence)."""

    token, key, app_id = "contract-token", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", "wx1"

    def options(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "app_id": self.app_id,
            "access_token": "contract",
            "encoding_aes_key": self.key,
        }

    def connector(self, name: str) -> Connector:
        return connector_class(name)(self.options())

    def seal(self, xml: str) -> ChannelRequest:
        from tests.connectors.wechat_fakes import official_callback

        callback = official_callback(xml, token=self.token, aes_key=self.key, app_id=self.app_id)
        return ChannelRequest(query=callback.query, body=callback.body)

    def request(self, text: str, conversation: str) -> ChannelRequest:
        from tests.connectors.wechat_fakes import text_xml

        return self.seal(text_xml(conversation, text))

    def malformed(self) -> list[ChannelRequest]:
        unsigned = super().malformed()
        return [*unsigned, self.seal("{not xml"), self.seal("<xml><MsgType>text</xml>")]

    def text(self, response: ChannelResponse) -> str:
        import xmltodict

        from tests.connectors.wechat_fakes import open_reply

        if response.body in (b"", b"success"):
            return ""
        if b"<Encrypt>" not in response.body:
            return xmltodict.parse(response.body)["xml"]["Content"]
        return open_reply(response.body, token=self.token, aes_key=self.key, app_id=self.app_id)[
            "Content"
        ]


class WeComDriver(WeChatDriver):
    """WeCom application messages (always encrypted, with wechatpy's enterprise crypto)."""

    app_id = "ww1"

    def options(self) -> dict[str, Any]:
        return {
            "corp_id": self.app_id,
            "agent_id": 1,
            "token": self.token,
            "access_token": "contract",
            "encoding_aes_key": self.key,
        }

    def seal(self, xml: str) -> ChannelRequest:
        from tests.connectors.wechat_fakes import wecom_callback

        callback = wecom_callback(xml, token=self.token, aes_key=self.key, corp_id=self.app_id)
        return ChannelRequest(query=callback.query, body=callback.body)

    def text(self, response: ChannelResponse) -> str:
        from tests.connectors.wechat_fakes import open_reply

        if response.body in (b"", b"success"):
            return ""
        opened = open_reply(
            response.body, token=self.token, aes_key=self.key, app_id=self.app_id, work=True
        )
        return opened["Content"]


DRIVERS: dict[str, Driver] = {
    "web": WebDriver(),
    "replay": ReplayDriver(),
    "slack": SlackDriver(),
    "wechat": WeChatDriver(),
    "wecom": WeComDriver(),
}


@pytest.fixture(scope="module")
def bot(demo_kb) -> Bot:
    return Bot(demo_kb, sessions=MemorySessionStore(), generator=FakeGenerator())


@pytest.fixture(params=available())
def pair(request) -> tuple[Connector, Driver]:
    driver = DRIVERS.get(request.param)
    if driver is None:
        if request.param in BUILTINS:
            pytest.fail(f"add a contract driver for the built-in connector {request.param!r}")
        pytest.skip(f"{request.param} is not a built-in: it brings its own tests")
    return driver.connector(request.param), driver


def test_every_builtin_has_a_driver():
    assert set(BUILTINS) <= set(DRIVERS), "add a contract driver for the new connector"
    assert set(BUILTINS) <= set(available())


def test_a_message_round_trips(pair, bot):
    connector, driver = pair
    # an FAQ entry asked with its own first question is answered with its own answer
    entry = next(c for c in bot.kb.index.chunks if c.kind == "faq")
    response = connector.handle(driver.request(entry.title, f"{connector.name}-c1"), bot)
    assert response.status == 200
    assert driver.text(response) == entry.text


def test_malformed_requests_get_a_4xx_with_a_reason(pair, bot):
    connector, driver = pair
    for request in driver.malformed():
        response = connector.handle(request, bot)
        assert 400 <= response.status < 500
        error = response.payload()["error"]
        assert error["code"] and len(error["message"]) > 10


def test_handoff_renders_as_a_notice_and_silence_as_nothing(pair, bot):
    connector, driver = pair
    conversation = f"{connector.name}-handoff"
    first = connector.handle(driver.request("I want to talk to a human", conversation), bot)
    assert "team" in driver.text(first)
    second = connector.handle(driver.request("hello?", conversation), bot)
    assert second.status == 200 and driver.text(second) == ""


def test_rich_replies_fall_back_to_text(pair):
    connector, driver = pair
    reply = Reply(
        "Here are two tents for you [1].",
        "generate",
        0.8,
        "s1",
        citations=[Citation(1, "page:tents", "Tent guide", url="https://shop.example/tents")],
        products=[ProductCard("T-1", "Ridge 2P Tent", 249.0, "USD", "https://shop.example/t1")],
    )
    message = IncomingMessage("tents?", session_id="s1", channel=connector.name)
    text = driver.text(connector.render(reply, message))
    assert text.startswith("Here are two tents for you [1].")
    if "Ridge 2P Tent" in text:  # a text-only rendering carries cards and sources
        assert "249.00 USD" in text and "[1] Tent guide https://shop.example/tents" in text
    else:  # a rich rendering carries them as data
        payload = connector.render(reply, message).payload()
        reply_data = payload.get("reply", payload)
        assert reply_data["products"][0]["title"] == "Ridge 2P Tent"
        assert reply_data["citations"][0]["url"] == "https://shop.example/tents"


def test_a_silent_reply_renders_as_an_empty_ack(pair):
    connector, driver = pair
    message = IncomingMessage("hello?", session_id="s-silent", channel=connector.name)
    silent = Reply("", "handoff", 1.0, "s-silent", silent=True)
    response = connector.render(silent, message)
    assert response.status == 200 and driver.text(response) == ""


def test_the_outbound_fake_collects_rich_replies_as_text(pair):
    connector, _ = pair
    connector.outbound = CollectingOutbound()
    message = IncomingMessage("tents?", session_id="s-out", channel=connector.name)
    reply = Reply(
        "Two tents [1].",
        "generate",
        0.8,
        "s-out",
        citations=[Citation(1, "page:tents", "Tent guide", url="https://shop.example/tents")],
        products=[ProductCard("T-1", "Ridge 2P Tent", 249.0, "USD")],
    )
    connector.send(message, reply, bot=None)  # type: ignore[arg-type]
    connector.send(message, Reply("", "handoff", 1.0, "s-out", silent=True), bot=None)  # type: ignore[arg-type]
    (text,) = connector.outbound.to("s-out")  # the silent reply sent nothing
    assert text.startswith("Two tents [1].") and "• Ridge 2P Tent — 249.00 USD" in text
    assert "[1] Tent guide https://shop.example/tents" in text
    (where, sent), *_ = connector.outbound.sent
    assert where.session_id == "s-out" and sent is reply


def test_on_the_dispatcher_bad_bodies_are_4xx_and_a_message_is_delivered(pair, bot):
    connector, driver = pair
    collected = CollectingOutbound()
    if connector.answers_later:
        connector.outbound = collected
    config = ServerConfig.model_validate({"rate_limit": {"per_session": 0, "per_ip": 0}})
    dispatcher = Dispatcher(bot, config)

    async def run(request: ChannelRequest) -> ChannelResponse:
        return await dispatcher.dispatch(connector, request)

    try:
        for request in driver.malformed():
            response = asyncio.run(run(request))
            assert 400 <= response.status < 500, (request.body, response.status)
        entry = next(c for c in bot.kb.index.chunks if c.kind == "faq")
        conversation = f"{connector.name}-dispatched"
        response = asyncio.run(run(driver.request(entry.title, conversation)))
        assert response.status == 200
        assert dispatcher.drain(timeout=60)
        sent = [text for _, text in collected.texts]
        if not connector.answers_later:  # inline: the answer is the response
            assert driver.text(response) == entry.text and sent == []
        elif sent:  # acknowledged, answered through the outbound path
            assert sent == [entry.text]
        else:  # answered within the reply window: the response, and nothing else
            assert connector.reply_window_s and driver.text(response) == entry.text
    finally:
        dispatcher.close()


# ---------------------------------------------------------------------------- text fallback
def test_reply_as_text_lists_sources_and_products_in_the_reply_language():
    reply = Reply(
        "可以退货 [1]。",
        "generate",
        0.7,
        "s",
        language="zh",
        citations=[Citation(1, "page:returns", "退货政策")],
        products=[ProductCard("B-1", "登山靴", None)],
    )
    assert reply_as_text(reply) == "可以退货 [1]。\n\n• 登山靴\n\n来源：\n[1] 退货政策"
    assert reply_as_text(reply, sources=False) == "可以退货 [1]。\n\n• 登山靴"
    silent = Reply("", "handoff", 1.0, "s", silent=True)
    assert reply_as_text(silent) == ""
    faq = Reply("Yes.", "answer_faq", 0.9, "s", citations=[Citation(1, "faq:x", "X")])
    assert reply_as_text(faq) == "Yes."  # the FAQ entry is the answer, not a source list


# ---------------------------------------------------------------------------- registry
def test_unknown_channel_names_the_builtins():
    with pytest.raises(
        ConfigError, match=r"unknown channel 'slak'.*replay, slack, web, wechat, wecom"
    ):
        build_connectors({"slak": {}})


def test_import_path_failures_say_why():
    with pytest.raises(ConfigError, match=r"cannot import module 'no_such_pkg\.mod'"):
        connector_class("no_such_pkg.mod:Thing")
    with pytest.raises(ConfigError, match="not a shopbot Connector"):
        connector_class("json:dumps")
    with pytest.raises(ConfigError, match="is nothing"):
        connector_class("json:NoSuchThing")


def test_bad_options_name_the_key():
    with pytest.raises(ConfigError, match=r"channels\.web\.color"):
        build_connectors({"web": {"color": "red"}})
    with pytest.raises(ConfigError, match=r"channels\.web\.colour"):
        build_connectors({"web": {"colour": "#fff"}})


def test_disabled_channels_are_not_built_and_third_party_ones_are():
    class Echo(Connector):
        name = "echo-test"

        def parse(self, request: ChannelRequest) -> Inbound:
            body: Any = request.json()
            return Inbound([IncomingMessage(body["text"], session_id="e")])

        def render(self, reply: Reply, message: IncomingMessage) -> ChannelResponse:
            return ChannelResponse.text(reply.text)

    register(Echo)
    built = build_connectors({"web": {"enabled": False}, "echo-test": None})
    assert list(built) == ["echo-test"]
    dotted = build_connectors({"connectors.web:WebConnector": {"title": "Help"}})
    assert dotted["connectors.web:WebConnector"].options.title == "Help"


def test_channel_error_is_always_4xx():
    with pytest.raises(ValueError):
        ChannelError(500, "x", "servers errors are not channel errors")
