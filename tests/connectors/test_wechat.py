"""The WeChat channels over real HTTP: callbacks signed and encrypted with wechatpy's own
crypto sent to the server on 127.0.0.1 (an Official Account in safe mode, a WeCom
application), passive replies decrypted as WeChat would, and the platform API's calls
(tokens, customer-service messages) caught on a local stand-in."""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import xmltodict
from wechatpy import parse_message
from wechatpy.crypto import PrpCrypto
from wechatpy.enterprise.crypto import PrpCrypto as WorkPrpCrypto
from wechatpy.utils import check_signature

from bot.generators.fake import FakeGenerator
from bot.types import Citation, IncomingMessage, ProductCard, Reply
from connectors.base import ChannelRequest
from connectors.config import load_config
from connectors.outbound import CollectingOutbound, Conversation
from connectors.registry import build_connectors
from connectors.wechat import (
    ACK,
    WeChatConnector,
    WeComConnector,
    aes_key,
    parse_xml,
    signature,
    split_text,
)
from knowledge.errors import ConfigError
from tests.connectors.conftest import faq_entry, make_bot, make_server_config, serving
from tests.connectors.wechat_fakes import (
    FakeWeChatAPI,
    event_xml,
    fake_wechat_api,
    media_xml,
    new_user,
    official_callback,
    open_reply,
    text_xml,
    wecom_callback,
)

TOKEN = "shopbotwechattoken"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
APP_ID = "wx1234567890abcdef"
APP_SECRET = "app-secret-0123456789abcdef0123"
CORP_ID = "ww0123456789abcdef"
CORP_SECRET = "corp-secret-abcdefabcdefabcdefab"
AGENT_ID = 1000002
WECOM_TOKEN = "wecomtoken"
WECOM_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
#: another EncodingAESKey: messages encrypted with it cannot be read with AES_KEY
OTHER_KEY = base64.b64encode(bytes(range(100, 132))).decode().rstrip("=")
ADMIN = "agent-secret"


# ---------------------------------------------------------------------------- the server
@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeWeChatAPI]:
    with fake_wechat_api(**{APP_ID: APP_SECRET, CORP_ID: CORP_SECRET}) as fake:
        yield fake


@dataclass
class WeChatServer:
    url: str
    bot: Any
    generator: FakeGenerator

    def post(
        self,
        xml: str,
        *,
        token: str = TOKEN,
        key: str | None = AES_KEY,
        timestamp: int | None = None,
        user: str = "",
        query: dict[str, str] | None = None,
    ) -> tuple[httpx.Response, str]:
        """POST an Official Account message (safe mode); (the response, its nonce)."""
        callback = official_callback(
            xml, token=token, aes_key=key, app_id=APP_ID, timestamp=timestamp, user=user
        )
        response = httpx.post(
            f"{self.url}/channels/wechat",
            params={**callback.query, **(query or {})},
            content=callback.body,
            headers={"content-type": "text/xml"},
            timeout=30,
        )
        return response, callback.nonce

    def post_wecom(self, xml: str, **kwargs: Any) -> httpx.Response:
        callback = wecom_callback(
            xml, token=WECOM_TOKEN, aes_key=WECOM_KEY, corp_id=CORP_ID, **kwargs
        )
        return httpx.post(
            f"{self.url}/channels/wecom",
            params=callback.query,
            content=callback.body,
            headers={"content-type": "text/xml"},
            timeout=30,
        )

    def alive(self) -> bool:
        return httpx.get(f"{self.url}/healthz", timeout=10).status_code == 200


@pytest.fixture(scope="module")
def wechat_server(demo_kb, fake_api, tmp_path_factory) -> Iterator[WeChatServer]:
    tmp = tmp_path_factory.mktemp("wechat")
    config = make_server_config(tmp, rate_limit={"per_session": 0, "per_ip": 0})
    config.channels = {
        "web": {},
        "wechat": {
            "token": TOKEN,
            "app_id": APP_ID,
            "app_secret": APP_SECRET,
            "encoding_aes_key": AES_KEY,
            "api_base": fake_api.url,
        },
        "wecom": {
            "corp_id": CORP_ID,
            "agent_id": AGENT_ID,
            "token": WECOM_TOKEN,
            "encoding_aes_key": WECOM_KEY,
            "secret": CORP_SECRET,
            "api_base": fake_api.url,
        },
    }
    generator = FakeGenerator()
    bot = make_bot(demo_kb, config, generator)
    with serving(config, bot) as url:
        yield WeChatServer(url, bot, generator)
    bot.sessions.close()


