"""WeChat: an Official Account's callback (``/channels/wechat``) and a WeCom (企业微信)
application's callback (``/channels/wecom``).

Inbound, each request is checked before anything is read from it: the SHA-1 signature of
the token, timestamp and nonce (and of the encrypted body in AES "safe mode", always on
WeCom), compared in constant time, and a timestamp within ``max_clock_skew_s`` of now; a
forged or stale request is a 401 and nothing is answered. XML with a DTD or entities is
refused before it is parsed (billion laughs, external entities), and wechatpy parses the
rest (``wechatpy.parse_message``) and decrypts it (its ``PrpCrypto``).

WeChat waits 5 s for the HTTP response and then retries the same message (three times).
On the server's dispatcher (``answers_later`` with ``reply_window_s``) an answer ready within
the window (4 s) is the response itself (``render``: a passive reply, encrypted in safe
mode); a slower one is acknowledged (``success``) and sent once ready through the outbound
half, ``WeChatOutbound``: the platform's message API (the customer-service message API of an
Official Account, ``message/send`` on WeCom), whose base URL and access token are
configurable. A human agent's message (``/api/sessions/{id}/agent``) takes the same way,
to the address the dispatcher stored with the conversation (``address``).

Each ``MsgId`` is answered once: a retry while the answer is on its way is only
acknowledged, a retry of a message answered in an HTTP response gets that same response
again (WeChat retries only a response it never received), one answered through the API is
acknowledged, and after a restart the bot's stored answer (the turn's ``message_id``) keeps
it from being answered twice.

A ``subscribe`` event gets the greeting; images, voice, video, locations, links, files and
unknown message types a polite text; other events (menu clicks, location reports) nothing.
The texts the bot writes itself are Chinese by default on this channel (``language``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import httpx
import xmltodict
from pydantic import Field, SecretStr, field_validator
from wechatpy import parse_message
from wechatpy.crypto import PrpCrypto
from wechatpy.enterprise import parse_message as parse_work_message
from wechatpy.enterprise.crypto import PrpCrypto as WorkPrpCrypto
from wechatpy.enterprise.replies import TextReply as WorkTextReply
from wechatpy.replies import TextReply
from wechatpy.utils import WeChatSigner

from bot.types import IncomingMessage, Reply
from connectors.base import (
    ChannelError,
    ChannelRequest,
    ChannelResponse,
    Connector,
    ConnectorOptions,
    Inbound,
    blank_is_unset,
)
from connectors.outbound import Conversation, Outbound, reply_as_text
from knowledge.errors import ConfigError

if TYPE_CHECKING:
    from bot.engine import Bot

log = logging.getLogger(__name__)

#: what WeChat is answered with when the reply comes later (or never): no retry follows
ACK = b"success"
#: a text message's content is at most 2048 bytes (passive reply and message API alike)
MAX_TEXT_BYTES = 2048
#: ``IncomingMessage.meta`` key: what a passive reply needs (who, to whom, sealed or not)
CONTEXT = "wechat"

#: the texts this channel writes itself, by language (config overrides the greeting)
TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "greeting": (
            "您好，欢迎关注！我是在线客服，可以回答订单、配送、退换货和商品方面的问题，"
            "请直接输入您的问题。"
        ),
        "unsupported": "抱歉，我目前只能阅读文字消息，请用文字描述您的问题。",
        "fallback": "抱歉，我暂时无法回答，请稍后再试。",
    },
    "en": {
        "greeting": (
            "Hello and welcome! I'm the store's assistant: ask me about orders, shipping, "
            "returns or our products."
        ),
        "unsupported": "Sorry, I can only read text messages for now: please type your question.",
        "fallback": "Sorry, I could not answer that just now. Please try again in a moment.",
    },
}

#: a DTD or an entity declaration: WeChat never sends one, a billion-laughs attack does
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
#: where a long reply may be cut: after a sentence's end or a line break
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])|(?<=[.])(?=\s)")
#: the platform errors that mean "fetch a new access token and try again"
_TOKEN_ERRORS = frozenset({40001, 40014, 41001, 42001})
#: query parameters whose values are secrets (kept out of logged URLs)
_SECRET_PARAMS = re.compile(r"((?:access_token|secret|corpsecret)=)[^&\s\"']+")


class _ScrubSecrets(logging.Filter):
    """Masks access tokens and app secrets in the URLs httpx logs at INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                _SECRET_PARAMS.sub(r"\1***", str(a)) if "=" in str(a) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        if isinstance(record.msg, str):
            record.msg = _SECRET_PARAMS.sub(r"\1***", record.msg)
        return True


if not any(isinstance(f, _ScrubSecrets) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_ScrubSecrets())


