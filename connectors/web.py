"""The website channel: the chat widget's JSON API (``/api/chat``) as a connector.

Request body: ``{"text": "...", "session_id": "<token>", "user_id": "...", "meta": {...}}``;
only ``text`` is required (without ``session_id`` a new conversation starts). The response
is ``{"session_id": ..., "reply": {...}}`` with the reply's text, action, confidence,
language, citations, product cards and ``handoff`` flag; see ``reply_payload``.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from bot.types import IncomingMessage, Reply
from connectors.base import (
    ChannelError,
    ChannelRequest,
    ChannelResponse,
    Connector,
    ConnectorOptions,
    Inbound,
    check_json,
)

if TYPE_CHECKING:
    from bot.sessions import SessionStore

MAX_USER_ID = 128
#: a client's id for one message, sent again with every retry of it (see Bot.stream)
MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class ChatRequest(BaseModel):
    """The body of ``/api/chat``, ``/api/chat/stream`` and ``/channels/web``, as the API
    documentation shows it (``WebConnector.message`` checks it, with messages that say what
    to fix)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description="the customer's message (not only spaces)")
    session_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="the token the server gave this conversation; omit it to start one",
    )
    user_id: str = Field(default="anonymous", min_length=1, max_length=MAX_USER_ID)
    message_id: str | None = Field(
        default=None,
        pattern=f"^{MESSAGE_ID.pattern}$",
        description="the client's id for this message, the same for every retry of it",
    )
    meta: dict[str, Any] = Field(default_factory=dict, description="free-form context")


class SessionRequest(BaseModel):
    """The (optional) body of ``POST /api/sessions``."""

    model_config = ConfigDict(extra="allow")

    user_id: str = Field(default="anonymous", min_length=1, max_length=MAX_USER_ID)


class AgentMessage(BaseModel):
    """The body of ``POST /api/sessions/{token}/agent``: what the human agent says."""

    text: str = Field(min_length=1, description="the agent's message (not only spaces)")


def new_session_token() -> str:
    """An unguessable session token (128 bits), the only key to a web conversation."""
    return "w_" + secrets.token_urlsafe(16)


def reply_payload(reply: Reply) -> dict[str, Any]:
    """A reply as the widget and API clients see it (no internal meta beyond latency)."""
    data = reply.to_json()
    meta = data.pop("meta", {}) or {}
    data.pop("session_id", None)
    data["handoff"] = reply.action == "handoff" and not reply.unattended  # a person takes over
    if "latency_ms" in meta:
        data["latency_ms"] = meta["latency_ms"]
    return data


class WebOptions(ConnectorOptions):
    """The widget's defaults, used on the demo page (each can be set per embed tag)."""

    title: str = Field(default="Chat with us", description="the widget's header")
    greeting: str = Field(
        default="Hi! Ask me about orders, shipping, returns or our products.",
        description="the first bubble a new visitor sees",
    )
    color: str = Field(default="#2f6f4f", pattern=r"^#[0-9a-fA-F]{3,8}$", description="accent")
    position: str = Field(default="right", pattern=r"^(left|right)$")
    language: str = Field(default="auto", description="auto (the browser's) | en | zh")