def passive(response: httpx.Response, **kwargs: Any) -> dict[str, Any]:
    """The decrypted passive reply in a response (Official Account keys by default)."""
    assert response.status_code == 200, response.text
    assert response.content not in (b"", ACK), "expected a passive reply, got an ack"
    return open_reply(
        response.content,
        **({"token": TOKEN, "aes_key": AES_KEY, "app_id": APP_ID} | kwargs),
    )


def slowed(monkeypatch, bot, seconds: float) -> list[IncomingMessage]:
    """Make the bot take ``seconds`` per answer; the messages it was asked are listed."""
    original = bot.reply
    asked: list[IncomingMessage] = []

    def slow(message):
        asked.append(message)
        time.sleep(seconds)
        return original(message)

    monkeypatch.setattr(bot, "reply", slow)
    return asked


def assistant_turns(bot, session_id: str) -> list[str]:
    session = bot.sessions.get(session_id)
    return [t.text for t in session.turns if t.role == "assistant"] if session else []


# ---------------------------------------------------------------------------- wechatpy's vectors
def test_wechatpys_published_vectors_pass_our_signature_and_crypto():
    """tests/test_crypto.py and tests/test_utils.py of wechatpy (v1.8.18)."""
    assert signature("test", "1410685589", "test") == "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"
    check_signature("test", signature("test", "1410685589", "test"), "1410685589", "test")
    token, key, corp = "123456", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", "wx49f0ab532d5d035a"
    echo = (
        "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
    )
    assert signature(token, "1411443780", "437374425", echo) == (
        "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
    )
    # the same vectors through the connector: the URL check and the encrypted message
    connector = WeComConnector(
        {
            "corp_id": corp,
            "agent_id": 1,
            "token": token,
            "encoding_aes_key": key,
            "access_token": "unused",
            "max_clock_skew_s": 10**10,  # the vectors are from 2014
        }
    )
    query = {
        "msg_signature": "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96",
        "timestamp": "1411443780",
        "nonce": "437374425",
        "echostr": echo,
    }
    answer = connector.handle(ChannelRequest("GET", query=query), bot=None)  # type: ignore[arg-type]
    assert answer.status == 200 and answer.body  # the decrypted echostr
    assert answer.body.decode() == WorkPrpCrypto(aes_key(key, "k")).decrypt(echo, corp)
    forged = connector.handle(
        ChannelRequest("GET", query={**query, "nonce": "437374424"}),
        bot=None,  # type: ignore[arg-type]
    )
    assert forged.status == 401 and forged.payload()["error"]["code"] == "bad_signature"
    body = (
        "<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>\n<Encrypt><![CDATA["
        "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHC"
        "rsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXp"
        "XaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzk"
        "VQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcU"
        "GAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=]]>"
        "</Encrypt>\n<AgentID><![CDATA[1]]></AgentID>\n</xml>"
    )
    query = {
        "msg_signature": "74d92dfeb87ba7c714f89d98870ae5eb62dff26d",
        "timestamp": "1411525903",
        "nonce": "461056294",
    }
    request = ChannelRequest("POST", query=query, body=body.encode())
    connector.verify(request)
    (message,) = connector.parse(request).messages
    assert message.text == "test" and message.user_id == "messense"
    assert message.session_id == f"wecom:{corp}:1:messense"


# ---------------------------------------------------------------------------- Official Account
def test_url_verification_echoes_echostr_and_refuses_a_forged_one(wechat_server):
    stamp, nonce = str(int(time.time())), "4242"
    query = {
        "signature": signature(TOKEN, stamp, nonce),
        "timestamp": stamp,
        "nonce": nonce,
        "echostr": "5831235713029640744",
    }
    response = httpx.get(f"{wechat_server.url}/channels/wechat", params=query, timeout=30)
    assert response.status_code == 200 and response.text == "5831235713029640744"
    forged = {**query, "signature": signature("not-the-token", stamp, nonce)}
    response = httpx.get(f"{wechat_server.url}/channels/wechat", params=forged, timeout=30)
    assert response.status_code == 401
    assert "5831235713029640744" not in response.text
    # signed as in safe mode: a msg_signature over an encrypted echostr, answered decrypted
    echo = PrpCrypto(aes_key(AES_KEY, "k")).encrypt("7216538103", APP_ID).decode()
    sealed = {
        "msg_signature": signature(TOKEN, stamp, nonce, echo),
        "timestamp": stamp,
        "nonce": nonce,
        "echostr": echo,
    }
    response = httpx.get(f"{wechat_server.url}/channels/wechat", params=sealed, timeout=30)
    assert response.status_code == 200 and response.text == "7216538103"
    sealed["msg_signature"] = signature("not-the-token", stamp, nonce, echo)
    response = httpx.get(f"{wechat_server.url}/channels/wechat", params=sealed, timeout=30)
    assert response.status_code == 401


