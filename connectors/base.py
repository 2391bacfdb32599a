"""The connector interface every channel implements, and the registry that finds them.

A connector translates between one platform and the bot:

    ChannelRequest ─verify,parse─▶ IncomingMessage ─Bot.reply─▶ Reply ─render─▶ ChannelResponse

``ChannelRequest`` / ``ChannelResponse`` are framework-neutral (plain bytes, headers and a
status), so a connector can be driven without a web server: the HTTP server adapts them to
FastAPI, transcript replay and the tests build them directly. Built-in connectors are
registered by name; config.yaml enables them under ``channels:``, where a key may also be a
dotted import path (``mypackage.channels:TelegramConnector``) to a third-party connector.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ValidationError

from bot.types import IncomingMessage, Reply
from knowledge.config import StrictModel
from knowledge.errors import ConfigError, ShopbotError

if TYPE_CHECKING:
    from bot.engine import Bot


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


class ConnectorOptions(StrictModel):
    """Options every connector accepts under ``channels.<name>:`` in config.yaml."""

    enabled: bool = True


class Connector(ABC):
    """One channel. Subclasses set ``name`` and implement ``parse`` and ``render``.

    ``handle`` runs the whole round trip for platforms that answer in the HTTP response.
    Platforms that answer out of band (a REST call back) override ``deliver``.
    """

    name: ClassVar[str]
    Options: ClassVar[type[ConnectorOptions]] = ConnectorOptions
    #: acknowledge at once and answer from a worker with ``send`` (a platform with a short
    #: window, such as Slack's 3 s); otherwise the answer is the HTTP response
    answers_later: ClassVar[bool] = False

    def __init__(self, options: ConnectorOptions | Mapping[str, Any] | None = None) -> None:
        if options is None or isinstance(options, Mapping):
            options = _validated(self.Options, dict(options or {}), self.name)
        self.options = options

    def verify(self, request: ChannelRequest) -> None:  # noqa: B027 - optional hook
        """Raise ChannelError(401/403) unless the request really comes from the platform."""

    @abstractmethod
    def parse(self, request: ChannelRequest) -> Inbound:
        """The customer messages in a request (ChannelError when it is malformed)."""

    @abstractmethod
    def render(self, reply: Reply, message: IncomingMessage) -> ChannelResponse:
        """The reply in the platform's format. A silent reply renders as an empty ack."""

    def deliver(self, replies: list[tuple[IncomingMessage, Reply]]) -> ChannelResponse:
        """Send the replies; by default the (single) rendered reply is the HTTP response."""
        if not replies:
            return ChannelResponse(200)
        message, reply = replies[-1]
        return self.render(reply, message)

    def send(self, message: IncomingMessage, reply: Reply, bot: Bot) -> None:
        """Deliver one reply out of band (connectors with ``answers_later``)."""
        raise NotImplementedError(f"the {self.name} channel answers in the HTTP response")

    def agent(self, message: IncomingMessage, bot: Bot, lock: Any) -> None:
        """A human agent's message arriving on the platform (``meta["agent"]``): relay it to
        the customer's conversation, or release the conversation (``answers_later``)."""
        raise NotImplementedError(f"the {self.name} channel takes no agent messages")

    def fallback(  # noqa: B027 - optional hook
        self, message: IncomingMessage, text: str | None = None
    ) -> None:
        """Tell the customer out of band that the bot could not answer (``answers_later``):
        ``text`` says why when the customer may know (a rate limit), else a generic text."""

    def handle(self, request: ChannelRequest, bot: Bot) -> ChannelResponse:
        """verify → parse → Bot.reply for each message → deliver; refusals become 4xx."""
        try:
            self.verify(request)
            inbound = self.parse(request)
            if inbound.response is not None:
                return inbound.response
            replies = [(message, bot.reply(message)) for message in inbound.messages]
        except ChannelError as exc:
            return exc.response()
        except ValueError as exc:  # the bot refused the message (empty, too long)
            return ChannelError(422, "bad_message", str(exc)).response()
        return self.deliver(replies)


# ---------------------------------------------------------------------------- text fallback
def reply_as_text(reply: Reply, *, sources: bool = True, max_products: int = 5) -> str:
    """A reply as plain text, for channels that cannot show links or cards.

    Citations become a "Sources:" list, product cards one line each; a handoff reply is its
    notice text; a silent reply is empty.
    """
    if reply.silent:
        return ""
    zh = reply.language == "zh"
    parts = [reply.text.strip()]
    if reply.products and reply.action != "recommend":  # a recommendation lists them itself
        lines = []
        for card in reply.products[:max_products]:
            price = (
                f" — {card.price:.2f} {card.currency}".rstrip() if card.price is not None else ""
            )
            url = f" {card.url}" if card.url else ""
            lines.append(f"• {card.title}{price}{url}")
        parts.append("\n".join(lines))
    if sources and reply.citations and reply.action != "answer_faq":
        head = "来源：" if zh else "Sources:"
        lines = [head]
        for citation in reply.citations:
            url = f" {citation.url}" if citation.url else ""
            lines.append(f"[{citation.n}] {citation.title}{url}")
        parts.append("\n".join(lines))
    return "\n\n".join(p for p in parts if p)


# ---------------------------------------------------------------------------- registry
_REGISTRY: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    """Class decorator: make a connector available under ``cls.name``."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__name__} needs a class attribute `name` to be registered")
    _REGISTRY[name] = cls
    return cls


def _load_builtins() -> None:
    from connectors import replay_channel, slack, web, wechat  # noqa: F401 - registers them


def available() -> list[str]:
    """Names of the built-in (and already registered) connectors."""
    _load_builtins()
    return sorted(_REGISTRY)


def connector_class(name: str) -> type[Connector]:
    """The connector registered as ``name``, or imported from ``package.module:Class``.

    ConfigError says which names exist, or why the import failed.
    """
    _load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" not in name and "." not in name:
        raise ConfigError(
            f"unknown channel {name!r}: the built-in channels are {', '.join(available())}; "
            "a third-party connector is named by its import path, e.g. mypackage.module:MyConnector"
        )
    module_name, _, attr = name.partition(":") if ":" in name else name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"channel {name!r}: cannot import module {module_name!r} ({exc}); install the "
            f"package that provides it. Built-in channels: {', '.join(available())}"
        ) from None
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        found = "nothing" if cls is None else type(cls).__name__
        raise ConfigError(
            f"channel {name!r}: {module_name}.{attr} is {found}, not a shopbot Connector "
            "subclass (from connectors.base import Connector)"
        )
    return cls


def _validated(model: type[ConnectorOptions], raw: dict[str, Any], name: str) -> ConnectorOptions:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"channels.{name}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{problems} (fix it in config.yaml)") from None


def build_connectors(channels: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Connector]:
    """The enabled connectors, keyed by their config name (errors name the bad key)."""
    built: dict[str, Connector] = {}
    for key, raw in channels.items():
        cls = connector_class(key)
        options = _validated(cls.Options, dict(raw or {}), key)
        if options.enabled:
            built[key] = cls(options)
    return built
