"""Stand-ins for WeChat's side of the channel tests: the platform API on 127.0.0.1 (access
tokens, customer-service messages, WeCom's message/send), and the platform's own way of
building callbacks (signed with the token, encrypted with wechatpy's crypto)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WorkCrypto

from connectors.wechat import signature


@dataclass
class FakeWeChatAPI:
    """The Official Account API and WeCom's API on 127.0.0.1.

    ``cgi-bin/token`` (appid + secret) and ``cgi-bin/gettoken`` (corpid + corpsecret) hand
    out tokens; ``cgi-bin/message/custom/send`` and ``cgi-bin/message/send`` record each
    message whose token is valid. ``expire_next`` makes the next send refuse its token
    (errcode 42001), as WeChat does when a token expired early.
    """

    credentials: dict[str, str] = field(default_factory=dict)  # appid/corpid -> secret
    url: str = ""
    sent: list[dict[str, Any]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    valid: set[str] = field(default_factory=set)
    expire_next: bool = False
    #: users WeChat will not deliver to (45015: more than 48 h since they last wrote)
    out_of_window: set[str] = field(default_factory=set)

    def messages(self, user: str) -> list[dict[str, Any]]:
        return [m for m in list(self.sent) if m.get("touser") == user]

    def texts(self, user: str) -> list[str]:
        return [m["text"]["content"] for m in self.messages(user)]

    def wait(self, user: str, count: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.messages(user)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} message(s) to {user} expected: {self.sent}")
            time.sleep(0.05)
        return self.messages(user)

    def issue(self, app: str, secret: str) -> dict[str, Any]:
        self.token_requests.append({"app": app})
        if self.credentials.get(app) != secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        token = "AT_" + uuid.uuid4().hex
        self.valid.add(token)
        return {"errcode": 0, "access_token": token, "expires_in": 7200}

    def accept(self, path: str, token: str, body: bytes) -> dict[str, Any]:
        if self.expire_next:
            self.expire_next = False
            self.valid.discard(token)
        if token not in self.valid:
            self.refused.append(path)
            return {"errcode": 42001, "errmsg": "access_token expired"}
        message = json.loads(body)
        if message.get("touser") in self.out_of_window:
            return {
                "errcode": 45015,
                "errmsg": "response out of time limit or subscription is canceled",
            }
        self.sent.append({**message, "_path": path})
        return {"errcode": 0, "errmsg": "ok"}


@contextmanager
def fake_wechat_api(**credentials: str) -> Iterator[FakeWeChatAPI]:
    fake = FakeWeChatAPI(credentials=dict(credentials))

    class Handler(BaseHTTPRequestHandler):
        def reply(self, answer: dict[str, Any]) -> None:
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/cgi-bin/token" and query.get("grant_type") == "client_credential":
                self.reply(fake.issue(query.get("appid", ""), query.get("secret", "")))
            elif url.path == "/cgi-bin/gettoken":
                self.reply(fake.issue(query.get("corpid", ""), query.get("corpsecret", "")))
            else:
                self.reply({"errcode": 40066, "errmsg": "invalid url"})

        def do_POST(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if url.path in ("/cgi-bin/message/custom/send", "/cgi-bin/message/send"):
                self.reply(fake.accept(url.path, query.get("access_token", ""), body))
            else:
                self.reply({"errcode": 40066, "errmsg": "invalid url"})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield fake
    finally:
        server.shutdown()


# ---------------------------------------------------------------------------- callbacks
def text_xml(user: str, text: str, *, to: str = "gh_shop", msg_id: int | None = None) -> str:
    """A text message as WeChat posts it (a fresh MsgId unless given)."""
    msg_id = msg_id if msg_id is not None else uuid.uuid4().int % 10**18
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def media_xml(user: str, kind: str, *, to: str = "gh_shop") -> str:
    """An image, voice, video, location or link message (no text to answer)."""
    extra = {
        "image": "<PicUrl><![CDATA[http://mmbiz.example/pic]]></PicUrl><MediaId>m1</MediaId>",
        "voice": "<MediaId>m2</MediaId><Format><![CDATA[amr]]></Format>",
        "video": "<MediaId>m3</MediaId><ThumbMediaId>t3</ThumbMediaId>",
        "location": "<Location_X>23.1</Location_X><Location_Y>113.3</Location_Y>"
        "<Scale>15</Scale><Label><![CDATA[Guangzhou]]></Label>",
        "link": "<Title>t</Title><Description>d</Description><Url>http://x.example</Url>",
    }.get(kind, "")
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>"
        f"{extra}<MsgId>{uuid.uuid4().int % 10**18}</MsgId></xml>"
    )


def event_xml(user: str, event: str, *, to: str = "gh_shop", key: str = "") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
    )


def new_user() -> str:
    return "o" + uuid.uuid4().hex[:27]


@dataclass
class Callback:
    """A callback request as WeChat would send it: query string and body."""

    query: dict[str, str]
    body: bytes
    nonce: str


def official_callback(
    xml: str,
    *,
    token: str,
    aes_key: str | None,
    app_id: str,
    timestamp: int | None = None,
    nonce: str | None = None,
    user: str = "",
) -> Callback:
    """An Official Account POST: plaintext (``aes_key`` None) or safe mode, encrypted and
    signed by wechatpy's ``WeChatCrypto``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or str(uuid.uuid4().int % 10**9)
    query = {"signature": signature(token, stamp, nonce), "timestamp": stamp, "nonce": nonce}
    if user:
        query["openid"] = user
    if aes_key is None:
        return Callback(query, xml.encode(), nonce)
    envelope = WeChatCrypto(token, aes_key, app_id).encrypt_message(xml, nonce, stamp)
    fields = xmltodict.parse(envelope)["xml"]
    query |= {"encrypt_type": "aes", "msg_signature": fields["MsgSignature"]}
    body = (
        f"<xml><ToUserName><![CDATA[gh_shop]]></ToUserName>"
        f"<Encrypt><![CDATA[{fields['Encrypt']}]]></Encrypt></xml>"
    ).encode()
    return Callback(query, body, nonce)


def wecom_callback(
    xml: str, *, token: str, aes_key: str, corp_id: str, timestamp: int | None = None
) -> Callback:
    """A WeCom POST, encrypted and signed by wechatpy's enterprise ``WeChatCrypto``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = str(uuid.uuid4().int % 10**9)
    envelope = WorkCrypto(token, aes_key, corp_id).encrypt_message(xml, nonce, stamp)
    fields = xmltodict.parse(envelope)["xml"]
    query = {"msg_signature": fields["MsgSignature"], "timestamp": stamp, "nonce": nonce}
    body = (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><AgentID><![CDATA[1]]></AgentID>"
        f"<Encrypt><![CDATA[{fields['Encrypt']}]]></Encrypt></xml>"
    ).encode()
    return Callback(query, body, nonce)


def open_reply(body: bytes, *, token: str, aes_key: str, app_id: str, work: bool = False) -> dict:
    """A passive reply decrypted (its signature checked) by wechatpy, as WeChat would."""
    fields = xmltodict.parse(body)["xml"]
    crypto = (WorkCrypto if work else WeChatCrypto)(token, aes_key, app_id)
    plain = crypto.decrypt_message(
        body.decode(), fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]
    )
    return xmltodict.parse(plain)["xml"]