def test_a_text_message_gets_the_answer_as_an_encrypted_passive_reply(wechat_server, fake_api):
    _, question, answer = faq_entry()
    user = new_user()
    started = time.monotonic()
    response, _ = wechat_server.post(text_xml(user, question), user=user)
    assert time.monotonic() - started < 4.5
    reply = passive(response)
    assert reply["MsgType"] == "text" and reply["Content"] == answer
    assert reply["ToUserName"] == user and reply["FromUserName"] == "gh_shop"
    session = wechat_server.bot.sessions.get(f"wechat:gh_shop:{user}")
    assert session is not None and session.channel == "wechat"
    time.sleep(0.3)
    assert fake_api.messages(user) == []  # answered in the response: nothing sent as well


def test_a_slow_answer_is_acknowledged_in_time_then_sent_as_a_customer_service_message(
    wechat_server, fake_api, monkeypatch
):
    _, question, answer = faq_entry()
    slowed(monkeypatch, wechat_server.bot, 6)  # longer than WeChat's 5 s
    user = new_user()
    started = time.monotonic()
    response, _ = wechat_server.post(text_xml(user, question), user=user)
    acknowledged = time.monotonic() - started
    assert response.status_code == 200 and response.content in (b"", ACK)
    assert acknowledged < 4.8, acknowledged  # WeChat gives up (and retries) at 5 s
    assert fake_api.messages(user) == []
    (sent,) = fake_api.wait(user)
    assert sent == {
        "touser": user,
        "msgtype": "text",
        "text": {"content": answer},
        "_path": "/cgi-bin/message/custom/send",
    }


@pytest.mark.parametrize(
    "problem",
    ["forged", "stale", "wrong_key", "unsigned", "malformed", "entities", "not_encrypted"],
)
def test_refused_callbacks_get_a_4xx_nothing_answered_no_crash(
    wechat_server, fake_api, problem, caplog
):
    user = new_user()
    xml = text_xml(user, "where is my order?")
    url = f"{wechat_server.url}/channels/wechat"
    if problem == "forged":
        response, _ = wechat_server.post(xml, token="not-the-token")
        expected = (401, "bad_signature")
    elif problem == "stale":
        response, _ = wechat_server.post(xml, timestamp=int(time.time()) - 3600)
        expected = (401, "stale_request")
    elif problem == "wrong_key":
        response, _ = wechat_server.post(xml, key=OTHER_KEY)  # signed right, sealed wrong
        expected = (400, "bad_encryption")
    elif problem == "unsigned":
        response = httpx.post(url, content=xml.encode(), timeout=30)
        expected = (401, "bad_signature")
    elif problem == "not_encrypted":  # a plaintext message to an account in safe mode
        response, _ = wechat_server.post(xml, key=None)
        expected = (400, "encryption_required")
    else:
        bad = (
            "<xml><ToUserName>gh_shop</ToUserName><Content>unclosed</xml>"
            if problem == "malformed"
            else '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            f"<xml><FromUserName>{user}</FromUserName><MsgType>text</MsgType>"
            "<Content>&c;</Content><MsgId>1</MsgId></xml>"
        )
        stamp, nonce = str(int(time.time())), "77"
        query = {"signature": signature(TOKEN, stamp, nonce), "timestamp": stamp, "nonce": nonce}
        # in safe mode the Encrypt field is what is read: seal the bad XML properly
        from tests.connectors.wechat_fakes import official_callback as seal

        callback = seal(bad, token=TOKEN, aes_key=AES_KEY, app_id=APP_ID)
        response = httpx.post(url, params=callback.query, content=callback.body, timeout=30)
        expected = (400, "xml_entities" if problem == "entities" else "bad_xml")
        # and unsealed, as the outer body
        outer = httpx.post(
            url,
            params=query | {"encrypt_type": "aes", "msg_signature": "x"},
            content=bad.encode(),
            timeout=30,
        )
        assert outer.status_code in (400, 401)
    assert (response.status_code, response.json()["error"]["code"]) == expected, response.text
    assert len(response.json()["error"]["message"]) > 20
    assert wechat_server.alive()
    time.sleep(0.3)
    assert fake_api.messages(user) == []
    assert not wechat_server.bot.sessions.get(f"wechat:gh_shop:{user}")
    assert TOKEN not in caplog.text and AES_KEY not in caplog.text