class WebConnector(Connector):
    """JSON in, JSON out; the dispatcher adds the limits, the server streaming.

    ``sessions`` is the store the server answers from: with it, a ``session_id`` the server
    never issued (or one of another channel's conversations) is refused at ``parse`` with a
    404, so that a client cannot choose its conversation's id or read another channel's.
    """

    name = "web"
    Options = WebOptions

    def __init__(self, options: Any = None, *, max_chars: int = 2000) -> None:
        super().__init__(options)
        self.max_chars = max_chars
        self.sessions: SessionStore | None = None

    def parse(self, request: ChannelRequest) -> Inbound:
        body = self.body(request)
        message = self.message(body, client=request.client)
        if isinstance(body, dict) and body.get("session_id") is not None:
            self.require(message.session_id)  # 404 for tokens the server never gave out
        return Inbound([message])

    @staticmethod
    def body(request: ChannelRequest) -> Any:
        """The JSON body (None when empty); a 415 when it is not JSON and says it is not."""
        if not request.body.strip():
            return None
        try:
            return request.json()
        except ChannelError as exc:
            kind = request.headers.get("content-type", "").split(";")[0].strip()
            if kind and kind != "application/json":
                raise ChannelError(
                    415,
                    "unsupported_media_type",
                    f"the body is {kind}, not JSON: send a JSON object with "
                    "Content-Type: application/json",
                ) from None
            raise exc from None

    def require(self, session_id: str) -> None:
        """ChannelError 404 unless ``session_id`` is a conversation of this channel."""
        if self.sessions is None:
            return
        try:
            found = self.sessions.get(session_id, last=0)
        except ValueError:  # not even a valid id
            found = None
        if found is None or found.channel != self.name:
            raise unknown_session()

    def sender(self, message: IncomingMessage, client: str | None) -> str:
        """The customer's own address: the widget's requests come from their browser."""
        return client or "unknown"

    def message(self, body: Any, *, client: str | None = None) -> IncomingMessage:
        """Validate a chat body into an IncomingMessage (ChannelError says what is wrong)."""
        check_json(body)
        if not isinstance(body, dict):
            raise ChannelError(
                422, "bad_body", 'send a JSON object such as {"text": "Where is my order?"}'
            )
        unknown = sorted(set(body) - {"text", "session_id", "user_id", "message_id", "meta"})
        if unknown:
            raise ChannelError(
                422,
                "unknown_field",
                f"unknown field(s) {', '.join(unknown)}: the body takes text, session_id, "
                "user_id, message_id and meta",
            )
        text = body.get("text")
        if not isinstance(text, str):
            raise ChannelError(422, "missing_text", 'the body needs "text", the message (string)')
        if not text.strip():
            raise ChannelError(422, "empty_message", "the message is empty: type a question")
        if len(text) > self.max_chars:
            raise ChannelError(
                413,
                "message_too_long",
                f"the message has {len(text)} characters; the limit is {self.max_chars}. "
                "Shorten it or split it into several messages",
            )
        session_id = body.get("session_id")
        if session_id is not None and (
            not isinstance(session_id, str) or not 0 < len(session_id) <= 128
        ):
            raise ChannelError(
                422, "bad_session_id", "session_id must be the token the server gave you"
            )
        user_id = body.get("user_id", "anonymous")
        if not isinstance(user_id, str) or not 0 < len(user_id) <= MAX_USER_ID:
            raise ChannelError(
                422, "bad_user_id", f"user_id must be a string of 1 to {MAX_USER_ID} characters"
            )
        meta = body.get("meta", {})
        if not isinstance(meta, dict):
            raise ChannelError(422, "bad_meta", "meta must be a JSON object")
        if client:
            meta = {**meta, "client": client}
        message_id = body.get("message_id")
        if message_id is not None:
            if not isinstance(message_id, str) or not MESSAGE_ID.fullmatch(message_id):
                raise ChannelError(
                    422,
                    "bad_message_id",
                    "message_id must be 1 to 64 letters, digits, '-', '_', '.' or ':', the "
                    "same for every retry of one message",
                )
            meta = {**meta, "message_id": message_id}
        return IncomingMessage(
            text=text,
            session_id=session_id or new_session_token(),
            channel=self.name,
            user_id=user_id,
            meta=meta,
        )

    def render(self, reply: Reply, message: IncomingMessage) -> ChannelResponse:
        return ChannelResponse.json({"session_id": reply.session_id, "reply": reply_payload(reply)})


def unknown_session() -> ChannelError:
    return ChannelError(
        404,
        "unknown_session",
        "this conversation does not exist (it may have expired): start a new one by sending "
        "the message without session_id, or POST /api/sessions",
    )
