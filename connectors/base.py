"""The connector interface every channel implements: inbound (``Connector``) and outbound
(``connectors.outbound``), over framework-neutral requests and responses.

A connector translates between one platform and the bot:

    ChannelRequest ─verify,parse─▶ IncomingMessage ─Bot.reply─▶ Reply ─render / send─▶ platform

``ChannelRequest`` / ``ChannelResponse`` are framework-neutral (plain bytes, headers and a
status), so a connector can be driven without a web server: the HTTP server adapts them to
FastAPI and runs them through its ``Dispatcher`` (``connectors/dispatch.py``); transcript
replay and the tests build them directly. Which connectors exist, and how config.yaml names
them, is ``connectors/registry.py``: this module imports no channel.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr, ValidationError

from bot.sessions import Session
from bot.types import IncomingMessage, Reply
from connectors.outbound import Conversation, Outbound, reply_as_text
from knowledge.config import StrictModel
from knowledge.errors import ConfigError, ShopbotError

if TYPE_CHECKING:
    from bot.engine import Bot

__all__ = [
    "ChannelError",
    "ChannelRequest",
    "ChannelResponse",
    "Connector",
    "ConnectorOptions",
    "Conversation",
    "Headers",
    "Inbound",
    "Outbound",
    "check_json",
    "parse_json",
    "reply_as_text",
    "validated_options",
]

log = logging.getLogger(__name__)


class ChannelError(ShopbotError):
    """A request a connector refuses: bad payload, forged signature, oversized message.

    ``status`` is the HTTP status to answer with (always 4xx); ``code`` a stable
    machine-readable name; the message says what is wrong and how to fix it.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        if not 400 <= status < 500:
            raise ValueError(f"ChannelError status must be 4xx, got {status}")
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def payload(self) -> dict[str, Any]:
        """The JSON body every refusal is answered with."""
        return {"error": {"code": self.code, "message": self.message}}

    def response(self) -> ChannelResponse:
        return ChannelResponse.json(self.payload(), status=self.status)


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only header mapping (the last value wins on repeats)."""

    def __init__(self, items: Mapping[str, str] | list[tuple[str, str]] | None = None) -> None:
        pairs = items.items() if isinstance(items, Mapping) else (items or [])
        self._items = {k.lower(): v for k, v in pairs}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({sorted(self._items)})"  # names only: values may hold secrets


@dataclass
class ChannelRequest:
    """One inbound HTTP request, independent of any web framework."""

    method: str = "POST"
    path: str = "/"
    headers: Headers = field(default_factory=Headers)
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    client: str | None = None  # the caller's IP address, when known

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            self.headers = Headers(self.headers)

    @classmethod
    def from_json(cls, payload: Any, **kwargs: Any) -> ChannelRequest:
        headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
        body = json.dumps(payload, ensure_ascii=False).encode()
        return cls(body=body, headers=Headers(headers), **kwargs)

    def text(self) -> str:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ChannelError(
                400, "bad_encoding", f"the request body is not UTF-8 (byte {exc.start})"
            ) from None

    def json(self) -> Any:
        """The body as JSON; a 400/422 ChannelError that says what is wrong if it is not."""
        if not self.body.strip():
            raise ChannelError(400, "empty_body", "the request body is empty: send a JSON object")
        return parse_json(self.text())


#: JSON nested deeper than this is refused (a chat body needs three levels; json.loads
#: itself would raise RecursionError near 1,000)
MAX_JSON_DEPTH = 32


def parse_json(text: str) -> Any:
    """``text`` as JSON, refused with a ChannelError that names the problem and the fix when
    it is not valid, is nested too deep, holds a number Python will not convert (5,000
    digits, ``1e999``, ``NaN``) or a string that is not Unicode (a lone UTF-16 surrogate)."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise ChannelError(
            400,
            "bad_json",
            f"the request body is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno})",
        ) from None
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:
        raise ChannelError(400, "bad_number", f"the request body {_number_problem(exc)}") from None
    check_json(value)
    return value


def check_json(value: Any) -> None:
    """ChannelError unless ``value`` nests at most MAX_JSON_DEPTH deep and every string in it
    (keys too) is encodable Unicode; the message names the offending field."""
    stack: list[tuple[Any, str, int]] = [(value, "body", 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, where)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(item, dict):
            for key, inner in item.items():
                _check_text(key, f"a key in {where}")
                stack.append((inner, f"{where}.{key}", depth + 1))
        else:
            stack.extend((inner, f"{where}[{n}]", depth + 1) for n, inner in enumerate(item))


#: a UTF-16 surrogate code point on its own: valid in a JSON escape, not in any encoding
_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_text(text: str, where: str) -> None:
    found = _SURROGATE.search(text)
    if found is not None:
        raise ChannelError(
            422,
            "bad_unicode",
            f"{where} holds a lone UTF-16 surrogate (\\u{ord(found.group()):04x} at character "
            f"{found.start()}), which is not a character: send the text as UTF-8, or escape a "
            "character outside the BMP (an emoji) as its full surrogate pair",
        )


def _too_deep() -> ChannelError:
    return ChannelError(
        400,
        "too_deep",
        f"the request body nests JSON more than {MAX_JSON_DEPTH} levels deep: send a flat "
        'object such as {"text": "Where is my order?"}',
    )


def _number_problem(exc: ValueError) -> str:
    digits = re.search(r"value has (\d+) digits", str(exc))
    if digits:  # int() refuses more than sys.get_int_max_str_digits() digits
        return (
            f"holds a number of {digits.group(1)} digits; the limit is "
            f"{sys.get_int_max_str_digits()}: send such a value as a string"
        )
    return f"holds a number it cannot carry: {exc}"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; send a finite number or a string")


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"{literal[:20]} is too large for a number; send it as a string")
    return value