def test_a_retry_while_the_answer_is_on_its_way_is_answered_once(
    wechat_server, fake_api, monkeypatch
):
    _, question, answer = faq_entry()
    asked = slowed(monkeypatch, wechat_server.bot, 5)
    user = new_user()
    xml = text_xml(user, question)
    first: list[httpx.Response] = []
    sender = threading.Thread(target=lambda: first.append(wechat_server.post(xml, user=user)[0]))
    sender.start()
    time.sleep(1)
    for _ in range(2):  # retries while the first request still waits for its answer
        started = time.monotonic()
        retry, _ = wechat_server.post(xml, user=user)
        assert retry.status_code == 200 and retry.content in (b"", ACK)
        assert time.monotonic() - started < 1  # acknowledged at once: nothing to wait for
    sender.join()
    assert first[0].status_code == 200 and first[0].content in (b"", ACK)
    fake_api.wait(user)
    time.sleep(1)
    assert fake_api.texts(user) == [answer]
    assert len(asked) == 1
    assert assistant_turns(wechat_server.bot, f"wechat:gh_shop:{user}") == [answer]


def test_a_retry_after_the_answer_went_out_is_not_answered_again(wechat_server, fake_api):
    _, question, answer = faq_entry()
    user = new_user()
    xml = text_xml(user, question)
    first, _ = wechat_server.post(xml, user=user)
    assert passive(first)["Content"] == answer
    # WeChat retries only a response it did not get: the same passive reply, not a new answer
    retry, _ = wechat_server.post(xml, user=user)
    assert retry.content == first.content
    time.sleep(0.3)
    assert fake_api.messages(user) == []
    assert assistant_turns(wechat_server.bot, f"wechat:gh_shop:{user}") == [answer]


def test_a_retry_of_a_message_sent_through_the_api_is_only_acknowledged(
    wechat_server, fake_api, monkeypatch
):
    _, question, answer = faq_entry()
    slowed(monkeypatch, wechat_server.bot, 5.5)
    user = new_user()
    xml = text_xml(user, question)
    wechat_server.post(xml, user=user)
    fake_api.wait(user)
    monkeypatch.undo()
    retry, _ = wechat_server.post(xml, user=user)
    assert retry.status_code == 200 and retry.content in (b"", ACK)
    time.sleep(0.5)
    assert fake_api.texts(user) == [answer]


def test_subscribe_gets_the_greeting_in_chinese(wechat_server, fake_api):
    user = new_user()
    response, _ = wechat_server.post(event_xml(user, "subscribe"), user=user)
    reply = passive(response)
    assert reply["ToUserName"] == user and "欢迎" in reply["Content"]
    # other events (a menu click, a location report) get nothing
    for event in ("CLICK", "LOCATION", "unsubscribe"):
        response, _ = wechat_server.post(event_xml(user, event, key="MENU_1"), user=user)
        assert response.status_code == 200 and response.content in (b"", ACK)


@pytest.mark.parametrize("kind", ["image", "voice", "video", "location", "link", "file"])
def test_media_messages_get_a_polite_text_never_an_error(wechat_server, kind):
    user = new_user()
    response, _ = wechat_server.post(media_xml(user, kind), user=user)
    assert "文字" in passive(response)["Content"]
    # kept in the conversation, and no failure toward a handoff
    session = wechat_server.bot.sessions.get(f"wechat:gh_shop:{user}")
    assert session.turns[0].text.startswith(f"[{kind}]") and session.failures == 0


def test_a_photo_sent_during_a_handoff_reaches_the_conversation_not_the_bot(wechat_server):
    user = new_user()
    session_id = f"wechat:gh_shop:{user}"
    wechat_server.post(text_xml(user, "转人工"), user=user)
    assert wechat_server.bot.sessions.get(session_id).state == "handoff"
    response, _ = wechat_server.post(media_xml(user, "image"), user=user)
    assert response.status_code == 200 and response.content in (b"", ACK)  # the bot is quiet
    turns = wechat_server.bot.sessions.get(session_id).turns
    assert turns[-1].role == "user" and turns[-1].text == "[image] http://mmbiz.example/pic"