# ---------------------------------------------------------------------------- options
class _Options(ConnectorOptions):
    """What the Official Account and the WeCom application share."""

    token: SecretStr | None = Field(
        default=None, description="the callback Token set in the console, e.g. ${WECHAT_TOKEN}"
    )
    encoding_aes_key: SecretStr | None = Field(
        default=None, description="the 43-character EncodingAESKey (message encryption)"
    )
    access_token: SecretStr | None = Field(
        default=None,
        description="a ready access token (a token service outside shopbot refreshes it); "
        "default: fetched with the app secret and cached until it expires",
    )
    language: Literal["zh", "en"] = Field(
        default="zh",
        description="the language of the texts the bot writes itself (greeting, handoff, "
        "don't-know) when a message does not show its own (a Chinese or English message is "
        "answered in its language)",
    )
    greeting: str | None = Field(
        default=None, description="sent to a new follower; default: a greeting in `language`"
    )
    reply_window_s: float = Field(
        default=4.0,
        gt=0,
        lt=5,
        description="how long an answer may take to go out in the HTTP response (WeChat "
        "waits 5 s); a slower one is acknowledged and sent through the message API",
    )
    max_clock_skew_s: int = Field(
        default=300, gt=0, description="requests whose timestamp is further from now are refused"
    )
    max_reply_bytes: int = Field(
        default=MAX_TEXT_BYTES,
        ge=200,
        le=MAX_TEXT_BYTES,
        description="longest text message (UTF-8 bytes); longer replies are split at sentences",
    )
    recent_messages: int = Field(
        default=10_000, gt=0, description="message ids remembered to answer WeChat's retries once"
    )
    api_timeout_s: float = Field(default=10, gt=0, description="timeout of each API call")

    @field_validator("token", "encoding_aes_key", "access_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """``${WECHAT_TOKEN:-}`` with the variable unset means: not set."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("api_base", mode="after", check_fields=False)
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"


class WeChatOptions(_Options):
    """``channels.wechat`` in config.yaml (secrets as ``${ENV}``; README: WeChat)."""

    app_id: str | None = Field(default=None, description="the account's AppID (wx...)")
    app_secret: SecretStr | None = Field(
        default=None, description="the AppSecret, to fetch access tokens: ${WECHAT_APP_SECRET}"
    )
    encryption: Literal["plaintext", "compatible", "safe"] = Field(
        default="safe",
        description="the console's message encryption mode (明文 / 兼容 / 安全模式): safe "
        "takes encrypted messages only; compatible both; plaintext needs no EncodingAESKey",
    )
    api_base: str = Field(
        default="https://api.weixin.qq.com/",
        description="the Official Account API's base URL (tests and proxies point it elsewhere)",
    )

    @field_validator("app_id", "app_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return blank_is_unset(value)


class WeComOptions(_Options):
    """``channels.wecom`` in config.yaml (secrets as ``${ENV}``; README: WeCom)."""

    corp_id: str | None = Field(default=None, description="the company's CorpID (ww...)")
    agent_id: int | None = Field(default=None, description="the application's AgentId")
    secret: SecretStr | None = Field(
        default=None, description="the application's Secret, to fetch tokens: ${WECOM_SECRET}"
    )
    api_base: str = Field(
        default="https://qyapi.weixin.qq.com/",
        description="the WeCom API's base URL (tests and private deployments point it elsewhere)",
    )

    @field_validator("corp_id", "secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return blank_is_unset(value)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


# ---------------------------------------------------------------------------- crypto
def signature(token: str, *parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted, concatenated token, timestamp, nonce (and
    the encrypted message, for ``msg_signature``), as wechatpy's ``WeChatSigner`` makes it."""
    signer = WeChatSigner()
    signer.add_data(token, *parts)
    return signer.signature


def same(given: str, expected: str) -> bool:
    """Constant-time comparison (wechatpy's own checks compare with ``!=``)."""
    return hmac.compare_digest(given.strip().lower().encode(), expected.encode())


def aes_key(encoding_aes_key: str, setting: str) -> bytes:
    """The 32-byte AES key an EncodingAESKey stands for (ConfigError naming ``setting``)."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(encoding_aes_key) != 43 or len(key) != 32:
        raise ConfigError(
            f"{setting} must be the 43-character EncodingAESKey shown in the console "
            f"(letters and digits; got {len(encoding_aes_key)} characters)"
        )
    return key


def parse_xml(body: bytes | str) -> dict[str, Any]:
    """The ``<xml>`` element of a callback body as a dict; ChannelError 400 when it is not
    well-formed, or declares a DTD or entities (refused before any parsing)."""
    raw = body.encode() if isinstance(body, str) else body
    if _DTD.search(raw):
        raise ChannelError(
            400,
            "xml_entities",
            "the XML declares a DTD or entities, which WeChat never sends: refused",
        )
    try:
        parsed = xmltodict.parse(raw, disable_entities=True)
    except Exception as exc:  # ExpatError, ValueError ("entities are disabled")
        raise ChannelError(400, "bad_xml", f"the body is not well-formed XML ({exc})") from None
    root = parsed.get("xml") if isinstance(parsed, dict) else None
    if not isinstance(root, dict):
        raise ChannelError(400, "bad_xml", "the body must be an <xml> element with fields")
    return root


def _cdata_safe(text: str) -> str:
    """Text that cannot close wechatpy's ``<![CDATA[...]]>`` early."""
    return text.replace("]]>", "]]]]><![CDATA[>")


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-8 bytes, cut after sentences (or line
    breaks) where possible, inside a sentence only when it alone is too long."""
    text = text.strip()
    if len(text.encode()) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    current = ""
    for sentence in (s for s in _SENTENCE_END.split(text) if s):
        if len((current + sentence).encode()) <= limit:
            current += sentence
            continue
        if current.strip():
            pieces.append(current.strip())
        current = ""
        while len(sentence.encode()) > limit:  # one sentence longer than a message
            cut = len(sentence.encode()[:limit].decode("utf-8", "ignore"))
            space = sentence.rfind(" ", 0, cut)
            cut = space if space > cut // 2 else cut
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:]
        current = sentence
    if current.strip():
        pieces.append(current.strip())
    return pieces


# ---------------------------------------------------------------------------- retries
class Deliveries:
    """What became of each recent message (bounded, thread-safe): being answered, answered
    in the HTTP response, or sent through the API. The passive responses themselves are kept
    for ``keep_s`` only (at most ``responses`` of them): WeChat's retries come within 15 s."""

    NEW, PENDING, PASSIVE, SENT = "new", "pending", "passive", "sent"

    def __init__(
        self,
        size: int,
        *,
        responses: int = 1000,
        keep_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self.clock = clock
        self.max_responses = responses
        self.keep_s = keep_s
        self._states: OrderedDict[str, str] = OrderedDict()
        self._responses: OrderedDict[str, tuple[float, ChannelResponse]] = OrderedDict()
        self._guard = threading.Lock()

    def begin(self, key: str) -> tuple[str, ChannelResponse | None]:
        """The message's state before this delivery, and its passive response when it is
        still kept (``NEW`` marks the message ``PENDING``)."""
        with self._guard:
            self._expire()
            state = self._states.get(key)
            if state is not None:
                self._states.move_to_end(key)
                kept = self._responses.get(key)
                return state, kept[1] if kept else None
            self._set(key, self.PENDING)
            return self.NEW, None

    def answered(self, key: str, response: ChannelResponse | None = None) -> None:
        """Answered in ``response`` (a passive reply), or through the API when None."""
        with self._guard:
            if response is None:
                self._set(key, self.SENT)
                return
            self._set(key, self.PASSIVE)
            self._responses[key] = (self.clock(), response)
            self._responses.move_to_end(key)
            self._expire()

    def state(self, key: str) -> str:
        with self._guard:
            return self._states.get(key, self.NEW)

    def _set(self, key: str, state: str) -> None:
        self._states[key] = state
        self._states.move_to_end(key)
        while len(self._states) > self.size:
            old, _ = self._states.popitem(last=False)
            self._responses.pop(old, None)

    def _expire(self) -> None:
        cutoff = self.clock() - self.keep_s
        while self._responses:
            key, (stamp, _) = next(iter(self._responses.items()))
            if stamp >= cutoff and len(self._responses) <= self.max_responses:
                break
            del self._responses[key]


# ---------------------------------------------------------------------------- the API
@dataclass
class _Token:
    value: str
    expires: float  # time.monotonic()


class PlatformAPI:
    """The platform's message API over httpx: the access token (fetched from
    ``token_path`` and cached until shortly before it expires, or injected), and sending
    a JSON message to ``send_path``. Every URL is under the configurable ``base``."""

    def __init__(
        self,
        base: str,
        *,
        token_path: str,
        token_params: Mapping[str, str] | None,
        send_path: str,
        static_token: str | None,
        timeout: float,
        name: str,
    ) -> None:
        self.base = base
        self.token_path = token_path
        self.token_params = dict(token_params or {})
        self.send_path = send_path
        self.static_token = static_token
        self.name = name
        self.client = httpx.Client(timeout=timeout, trust_env=False)
        self._token: _Token | None = None
        self._guard = threading.Lock()

    def token(self, *, refresh: bool = False) -> str:
        """A valid access token (a new one when ``refresh``)."""
        if self.static_token:
            return self.static_token
        with self._guard:
            if self._token and not refresh and time.monotonic() < self._token.expires:
                return self._token.value
            response = self.client.get(self.base + self.token_path, params=self.token_params)
            data = _json(response)
            value = data.get("access_token")
            if not isinstance(value, str) or not value:
                raise WeChatAPIError(
                    f"{self.name}: no access token ({_describe(data, response)}): check the "
                    "app id and secret, and that this server's IP is on the API allow-list"
                )
            life = data.get("expires_in")
            life = float(life) if isinstance(life, int | float) and life > 0 else 7200.0
            self._token = _Token(value, time.monotonic() + max(life - 300, life / 2))
            return value

    def send(self, payload: dict[str, Any]) -> None:
        """POST one message; a refused token is fetched again once."""
        for attempt in (1, 2):
            token = self.token(refresh=attempt == 2)
            response = self.client.post(
                self.base + self.send_path,
                params={"access_token": token},
                content=_dumps(payload),
                headers={"content-type": "application/json; charset=utf-8"},
            )
            data = _json(response)
            code = data.get("errcode", 0)
            if response.status_code == 200 and code == 0:
                return
            if code in _TOKEN_ERRORS and attempt == 1 and not self.static_token:
                continue
            raise WeChatAPIError(f"{self.name}: message not sent ({_describe(data, response)})")

    def close(self) -> None:
        self.client.close()


class WeChatAPIError(RuntimeError):
    """The platform refused a call (the text names its errcode, never a secret)."""


def _dumps(payload: dict[str, Any]) -> bytes:
    import json

    return json.dumps(payload, ensure_ascii=False).encode()  # WeChat shows \\u escapes as is


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _describe(data: dict[str, Any], response: httpx.Response) -> str:
    if "errcode" in data:
        return f"errcode {data.get('errcode')}: {data.get('errmsg', '')}"
    return f"HTTP {response.status_code}"


# ---------------------------------------------------------------------------- connectors
class _WeChatBase(Connector):
    """What the Official Account and WeCom connectors share: signature and timestamp
    checks, decryption, message types, passive replies and the message API."""

    answers_later = True  # with a reply window: passive reply in time, else ack + outbound
    methods: ClassVar[frozenset[str]] = frozenset({"GET", "POST"})
    reply_window_s: ClassVar[float | None] = 4.0
    _crypto_class: ClassVar[type]
    _reply_class: ClassVar[type]

    def __init__(self, options: Any = None, *, api: PlatformAPI | None = None) -> None:
        super().__init__(options)
        opts: _Options = self.options  # type: ignore[assignment]
        missing = self.missing()
        if missing:
            raise ConfigError(
                f"the {self.name} channel is enabled but {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set: {self.hint()}, or set "
                f"channels.{self.name}.enabled: false"
            )
        self.token_value: str = _secret(opts.token) or ""
        aes = _secret(opts.encoding_aes_key)
        self.key = aes_key(aes, f"channels.{self.name}.encoding_aes_key") if aes else None
        self.reply_window_s = opts.reply_window_s  # type: ignore[misc]
        self.api = api or self.make_api()
        self.deliveries = Deliveries(opts.recent_messages)
        self.texts = dict(TEXTS[opts.language])
        if opts.greeting:
            self.texts["greeting"] = opts.greeting
        self.fallback_text = self.texts["fallback"]  # type: ignore[misc]
        self.outbound: Outbound | None = WeChatOutbound(
            self.api, self.api_message, opts.max_reply_bytes
        )

    # ------------------------------------------------------------------ configuration
    def missing(self) -> list[str]:  # pragma: no cover - each platform says
        raise NotImplementedError

    def hint(self) -> str:  # pragma: no cover
        raise NotImplementedError

    def make_api(self) -> PlatformAPI:  # pragma: no cover
        raise NotImplementedError

    def encrypts(self) -> bool:
        """Whether every message of this channel comes (and is answered) encrypted."""
        return True

    @property
    def own_id(self) -> str:
        """The id the encrypted payload must name (AppID / CorpID)."""
        raise NotImplementedError  # pragma: no cover

    # ------------------------------------------------------------------ inbound
    def refuse(
        self, request: ChannelRequest, status: int, code: str, problem: str, fix: str
    ) -> ChannelError:
        """A refusal, logged (without any secret) and raised by the caller."""
        log.warning("%s request refused (%s) from %s", self.name, problem, request.client or "?")
        return ChannelError(status, code, f"{problem}: {fix}")

    def check_time(self, request: ChannelRequest) -> tuple[str, str]:
        """(timestamp, nonce) of a request whose timestamp is recent enough."""
        stamp, nonce = request.query.get("timestamp", ""), request.query.get("nonce", "")
        fix = (
            f"WeChat signs each callback with channels.{self.name}.token; check the server's clock"
        )
        if not stamp or not nonce:
            raise self.refuse(
                request, 401, "bad_signature", "the request has no timestamp / nonce", fix
            )
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            raise self.refuse(request, 401, "bad_signature", "the timestamp is not a number", fix)
        skew = self.options.max_clock_skew_s  # type: ignore[attr-defined]
        if abs(time.time() - int(stamp)) > skew:
            raise self.refuse(
                request,
                401,
                "stale_request",
                f"the request timestamp is more than {skew} s away from now (a replay?)",
                fix,
            )
        return stamp, nonce

    def check_signature(self, request: ChannelRequest, given: str | None, *parts: str) -> None:
        fix = f"WeChat signs each callback with the token; check channels.{self.name}.token"
        if not given:
            raise self.refuse(request, 401, "bad_signature", "the request is not signed", fix)
        if not same(given, signature(self.token_value, *parts)):
            raise self.refuse(
                request, 401, "bad_signature", "the signature does not match the token", fix
            )

    def decrypt(self, request: ChannelRequest, encrypted: str) -> str:
        """The plaintext of an ``Encrypt`` field (ChannelError when it cannot be opened)."""
        fix = (
            f"check that channels.{self.name}.encoding_aes_key is the console's EncodingAESKey "
            f"and that the message is for {self.own_id}"
        )
        if self.key is None:
            raise self.refuse(
                request,
                400,
                "encryption_off",
                "the message is encrypted but no EncodingAESKey is configured",
                f"set channels.{self.name}.encoding_aes_key",
            )
        try:
            return self._crypto_class(self.key).decrypt(encrypted, self.own_id)
        except Exception:  # wrong key (bad padding, garbage), another app's id, not base64
            raise self.refuse(
                request, 400, "bad_encryption", "the message cannot be decrypted", fix
            ) from None

    def encrypt(self, xml: str, nonce: str) -> bytes:
        """A reply in safe mode: ``<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>``."""
        stamp = str(int(time.time()))
        encrypted = self._crypto_class(self.key).encrypt(xml, self.own_id).decode()
        sig = signature(self.token_value, stamp, nonce, encrypted)
        return (
            f"<xml>\n<Encrypt><![CDATA[{encrypted}]]></Encrypt>\n"
            f"<MsgSignature><![CDATA[{sig}]]></MsgSignature>\n"
            f"<TimeStamp>{stamp}</TimeStamp>\n<Nonce><![CDATA[{nonce}]]></Nonce>\n</xml>"
        ).encode()

    def open_message(self, request: ChannelRequest) -> tuple[Any, bool]:
        """(the wechatpy message, whether it came encrypted) from a verified POST."""
        raise NotImplementedError  # pragma: no cover

    def parse(self, request: ChannelRequest) -> Inbound:
        if request.method.upper() == "GET":
            return Inbound(response=self.url_verification(request))
        if request.method.upper() != "POST":
            raise ChannelError(405, "method_not_allowed", "WeChat callbacks are GET or POST")
        try:
            message, encrypted = self.open_message(request)
        except ChannelError as exc:
            if exc.status == 400 and exc.code in ("bad_xml", "xml_entities"):
                log.warning("%s request refused (%s) from %s", self.name, exc.code, request.client)
            raise
        context = {
            "encrypted": encrypted,
            "nonce": request.query.get("nonce", ""),
            "from": str(message.source or ""),
            "to": str(message.target or ""),
            "agent": self.agent_of(message),
        }
        if not context["from"]:
            raise ChannelError(400, "bad_xml", "the message has no FromUserName")
        kind = str(message.type or "unknown").lower()
        if kind == "event":
            event = str(getattr(message, "event", "") or "").lower()
            if event.startswith("subscribe"):  # subscribe, subscribe_scan (a QR code)
                return Inbound(response=self.passive_text(self.texts["greeting"], context))
            return Inbound(response=ChannelResponse(200, ACK))  # menus, location reports...
        text = str(getattr(message, "content", "") or "").strip() if kind == "text" else ""
        media = None
        if not text:  # image, voice, video, location, link, file, unknown
            # through the bot like text, so that it is kept in the conversation (a person
            # handling it sees "[image] <url>") and the bot stays quiet during a handoff;
            # otherwise the customer gets the text-only notice
            raw = getattr(message, "_data", {}) or {}  # wechatpy calls a file "unknown"
            named = str(raw.get("MsgType") or kind).lower() if isinstance(raw, dict) else kind
            media = named if named.isalpha() and named != "text" else "unknown"
            link = getattr(message, "image", None) or getattr(message, "url", None)
            text = f"[{media}]" + (f" {link}" if isinstance(link, str) and link else "")
        key = f"wx{message.id}" if message.id else f"wx{context['from']}:{message.time}"
        state, earlier = self.deliveries.begin(key)
        if state != Deliveries.NEW:
            log.info("%s message %s delivered again (%s): answered once", self.name, key, state)
            if state == Deliveries.PASSIVE and earlier is not None:
                return Inbound(response=earlier)  # WeChat never received that response
            return Inbound(response=ChannelResponse(200, ACK))
        meta: dict[str, Any] = {
            CONTEXT: context,
            "message_id": key[:64],  # the bot keeps its answer: a retry after a restart gets it
            "language": self.options.language,  # type: ignore[attr-defined]
        }
        if media is not None:
            meta["media"] = media
        return Inbound(
            [
                IncomingMessage(
                    text=text,
                    session_id=self.session_id(context),
                    channel=self.name,
                    user_id=context["from"],
                    meta=meta,
                )
            ]
        )

    def url_verification(self, request: ChannelRequest) -> ChannelResponse:
        raise NotImplementedError  # pragma: no cover

    def agent_of(self, message: Any) -> int | None:
        """The WeCom application a message is for (None on an Official Account)."""
        return None

    def acknowledge(self, messages: list[IncomingMessage]) -> ChannelResponse:
        """``success``: WeChat takes the message as received and does not retry it."""
        return ChannelResponse(200, ACK)

    def session_id(self, context: Mapping[str, Any]) -> str:
        raise NotImplementedError  # pragma: no cover

    # ------------------------------------------------------------------ outbound
    def texts_of(self, reply: Reply) -> list[str]:
        """The reply as text messages that fit the platform's limit (empty when silent)."""
        limit = self.options.max_reply_bytes  # type: ignore[attr-defined]
        return split_text(reply_as_text(reply), limit)

    def passive_text(self, text: str, context: Mapping[str, Any]) -> ChannelResponse:
        """A passive text reply to the message ``context`` describes (encrypted in kind)."""
        fields: dict[str, Any] = {
            "source": _cdata_safe(context["to"]),
            "target": _cdata_safe(context["from"]),
            "content": _cdata_safe(text),
        }
        if context.get("agent") is not None and self._reply_class is WorkTextReply:
            fields["agent"] = context["agent"]
        xml = self._reply_class(**fields).render()
        if context.get("encrypted"):
            body = self.encrypt(xml, context.get("nonce") or "0")
        else:
            body = xml.encode()
        return ChannelResponse(200, body, {"content-type": "application/xml; charset=utf-8"})

    def render(self, reply: Reply, message: IncomingMessage) -> ChannelResponse:
        """The reply as the HTTP response: a passive reply when it fits one text message
        (remembered, for WeChat's retry of a response it did not get); ``success`` when it
        is silent or repeated. A longer reply is acknowledged and goes out through the
        message API in pieces, in order (a passive reply is one message at most)."""
        context = message.meta.get(CONTEXT) or {}
        pieces = self.texts_of(reply)
        key = message.meta.get("message_id")
        if reply.meta.get("repeated") or not pieces:
            return ChannelResponse(200, ACK)
        if len(pieces) > 1:  # (the dispatcher sends these itself: see ``fits_inline``)
            threading.Thread(
                target=self._send_quietly, args=(message, reply), daemon=True
            ).start()  # not on the caller's thread: it may be the server's event loop
            return ChannelResponse(200, ACK)
        context = {"from": "", "to": "", "encrypted": self.encrypts(), **context}
        response = self.passive_text(pieces[0], context)
        if key:
            self.deliveries.answered(str(key), response)
        return response

    def fits_inline(self, reply: Reply) -> bool:
        """One text message at most: a longer reply goes through the message API."""
        return len(self.texts_of(reply)) <= 1

    def address(self, message: IncomingMessage) -> dict[str, Any] | None:
        """The follower (openid) or member (userid), the account, and WeCom's application:
        what the message API needs to reach them later (stored with the conversation)."""
        context = message.meta.get(CONTEXT) or {}
        if not context.get("from"):
            return None
        where = {"user": context["from"], "account": context.get("to") or ""}
        if context.get("agent") is not None:
            where["agent"] = context["agent"]
        return where

    def send(self, message: IncomingMessage, reply: Reply, bot: Bot | None) -> None:
        """Send the reply through the message API (``outbound``), in pieces that fit. A
        ``repeated`` reply (the stored answer to a message answered before a restart) is
        not sent again."""
        if reply.meta.get("repeated"):
            log.info(
                "%s message in %s answered before: not sent again", self.name, message.session_id
            )
            return
        self._outbound().send(self.conversation(message), reply)
        key = message.meta.get("message_id")
        if key:
            self.deliveries.answered(str(key))

    def _send_quietly(self, message: IncomingMessage, reply: Reply) -> None:
        try:
            self.send(message, reply, None)
        except Exception:
            log.exception("%s delivery failed (session %s)", self.name, message.session_id)

    def api_message(self, address: Mapping[str, Any], text: str) -> dict[str, Any]:
        """The message API's body for one text message to ``address``."""
        raise NotImplementedError  # pragma: no cover


class WeChatOutbound(Outbound):
    """Text messages through the platform's message API (the customer-service message API
    of an Official Account, WeCom's ``message/send``), split to fit one message each."""

    def __init__(
        self,
        api: PlatformAPI,
        message: Callable[[Mapping[str, Any], str], dict[str, Any]],
        limit: int = MAX_TEXT_BYTES,
    ) -> None:
        self.api = api
        self.message = message
        self.limit = limit

    def send_text(self, conversation: Conversation, text: str) -> None:
        if not conversation.address.get("user"):
            raise WeChatAPIError(f"conversation {conversation.session_id} has no WeChat address")
        for piece in split_text(text, self.limit):
            self.api.send(self.message(conversation.address, piece))


class WeChatConnector(_WeChatBase):
    """An Official Account's callback in; the passive reply or the customer-service
    message API (``cgi-bin/message/custom/send``) out."""

    name = "wechat"
    Options = WeChatOptions
    _crypto_class = PrpCrypto
    _reply_class = TextReply

    def missing(self) -> list[str]:
        opts: WeChatOptions = self.options  # type: ignore[assignment]
        needed: dict[str, Any] = {"token": opts.token, "app_id": opts.app_id}
        if opts.access_token is None:
            needed["app_secret"] = opts.app_secret
        if opts.encryption != "plaintext":
            needed["encoding_aes_key"] = opts.encoding_aes_key
        return [f"channels.wechat.{k}" for k, v in needed.items() if v is None]

    def hint(self) -> str:
        return (
            "set them in config.yaml from the environment (token: ${WECHAT_TOKEN}, app_id: "
            "wx..., app_secret: ${WECHAT_APP_SECRET} or access_token: ${WECHAT_ACCESS_TOKEN}, "
            "encoding_aes_key: ${WECHAT_AES_KEY} unless encryption: plaintext; the console's "
            "Settings and Development > Basic Configuration page shows them)"
        )

    def make_api(self) -> PlatformAPI:
        opts: WeChatOptions = self.options  # type: ignore[assignment]
        return PlatformAPI(
            opts.api_base,
            token_path="cgi-bin/token",
            token_params={
                "grant_type": "client_credential",
                "appid": opts.app_id or "",
                "secret": _secret(opts.app_secret) or "",
            },
            send_path="cgi-bin/message/custom/send",
            static_token=_secret(opts.access_token),
            timeout=opts.api_timeout_s,
            name="wechat",
        )

    def encrypts(self) -> bool:
        return self.options.encryption == "safe"  # type: ignore[attr-defined]

    @property
    def own_id(self) -> str:
        return self.options.app_id or ""  # type: ignore[attr-defined]

    def verify(self, request: ChannelRequest) -> None:
        """The ``signature`` over token, timestamp and nonce (every callback has it; a URL
        check signed only with a ``msg_signature`` over its echostr is checked in
        ``url_verification``)."""
        stamp, nonce = self.check_time(request)
        given = request.query.get("signature")
        if given is None and request.method.upper() == "GET" and request.query.get("msg_signature"):
            return
        self.check_signature(request, given, stamp, nonce)

    def url_verification(self, request: ChannelRequest) -> ChannelResponse:
        """WeChat's URL check: ``echostr`` answered as sent. Signed as in safe mode (a
        ``msg_signature`` over the echostr), an encrypted echostr is answered decrypted."""
        echo = request.query.get("echostr")
        if not echo:
            raise ChannelError(400, "missing_echostr", "a URL verification needs echostr")
        sealed = request.query.get("msg_signature")
        if sealed and "signature" not in request.query:
            stamp, nonce = request.query["timestamp"], request.query["nonce"]
            self.check_signature(request, sealed, stamp, nonce, echo)
            if self.key is not None:
                with contextlib.suppress(Exception):  # else a plain echostr, signed so
                    echo = self._crypto_class(self.key).decrypt(echo, self.own_id)
        return ChannelResponse.text(echo)

    def open_message(self, request: ChannelRequest) -> tuple[Any, bool]:
        mode = self.options.encryption  # type: ignore[attr-defined]
        encrypted = request.query.get("encrypt_type", "raw").lower() == "aes"
        if not encrypted and mode == "safe":
            raise self.refuse(
                request,
                400,
                "encryption_required",
                "the message is not encrypted, but channels.wechat.encryption is safe",
                "set the console's message encryption to safe mode (安全模式), or "
                "channels.wechat.encryption to match it",
            )
        envelope = parse_xml(request.body)
        if not encrypted:
            return _message(parse_message, envelope, request.body), False
        stamp, nonce = request.query.get("timestamp", ""), request.query.get("nonce", "")
        cipher = envelope.get("Encrypt")
        if not isinstance(cipher, str) or not cipher:
            raise ChannelError(400, "bad_xml", "an encrypted message needs its <Encrypt> field")
        self.check_signature(request, request.query.get("msg_signature"), stamp, nonce, cipher)
        plain = self.decrypt(request, cipher)
        return _message(parse_message, parse_xml(plain), plain), True

    def session_id(self, context: Mapping[str, Any]) -> str:
        return f"wechat:{context['to']}:{context['from']}"

    def api_message(self, address: Mapping[str, Any], text: str) -> dict[str, Any]:
        return {"touser": address["user"], "msgtype": "text", "text": {"content": text}}


class WeComConnector(_WeChatBase):
    """A WeCom (企业微信) application's callback in (always encrypted); the passive reply
    or ``cgi-bin/message/send`` out."""

    name = "wecom"
    Options = WeComOptions
    _crypto_class = WorkPrpCrypto
    _reply_class = WorkTextReply

    def missing(self) -> list[str]:
        opts: WeComOptions = self.options  # type: ignore[assignment]
        needed: dict[str, Any] = {
            "corp_id": opts.corp_id,
            "agent_id": opts.agent_id,
            "token": opts.token,
            "encoding_aes_key": opts.encoding_aes_key,
        }
        if opts.access_token is None:
            needed["secret"] = opts.secret
        return [f"channels.wecom.{k}" for k, v in needed.items() if v is None]

    def hint(self) -> str:
        return (
            "set them in config.yaml from the environment (corp_id: ww..., agent_id: 1000002, "
            "token: ${WECOM_TOKEN}, encoding_aes_key: ${WECOM_AES_KEY}, secret: "
            "${WECOM_SECRET}; the admin console's app page and its 'Receive messages' "
            "settings show them)"
        )

    def make_api(self) -> PlatformAPI:
        opts: WeComOptions = self.options  # type: ignore[assignment]
        return PlatformAPI(
            opts.api_base,
            token_path="cgi-bin/gettoken",
            token_params={"corpid": opts.corp_id or "", "corpsecret": _secret(opts.secret) or ""},
            send_path="cgi-bin/message/send",
            static_token=_secret(opts.access_token),
            timeout=opts.api_timeout_s,
            name="wecom",
        )

    @property
    def own_id(self) -> str:
        return self.options.corp_id or ""  # type: ignore[attr-defined]

    def verify(self, request: ChannelRequest) -> None:
        """The timestamp; the ``msg_signature`` (over the encrypted part too) is checked
        where that part is read (``url_verification``, ``open_message``)."""
        self.check_time(request)
        if not request.query.get("msg_signature"):
            raise self.refuse(
                request,
                401,
                "bad_signature",
                "the request has no msg_signature",
                "WeCom signs each callback with channels.wecom.token",
            )

    def url_verification(self, request: ChannelRequest) -> ChannelResponse:
        """WeCom's URL check: the signed, encrypted ``echostr``, answered decrypted."""
        echo = request.query.get("echostr")
        if not echo:
            raise ChannelError(400, "missing_echostr", "a URL verification needs echostr")
        stamp, nonce = request.query["timestamp"], request.query["nonce"]
        self.check_signature(request, request.query.get("msg_signature"), stamp, nonce, echo)
        return ChannelResponse.text(self.decrypt(request, echo))

    def open_message(self, request: ChannelRequest) -> tuple[Any, bool]:
        envelope = parse_xml(request.body)
        cipher = envelope.get("Encrypt")
        if not isinstance(cipher, str) or not cipher:
            raise ChannelError(400, "bad_xml", "a WeCom message needs its <Encrypt> field")
        stamp, nonce = request.query["timestamp"], request.query["nonce"]
        self.check_signature(request, request.query.get("msg_signature"), stamp, nonce, cipher)
        plain = self.decrypt(request, cipher)
        return _message(parse_work_message, parse_xml(plain), plain), True

    def agent_of(self, message: Any) -> int | None:
        return getattr(message, "agent", None) or self.options.agent_id  # type: ignore[attr-defined]

    def session_id(self, context: Mapping[str, Any]) -> str:
        return f"wecom:{context['to']}:{context['agent']}:{context['from']}"

    def api_message(self, address: Mapping[str, Any], text: str) -> dict[str, Any]:
        return {
            "touser": address["user"],
            "msgtype": "text",
            "agentid": self.options.agent_id,  # type: ignore[attr-defined]
            "text": {"content": text},
        }


def _message(parser: Callable[[str], Any], fields: dict[str, Any], xml: bytes | str) -> Any:
    """wechatpy's message object for an already screened and parsed body."""
    if not isinstance(fields.get("MsgType"), str):
        raise ChannelError(400, "bad_xml", "the message has no <MsgType>")
    if str(fields["MsgType"]).lower() == "event" and not isinstance(fields.get("Event"), str):
        raise ChannelError(400, "bad_xml", "the event has no <Event>")
    try:
        message = parser(xml.decode("utf-8") if isinstance(xml, bytes) else xml)
        _ = (message.id, message.time, message.source)  # fields wechatpy converts lazily
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ChannelError(400, "bad_xml", f"the message's fields are malformed ({exc})") from None
    return message