@dataclass
class ChannelResponse:
    """What goes back on the HTTP response (often an acknowledgement; see ``Connector``)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> ChannelResponse:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return cls(status, body, {"content-type": "application/json"})

    @classmethod
    def text(
        cls, text: str, status: int = 200, content_type: str = "text/plain"
    ) -> ChannelResponse:
        return cls(status, text.encode(), {"content-type": f"{content_type}; charset=utf-8"})

    def payload(self) -> Any:
        """The body parsed as JSON (tests and replay read responses this way)."""
        return json.loads(self.body) if self.body else None


@dataclass
class Inbound:
    """What ``Connector.parse`` found: messages for the bot, or a response of its own
    (a platform's URL-verification challenge, an event the bot ignores)."""

    messages: list[IncomingMessage] = field(default_factory=list)
    response: ChannelResponse | None = None


def blank_is_unset(value: Any) -> Any:
    """A setting given as blank text is not set: ``${SLACK_BOT_TOKEN:-}`` with the variable
    unset, or a YAML key left empty. A ``SecretStr`` is unwrapped first, to be checked."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return None if isinstance(value, str) and not value.strip() else value


class ConnectorOptions(StrictModel):
    """Options every connector accepts under ``channels.<name>:`` in config.yaml."""

    enabled: bool = True


class Connector(ABC):
    """One channel's inbound half, and the hooks the dispatcher drives it by.

    Subclasses set ``name`` and implement ``parse`` and ``render``. The server's
    ``Dispatcher`` (``connectors/dispatch.py``) runs every request the same way: ``verify``
    → ``parse`` → limits (``sender``) → the conversation's lock and an answering slot →
    ``Bot.reply`` → deliver, in one of three modes set by class attributes:

    - inline (the default): the rendered reply is the HTTP response (``deliver``);
    - ``answers_later``: the platform gets ``acknowledge(messages)`` at once and a worker
      delivers the answer with ``send``, through ``outbound`` (Slack: 3 s to answer);
    - ``answers_later`` and ``reply_window_s``: a worker starts answering; a reply ready
      within the window is the HTTP response (``render``: WeChat's passive reply),
      otherwise the platform gets ``acknowledge`` and the reply goes out with ``send``.
      Exactly one of the two happens.

    ``address`` says where the customer can be reached out of band; the dispatcher stores
    it with the conversation so that a human agent's message (``relay``) reaches them on
    the platform they wrote from.
    """

    name: ClassVar[str]
    Options: ClassVar[type[ConnectorOptions]] = ConnectorOptions
    #: the HTTP methods ``/channels/<name>`` accepts (WeChat checks its URL with a GET);
    #: any other is a 405 naming these
    methods: ClassVar[frozenset[str]] = frozenset({"POST"})
    #: acknowledge at once and answer from a worker (a platform with a short window);
    #: otherwise the answer is the HTTP response
    answers_later: ClassVar[bool] = False
    #: with ``answers_later``: seconds the HTTP response may wait for the answer before it
    #: falls back to the acknowledgement (None: acknowledge at once)
    reply_window_s: ClassVar[float | None] = None
    #: what the customer is told out of band when the bot could not answer
    fallback_text: ClassVar[str] = (
        "Sorry, I could not answer that just now. Please try again in a moment."
    )

    def __init__(self, options: ConnectorOptions | Mapping[str, Any] | None = None) -> None:
        if options is None or isinstance(options, Mapping):
            options = validated_options(self.Options, dict(options or {}), self.name)
        self.options = options
        #: the outbound half: how replies reach the platform out of band (None: only in
        #: the HTTP response). Tests swap in a ``CollectingOutbound``.
        self.outbound: Outbound | None = None

    # ------------------------------------------------------------------ inbound
    def verify(self, request: ChannelRequest) -> None:  # noqa: B027 - optional hook
        """Raise ChannelError(401/403) unless the request really comes from the platform."""

    @abstractmethod
    def parse(self, request: ChannelRequest) -> Inbound:
        """The customer messages in a request (ChannelError when it is malformed)."""

    def sender(self, message: IncomingMessage, client: str | None) -> str:
        """The key the per-sender rate limit counts: by default the platform's user (its
        requests all come from the platform's servers); the web channel counts addresses."""
        return f"{message.channel}:{message.user_id}"

    def address(self, message: IncomingMessage) -> dict[str, Any] | None:
        """Where ``message``'s customer is reached out of band (platform ids, JSON); None
        when the channel answers only in the HTTP response."""
        return None

    def acknowledge(self, messages: list[IncomingMessage]) -> ChannelResponse:
        """The platform's acknowledgement of a request answered later (an empty 200)."""
        return ChannelResponse(200)

    def fits_inline(self, reply: Reply) -> bool:
        """Whether ``reply`` can be the HTTP response of a channel with a reply window
        (WeChat's passive reply is one text message of 2048 bytes); when it cannot, the
        request is acknowledged at once and the worker sends the reply."""
        return True

    # ------------------------------------------------------------------ outbound
    @abstractmethod
    def render(self, reply: Reply, message: IncomingMessage) -> ChannelResponse:
        """The reply in the platform's format. A silent reply renders as an empty ack."""

    def deliver(self, replies: list[tuple[IncomingMessage, Reply]]) -> ChannelResponse:
        """The HTTP response of an inline request: the (last) rendered reply."""
        if not replies:
            return ChannelResponse(200)
        message, reply = replies[-1]
        return self.render(reply, message)

    def conversation(self, message: IncomingMessage) -> Conversation:
        """The outbound address of ``message``'s conversation."""
        return Conversation(
            message.session_id, message.channel, self.address(message) or {}, message.user_id
        )

    def send(self, message: IncomingMessage, reply: Reply, bot: Bot) -> None:
        """Deliver one answer out of band (``answers_later``), through ``outbound``.

        A ``repeated`` reply is the stored answer to a message answered before (a retry
        arriving after a restart forgot it): it went out then, so nothing is sent."""
        if reply.meta.get("repeated"):
            log.info(
                "%s message in %s answered before: not sent again", self.name, reply.session_id
            )
            return
        self._outbound().send(self.conversation(message), reply)

    def fallback(self, message: IncomingMessage, text: str | None = None) -> None:
        """Tell the customer out of band that the bot could not answer (``answers_later``):
        ``text`` says why when the customer may know (a rate limit), else ``fallback_text``."""
        reply = Reply(text or self.fallback_text, "dont_know", 0.0, message.session_id)
        self._outbound().send(self.conversation(message), reply)

    def relay(self, session: Session, text: str) -> bool:
        """A human agent's message (``/api/sessions/{id}/agent``) to ``session``'s customer,
        at the address stored with it; False when the channel cannot reach them out of band
        (the web widget reads it from the conversation's history)."""
        where = Conversation.of(session)
        if self.outbound is None or where is None:
            return False
        language = session.language or "en"
        self.outbound.send(where, Reply(text, "handoff", 1.0, session.id, language))
        return True

    def agent(self, message: IncomingMessage, bot: Bot, lock: Any) -> None:
        """A human agent's message arriving on the platform (``meta["agent"]``): relay it to
        the customer's conversation, or release the conversation (``answers_later``)."""
        raise NotImplementedError(f"the {self.name} channel takes no agent messages")

    def _outbound(self) -> Outbound:
        if self.outbound is None:
            raise NotImplementedError(f"the {self.name} channel answers in the HTTP response")
        return self.outbound

    # ------------------------------------------------------------------ without a server
    def handle(self, request: ChannelRequest, bot: Bot) -> ChannelResponse:
        """The round trip without a server (transcript replay, tests): verify → parse →
        Bot.reply for each message → the response, with no limits and no worker (the server
        runs requests through the ``Dispatcher``). Answers of ``answers_later`` channels go
        out with ``send`` (inline within a ``reply_window_s``: offline, the answer is always
        ready in time); refusals become 4xx."""
        try:
            self.verify(request)
            inbound = self.parse(request)
            if inbound.response is not None:
                return inbound.response
            replies = []
            for message in inbound.messages:
                if message.meta.get("agent"):
                    self.agent(message, bot, lambda _session_id: contextlib.nullcontext())
                else:
                    replies.append((message, bot.reply(message)))
        except ChannelError as exc:
            return exc.response()
        except ValueError as exc:  # the bot refused the message (empty, too long)
            return ChannelError(422, "bad_message", str(exc)).response()
        if not self.answers_later:
            return self.deliver(replies)
        if self.reply_window_s and len(replies) == 1 and not replies[0][1].meta.get("repeated"):
            return self.render(replies[0][1], replies[0][0])
        for message, reply in replies:
            self.send(message, reply, bot)
        return self.acknowledge(inbound.messages)


def validated_options(
    model: type[ConnectorOptions], raw: dict[str, Any], name: str
) -> ConnectorOptions:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"channels.{name}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{problems} (fix it in config.yaml)") from None