def test_a_message_without_letters_is_answered_in_chinese(wechat_server):
    user = new_user()
    response, _ = wechat_server.post(text_xml(user, "？？？"), user=user)
    text = passive(response)["Content"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text), text
    # other channels are as before: a message without letters gets the English texts
    reply = wechat_server.bot.reply(IncomingMessage("？？？", session_id="w_" + uuid.uuid4().hex))
    assert reply.language == "en"
    # a message in English is answered in English
    user = new_user()
    response, _ = wechat_server.post(text_xml(user, "blorp zzxq quux"), user=user)
    text = passive(response)["Content"]
    assert "I'm sorry" in text and not any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_handoff_then_silence_then_an_agent_reply_reaches_the_wechat_user(wechat_server, fake_api):
    user = new_user()
    session_id = f"wechat:gh_shop:{user}"
    response, _ = wechat_server.post(text_xml(user, "转人工"), user=user)
    assert "人工客服" in passive(response)["Content"]
    assert wechat_server.bot.sessions.get(session_id).state == "handoff"
    response, _ = wechat_server.post(text_xml(user, "有人吗？"), user=user)
    assert response.status_code == 200 and response.content in (b"", ACK)  # the bot is quiet
    agent = httpx.post(
        f"{wechat_server.url}/api/sessions/{session_id}/agent",
        json={"text": "您好，我是客服小李，您的订单已经发货了。"},
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )
    assert agent.status_code == 200, agent.text
    assert fake_api.wait(user)[-1]["text"]["content"] == "您好，我是客服小李，您的订单已经发货了。"
    turns = wechat_server.bot.sessions.get(session_id).turns
    assert turns[-1].role == "agent"
    # WeChat refuses a message to a follower silent for more than 48 h: the agent is told
    fake_api.out_of_window.add(user)
    late = httpx.post(
        f"{wechat_server.url}/api/sessions/{session_id}/agent",
        json={"text": "还在吗？"},
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )
    assert late.status_code == 200 and late.json()["relayed"] is False
    assert len(fake_api.messages(user)) == 1


# ---------------------------------------------------------------------------- WeCom
def test_wecom_url_verification_decrypts_the_echostr(wechat_server):
    stamp, nonce = str(int(time.time())), "9090"
    plain = "1616140317555161061"
    echo = WorkPrpCrypto(aes_key(WECOM_KEY, "k")).encrypt(plain, CORP_ID).decode()
    query = {
        "msg_signature": signature(WECOM_TOKEN, stamp, nonce, echo),
        "timestamp": stamp,
        "nonce": nonce,
        "echostr": echo,
    }
    response = httpx.get(f"{wechat_server.url}/channels/wecom", params=query, timeout=30)
    assert response.status_code == 200 and response.text == plain
    forged = {**query, "msg_signature": signature("other", stamp, nonce, echo)}
    response = httpx.get(f"{wechat_server.url}/channels/wecom", params=forged, timeout=30)
    assert response.status_code == 401


def test_wecom_message_round_trip_passive_and_through_message_send(
    wechat_server, fake_api, monkeypatch
):
    _, question, answer = faq_entry()
    user = "zhangsan" + uuid.uuid4().hex[:6]
    xml = text_xml(user, question, to=CORP_ID).replace(
        "</xml>", f"<AgentID>{AGENT_ID}</AgentID></xml>"
    )
    response = wechat_server.post_wecom(xml)
    reply = passive(response, token=WECOM_TOKEN, aes_key=WECOM_KEY, app_id=CORP_ID, work=True)
    assert reply["Content"] == answer and reply["ToUserName"] == user
    # slower than the window: acknowledged, then message/send with the agent id
    slowed(monkeypatch, wechat_server.bot, 5)
    started = time.monotonic()
    xml = text_xml(user, question, to=CORP_ID)
    response = wechat_server.post_wecom(xml)
    assert response.content in (b"", ACK) and time.monotonic() - started < 4.8
    (sent,) = fake_api.wait(user)
    assert sent == {
        "touser": user,
        "msgtype": "text",
        "agentid": AGENT_ID,
        "text": {"content": answer},
        "_path": "/cgi-bin/message/send",
    }
    stale = wechat_server.post_wecom(xml, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 401


# ---------------------------------------------------------------------------- the message API
def test_the_access_token_is_fetched_once_refreshed_when_refused_and_never_logged(fake_api, caplog):
    caplog.set_level(logging.DEBUG)
    connector = WeChatConnector(
        {
            "token": TOKEN,
            "app_id": APP_ID,
            "app_secret": APP_SECRET,
            "encryption": "plaintext",
            "api_base": fake_api.url,
        }
    )
    user = new_user()
    to = Conversation("s", "wechat", {"user": user, "account": "gh_shop"})
    before = len(fake_api.token_requests)
    connector.outbound.send_text(to, "一")
    connector.outbound.send_text(to, "二")
    assert len(fake_api.token_requests) == before + 1  # cached for the second message
    fake_api.expire_next = True
    connector.outbound.send_text(to, "三")
    assert len(fake_api.token_requests) == before + 2
    assert fake_api.texts(user) == ["一", "二", "三"]
    tokens = [t for t in fake_api.valid if t in caplog.text]
    assert tokens == [] and APP_SECRET not in caplog.text
    assert "access_token=***" in caplog.text or "HTTP Request" not in caplog.text


def test_an_injected_access_token_is_used_as_is(fake_api):
    fake_api.valid.add("INJECTED-TOKEN")
    connector = WeChatConnector(
        {
            "token": TOKEN,
            "app_id": APP_ID,
            "access_token": "INJECTED-TOKEN",
            "encryption": "plaintext",
            "api_base": fake_api.url,
        }
    )
    before = len(fake_api.token_requests)
    user = new_user()
    connector.outbound.send_text(Conversation("s", "wechat", {"user": user}), "hello")
    assert fake_api.texts(user) == ["hello"] and len(fake_api.token_requests) == before


def test_long_replies_are_split_at_sentences_to_fit_a_message(fake_api):
    sentence = "这是一条很长的回复，用来测试按句子拆分消息。"  # 66 bytes
    text = sentence * 80  # ~5,300 bytes
    pieces = split_text(text, 2048)
    assert len(pieces) == 3 and "".join(pieces) == text
    assert all(len(p.encode()) <= 2048 and p.endswith("。") for p in pieces)
    assert split_text("word " * 1000, 300) and all(
        len(p.encode()) <= 300 for p in split_text("word " * 1000, 300)
    )
    # a reply longer than one message: acknowledged, sent in pieces, in order
    connector = WeChatConnector(
        {
            "token": TOKEN,
            "app_id": APP_ID,
            "app_secret": APP_SECRET,
            "encryption": "plaintext",
            "api_base": fake_api.url,
        }
    )
    user = new_user()
    message = IncomingMessage(
        "q", session_id="s", channel="wechat", meta={"wechat": {"from": user, "to": "gh_shop"}}
    )
    reply = Reply(text, "generate", 0.8, "s", language="zh")
    assert not connector.fits_inline(reply)  # the dispatcher sends it itself
    assert connector.fits_inline(Reply(sentence, "generate", 0.8, "s", language="zh"))
    assert connector.render(reply, message).body == ACK  # and the API carries it
    fake_api.wait(user, 3)
    assert "".join(fake_api.texts(user)) == text and len(fake_api.texts(user)) == 3


def test_rich_replies_become_text_in_the_passive_reply():
    connector = WeChatConnector(
        {"token": TOKEN, "app_id": APP_ID, "access_token": "x", "encryption": "plaintext"}
    )
    reply = Reply(
        "推荐这两款帐篷 [1]。",
        "generate",
        0.8,
        "s",
        language="zh",
        citations=[Citation(1, "page:tents", "帐篷指南", url="https://shop.example/tents")],
        products=[ProductCard("T-1", "Ridge 2P Tent", 249.0, "USD", "https://shop.example/t1")],
    )
    message = IncomingMessage(
        "q", session_id="s", channel="wechat", meta={"wechat": {"from": "oU", "to": "gh_1"}}
    )
    fields = xmltodict.parse(connector.render(reply, message).body)["xml"]
    assert fields["ToUserName"] == "oU" and fields["FromUserName"] == "gh_1"
    assert fields["Content"] == (
        "推荐这两款帐篷 [1]。\n\n• Ridge 2P Tent — 249.00 USD https://shop.example/t1"
        "\n\n来源：\n[1] 帐篷指南 https://shop.example/tents"
    )
    # text that would close the CDATA section cannot break out of it
    tricky = Reply("a ]]></Content><MsgType>x</MsgType> b", "generate", 0.8, "s")
    fields = xmltodict.parse(connector.render(tricky, message).body)["xml"]
    assert fields["Content"] == "a ]]></Content><MsgType>x</MsgType> b"


def test_plaintext_mode_round_trip_and_a_retry_after_a_restart(demo_kb, tmp_path):
    from bot.engine import Bot
    from bot.sessions import SQLiteSessionStore

    _, question, answer = faq_entry()
    bot = Bot(demo_kb, sessions=SQLiteSessionStore(tmp_path / "s.db"), generator=FakeGenerator())
    options = {"token": TOKEN, "app_id": APP_ID, "access_token": "x", "encryption": "plaintext"}
    user = new_user()
    callback = official_callback(text_xml(user, question), token=TOKEN, aes_key=None, app_id="")
    request = ChannelRequest("POST", query=callback.query, body=callback.body)
    response = WeChatConnector(options).handle(request, bot)
    assert xmltodict.parse(response.body)["xml"]["Content"] == answer
    # a new process: the recent ids are gone, the stored answer is not
    again = WeChatConnector(options)
    again.outbound = CollectingOutbound()
    assert again.handle(request, bot).body == ACK
    assert again.outbound.sent == []
    session = bot.sessions.get(f"wechat:gh_shop:{user}")
    assert [t.text for t in session.turns if t.role == "assistant"] == [answer]
    bot.sessions.close()


def test_entity_declarations_are_refused_before_parsing():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<xml><Content>&lol2;</Content></xml>"
    )
    from connectors.base import ChannelError

    with pytest.raises(ChannelError) as refused:
        parse_xml(bomb)
    assert refused.value.status == 400 and refused.value.code == "xml_entities"
    with pytest.raises(ChannelError, match="well-formed"):
        parse_xml(b"<xml><a></xml>")
    assert parse_xml("<xml><A>1</A></xml>") == {"A": "1"}
    # wechatpy's own parser (xmltodict, as installed) refuses entities too: the guard above
    # does not depend on it
    with pytest.raises(ValueError, match="entities"):
        parse_message(bomb.decode())


# ---------------------------------------------------------------------------- configuration
def test_enabled_without_secrets_is_a_config_error_naming_them():
    with pytest.raises(ConfigError) as missing:
        build_connectors({"wechat": {}})
    text = str(missing.value)
    for name in ("token", "app_id", "app_secret", "encoding_aes_key"):
        assert f"channels.wechat.{name}" in text
    with pytest.raises(ConfigError, match=r"channels\.wechat\.encoding_aes_key is not set"):
        build_connectors({"wechat": {"token": "t", "app_id": "wx1", "access_token": "a"}})
    plain = {"token": "t", "app_id": "wx1", "access_token": "a", "encryption": "plaintext"}
    assert isinstance(build_connectors({"wechat": plain})["wechat"], WeChatConnector)
    with pytest.raises(ConfigError, match=r"43-character EncodingAESKey"):
        build_connectors({"wechat": {**plain, "encryption": "safe", "encoding_aes_key": "short"}})
    with pytest.raises(ConfigError) as missing:
        build_connectors({"wecom": {"corp_id": "ww1"}})
    text = str(missing.value)
    for name in ("agent_id", "token", "encoding_aes_key", "secret"):
        assert f"channels.wecom.{name}" in text
    assert "channels.wecom.corp_id" not in text
    assert build_connectors({"wechat": {"enabled": False}, "wecom": {"enabled": False}}) == {}


def test_secrets_come_from_the_environment_and_never_print(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "channels:\n  wechat:\n    token: ${WECHAT_TOKEN}\n    app_id: " + APP_ID + "\n"
        "    app_secret: ${WECHAT_APP_SECRET:-}\n    encoding_aes_key: ${WECHAT_AES_KEY}\n",
        encoding="utf-8",
    )
    env = {"WECHAT_TOKEN": TOKEN, "WECHAT_APP_SECRET": APP_SECRET, "WECHAT_AES_KEY": AES_KEY}
    connector = build_connectors(load_config(path, environ=env).channels)["wechat"]
    assert connector.options.token.get_secret_value() == TOKEN
    for secret in (TOKEN, APP_SECRET, AES_KEY):
        assert secret not in repr(connector.options) and secret not in str(connector.options)
    with pytest.raises(ConfigError, match="WECHAT_TOKEN"):
        load_config(path, environ={})
    config = load_config(path, environ={"WECHAT_TOKEN": TOKEN, "WECHAT_AES_KEY": AES_KEY})
    with pytest.raises(ConfigError, match=r"channels\.wechat\.app_secret"):
        build_connectors(config.channels)


def test_shopbot_serve_refuses_to_start_without_the_wechat_secrets(store_dir: Path):
    from tests.connectors.test_cli import flat, run

    config_file = store_dir / "config.yaml"
    config_file.write_text(
        "knowledge: {sources: [{type: faq, path: faq.csv}], index_dir: index}\n"
        "embedder: {backend: fake}\n"
        "channels:\n  wechat:\n    token: ${WECHAT_TOKEN:-}\n    app_id: wx1\n",
        encoding="utf-8",
    )
    result = run("serve", "--config", str(config_file))
    assert result.exit_code == 1
    output = flat(result.output)
    assert "channels.wechat.token and channels.wechat.app_secret and" in output
    assert "channels.wechat.encoding_aes_key are not set" in output


def test_a_failure_gets_a_fallback_in_chinese_not_a_trace(wechat_server, monkeypatch):
    def broken(message):
        raise RuntimeError("index file vanished /srv/secret/path")

    monkeypatch.setattr(wechat_server.bot, "reply", broken)
    user = new_user()
    response, _ = wechat_server.post(text_xml(user, "where is my order?"), user=user)
    text = passive(response)["Content"]
    assert "抱歉" in text and "/srv" not in text and "RuntimeError" not in text
    assert wechat_server.alive()


def test_wecom_handoff_and_an_agent_reply_through_message_send(wechat_server, fake_api):
    user = "lisi" + uuid.uuid4().hex[:6]
    response = wechat_server.post_wecom(text_xml(user, "我要转人工", to=CORP_ID))
    reply = passive(response, token=WECOM_TOKEN, aes_key=WECOM_KEY, app_id=CORP_ID, work=True)
    assert "人工客服" in reply["Content"] and reply["AgentID"] == str(AGENT_ID)
    session_id = f"wecom:{CORP_ID}:{AGENT_ID}:{user}"
    assert wechat_server.bot.sessions.get(session_id).state == "handoff"
    agent = httpx.post(
        f"{wechat_server.url}/api/sessions/{session_id}/agent",
        json={"text": "您好，我来帮您处理。"},
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )
    assert agent.status_code == 200 and agent.json()["relayed"] is True
    (sent,) = fake_api.wait(user)
    assert sent["agentid"] == AGENT_ID and sent["text"]["content"] == "您好，我来帮您处理。"
    assert sent["_path"] == "/cgi-bin/message/send"


def test_compatible_mode_takes_both_and_answers_in_kind(demo_kb):
    from bot.engine import Bot
    from bot.sessions import MemorySessionStore

    _, question, answer = faq_entry()
    bot = Bot(demo_kb, sessions=MemorySessionStore(), generator=FakeGenerator())
    connector = WeChatConnector(
        {
            "token": TOKEN,
            "app_id": APP_ID,
            "access_token": "x",
            "encoding_aes_key": AES_KEY,
            "encryption": "compatible",
        }
    )
    sealed = official_callback(
        text_xml(new_user(), question), token=TOKEN, aes_key=AES_KEY, app_id=APP_ID
    )
    response = connector.handle(ChannelRequest("POST", query=sealed.query, body=sealed.body), bot)
    assert (
        open_reply(response.body, token=TOKEN, aes_key=AES_KEY, app_id=APP_ID)["Content"] == answer
    )
    plain = official_callback(text_xml(new_user(), question), token=TOKEN, aes_key=None, app_id="")
    response = connector.handle(ChannelRequest("POST", query=plain.query, body=plain.body), bot)
    assert xmltodict.parse(response.body)["xml"]["Content"] == answer
    # an encrypted message to an account set to plaintext cannot be read: a clear 400
    connector = WeChatConnector(
        {"token": TOKEN, "app_id": APP_ID, "access_token": "x", "encryption": "plaintext"}
    )
    response = connector.handle(ChannelRequest("POST", query=sealed.query, body=sealed.body), bot)
    assert response.status == 400 and "encoding_aes_key" in response.payload()["error"]["message"]


def test_deliveries_are_bounded_and_passive_responses_kept_briefly():
    from connectors.base import ChannelResponse
    from connectors.wechat import Deliveries

    now = [1000.0]
    seen = Deliveries(3, responses=2, keep_s=60, clock=lambda: now[0])
    assert seen.begin("a") == (Deliveries.NEW, None)
    assert seen.begin("a") == (Deliveries.PENDING, None)
    reply = ChannelResponse(200, b"<xml/>")
    seen.answered("a", reply)
    assert seen.begin("a") == (Deliveries.PASSIVE, reply)
    seen.begin("b")
    seen.answered("b")
    assert seen.begin("b") == (Deliveries.SENT, None)
    for key in "cde":  # "a" and "b" are forgotten: only three ids are remembered
        seen.begin(key)
    assert seen.state("a") == seen.state("b") == Deliveries.NEW
    # a passive response older than keep_s is dropped (its state stays: acknowledged)
    seen.answered("e", reply)
    assert seen.begin("e") == (Deliveries.PASSIVE, reply)
    now[0] += 61
    assert seen.begin("e") == (Deliveries.PASSIVE, None)
