"""Slack: the Events API over HTTP (``POST /channels/slack``), answered with ``chat.postMessage``.

Inbound, every request's signature is checked first (``slack_sdk.SignatureVerifier``: HMAC
of the signing secret, a 5-minute window, constant-time comparison); a forged or stale one
is a 401 and nothing is answered. Slack allows 3 s for the HTTP response, so the server
acknowledges at once and answers from a worker (``answers_later``): through the server's
``Dispatcher``, so the limits, the conversation's lock and an answering slot apply as on the
web channel. Answers, fallbacks and human agents' messages go out through ``SlackOutbound``
(``chat.postMessage`` in the conversation's thread).

One conversation per (team, channel, thread) for mentions in a channel, per (team, user)
for direct messages. Slack retries an event it thinks was not acknowledged
(``X-Slack-Retry-Num``): each ``event_id`` is answered once. When the bot hands a
conversation over, the (redacted) conversation goes to ``support_channel`` and the bot stays
silent in that thread until the conversation is released.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field, SecretStr, field_validator
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from bot.sessions import Turn
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
from connectors.web import MESSAGE_ID
from knowledge.errors import ConfigError

if TYPE_CHECKING:
    from bot.engine import Bot

log = logging.getLogger(__name__)

#: ``<@U0123ABC>``: a mention of a user (the bot, in an ``app_mention``) inside the text
MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
#: ``Session.meta`` key of a handover: its support thread (ts) and the customer's thread
SUPPORT = "slack_support"
#: what a person writes in a handover's support thread to give it back to the bot
RELEASE = frozenset({"release", "!release", "/release", "done"})


class SlackOptions(ConnectorOptions):
    """``channels.slack`` in config.yaml (secrets as ``${ENV}``; see the README's Slack guide)."""

    signing_secret: SecretStr | None = Field(
        default=None, description="the app's Signing Secret, e.g. ${SLACK_SIGNING_SECRET}"
    )
    bot_token: SecretStr | None = Field(
        default=None, description="the Bot User OAuth Token (xoxb-...), e.g. ${SLACK_BOT_TOKEN}"
    )
    support_channel: str | None = Field(
        default=None,
        description="channel id (C...) where handed-over conversations are posted for a person",
    )
    api_url: str = Field(
        default="https://slack.com/api/",
        description="Slack Web API base URL (tests and proxies point it elsewhere)",
    )
    verify_signatures: bool = Field(
        default=True, description="check Slack's signature on every request (keep it on)"
    )
    recent_events: int = Field(
        default=10_000, gt=0, description="event ids remembered to answer Slack's retries once"
    )

    @field_validator("signing_secret", "bot_token", "support_channel", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return blank_is_unset(value)

    @field_validator("api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"


class RecentIds:
    """The last ``size`` ids seen, thread-safe: ``add`` says whether an id is new."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._guard = threading.Lock()

    def add(self, key: str) -> bool:
        with self._guard:
            if key in self._ids:
                self._ids.move_to_end(key)
                return False
            self._ids[key] = None
            if len(self._ids) > self.size:
                self._ids.popitem(last=False)
            return True


class SlackConnector(Connector):
    """Slack's Events API in, ``chat.postMessage`` out."""

    name = "slack"
    Options = SlackOptions
    answers_later = True  # Slack waits 3 s at most: acknowledge, then answer from a worker

    def __init__(self, options: Any = None, *, client: WebClient | None = None) -> None:
        super().__init__(options)
        opts: SlackOptions = self.options  # type: ignore[assignment]
        secrets = {"signing_secret": opts.signing_secret, "bot_token": opts.bot_token}
        if not opts.verify_signatures:
            del secrets["signing_secret"]
        missing = [f"channels.slack.{key}" for key, value in secrets.items() if value is None]
        if missing:
            raise ConfigError(
                f"the slack channel is enabled but {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set: set them in config.yaml from "
                "the environment (signing_secret: ${SLACK_SIGNING_SECRET}, bot_token: "
                "${SLACK_BOT_TOKEN}; the app's Basic Information and OAuth & Permissions "
                "pages show them), or set channels.slack.enabled: false"
            )
        if not opts.verify_signatures:
            log.warning("channels.slack.verify_signatures is off: anyone can post as Slack")
        secret = opts.signing_secret.get_secret_value() if opts.signing_secret else None
        self.verifier = SignatureVerifier(secret) if secret else None
        token = opts.bot_token.get_secret_value() if opts.bot_token else None
        self.client = client or WebClient(token=token, base_url=opts.api_url, timeout=10)
        self.outbound: SlackOutbound = SlackOutbound(self.client)
        self.seen = RecentIds(opts.recent_events)

    # ------------------------------------------------------------------ inbound
    def verify(self, request: ChannelRequest) -> None:
        if self.verifier is None:
            return
        timestamp = request.headers.get("x-slack-request-timestamp")
        signature = request.headers.get("x-slack-signature")
        code = "bad_signature"
        if not timestamp or not signature:
            problem = "the request has no X-Slack-Signature / X-Slack-Request-Timestamp headers"
        elif not (timestamp.isascii() and timestamp.isdigit()):
            problem = "X-Slack-Request-Timestamp is not a number of seconds"
        elif abs(self.verifier.clock.now() - int(timestamp)) > 300:
            code = "stale_request"
            problem = "the request timestamp is more than 5 minutes away from now (a replay?)"
        else:
            try:
                valid = self.verifier.is_valid(request.body, timestamp, signature)
            except UnicodeDecodeError:
                valid = False
            problem = None if valid else "the signature does not match the signing secret"
        if problem is not None:
            log.warning("slack request refused (%s) from %s", problem, request.client or "?")
            raise ChannelError(
                401,
                code,
                f"{problem}: Slack signs each request with the app's signing secret; check "
                "channels.slack.signing_secret and the server's clock",
            )

    def parse(self, request: ChannelRequest) -> Inbound:
        body = request.json()
        if not isinstance(body, dict):
            raise ChannelError(422, "bad_body", "a Slack event must be a JSON object")
        kind = body.get("type")
        if kind == "url_verification":
            challenge = body.get("challenge")
            if not isinstance(challenge, str):
                raise ChannelError(422, "bad_challenge", "url_verification needs a challenge")
            return Inbound(response=ChannelResponse.json({"challenge": challenge}))
        if kind != "event_callback" or not isinstance(body.get("event"), dict):
            return Inbound(response=ChannelResponse(200))  # nothing for the bot
        message = self.message(body)
        if message is None:
            return Inbound(response=ChannelResponse(200))
        event_id = body.get("event_id")
        if isinstance(event_id, str) and not self.seen.add(event_id):
            retry = request.headers.get("x-slack-retry-num", "?")
            log.info("slack event %s delivered again (retry %s): answered once", event_id, retry)
            return Inbound(response=ChannelResponse(200))
        return Inbound([message])

    def message(self, body: dict[str, Any]) -> IncomingMessage | None:
        """The customer's message in an ``event_callback``, or None for events the bot
        leaves alone: its own and other bots' messages, edits, deletions, channel chatter
        that does not mention it."""
        event: dict[str, Any] = body["event"]
        kind, user, text = event.get("type"), event.get("user"), event.get("text")
        own = {a.get("user_id") for a in body.get("authorizations") or [] if isinstance(a, dict)}
        if (
            event.get("bot_id")
            or event.get("subtype")  # bot_message, message_changed, message_deleted, joins...
            or not isinstance(user, str)
            or user in own
            or not isinstance(text, str)
        ):
            return None
        channel = event.get("channel")
        team = body.get("team_id") or event.get("team") or "T"
        if not isinstance(channel, str):
            return None
        thread = event.get("thread_ts")
        support = self.options.support_channel  # type: ignore[attr-defined]
        if channel == support:  # a person of the support team, in a handover's thread
            if kind != "message" or not isinstance(thread, str) or not text.strip():
                return None
            where = {"team": team, "channel": channel, "thread_ts": thread}
            return IncomingMessage(
                text=text.strip(),
                session_id=f"slack:{team}:{channel}:{thread}",
                channel=self.name,
                user_id=user,
                meta={"slack": where, "agent": True},
            )
        if kind == "app_mention":
            thread = thread or event.get("ts")
            session_id = f"slack:{team}:{channel}:{thread}"
        elif kind == "message" and event.get("channel_type") == "im":
            session_id = f"slack:{team}:dm:{user}"
        else:
            return None
        text = MENTION.sub("", text).strip()
        if not text:
            return None
        meta: dict[str, Any] = {"slack": {"team": team, "channel": channel, "thread_ts": thread}}
        event_id = body.get("event_id")
        if isinstance(event_id, str) and MESSAGE_ID.fullmatch(event_id):
            meta["message_id"] = event_id  # the bot keeps its answer: a late retry gets it
        return IncomingMessage(
            text=text, session_id=session_id, channel=self.name, user_id=user, meta=meta
        )

    def address(self, message: IncomingMessage) -> dict[str, Any] | None:
        """The customer's channel and thread (``thread_ts`` None in a direct message)."""
        where = message.meta.get("slack")
        return dict(where) if isinstance(where, dict) and not message.meta.get("agent") else None

    # ------------------------------------------------------------------ outbound
    def render(self, reply: Reply, message: IncomingMessage) -> ChannelResponse:
        """The ``chat.postMessage`` arguments for the reply (text; empty when silent)."""
        return ChannelResponse.json(SlackOutbound.payload(self.conversation(message), reply))

    def send(self, message: IncomingMessage, reply: Reply, bot: Bot) -> None:
        """Post the reply in its thread; a handover also goes to the support channel."""
        super().send(message, reply, bot)
        if reply.meta.get("repeated"):
            return
        support = self.options.support_channel  # type: ignore[attr-defined]
        if reply.action == "handoff" and not reply.unattended and not reply.silent and support:
            ts = self.post({"channel": support, "text": handoff_text(bot, message)})
            session = bot.sessions.get(message.session_id, last=0)
            if ts and session is not None:  # where the support team's replies will come from
                session.meta[SUPPORT] = {"ts": ts, **message.meta.get("slack", {})}
                bot.sessions.save_state(session)

    def agent(self, message: IncomingMessage, bot: Bot, lock: Callable[[str], Any]) -> None:
        """A reply in a handover's support thread: ``release`` gives the conversation back
        to the bot; anything else goes to the customer's thread as the agent's message
        (stored redacted, as all text)."""
        thread = message.meta["slack"]["thread_ts"]
        found = next(
            (
                s
                for s in bot.sessions.list_sessions(state="handoff", limit=1000)
                if s.channel == self.name and s.meta.get(SUPPORT, {}).get("ts") == thread
            ),
            None,
        )
        if found is None:
            log.info("slack support thread %s is no handover in progress", thread)
            return
        with lock(found.id):
            session = bot.sessions.get(found.id, last=0)
            if session is None or session.state != "handoff":
                return
            where = session.meta[SUPPORT]
            if message.text.strip().lower() in RELEASE:
                session.state, session.failures = "bot", 0
                del session.meta[SUPPORT]
                bot.sessions.save_state(session)
                text = "Released: the bot answers this conversation again."
                self.post(
                    {"channel": message.meta["slack"]["channel"], "thread_ts": thread, "text": text}
                )
                return
            bot.sessions.append(session, Turn("agent", bot.redact(message.text, session)))
            customer = Conversation(session.id, self.name, where, session.user_id)
            self.outbound.send_text(customer, message.text)

    def post(self, payload: dict[str, Any]) -> str | None:
        """``chat.postMessage``; the posted message's ts (see ``SlackOutbound.post``)."""
        return self.outbound.post(payload)


class SlackOutbound(Outbound):
    """``chat.postMessage`` to a conversation's channel, in its thread when it has one."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    @staticmethod
    def payload(conversation: Conversation, reply: Reply) -> dict[str, Any]:
        """The ``chat.postMessage`` arguments of ``reply`` (Slack shows the text fallback)."""
        return SlackOutbound.text_payload(conversation, reply_as_text(reply))

    @staticmethod
    def text_payload(conversation: Conversation, text: str) -> dict[str, Any]:
        where = conversation.address
        payload = {"channel": where.get("channel"), "text": text}
        if where.get("thread_ts"):
            payload["thread_ts"] = where["thread_ts"]
        return payload

    def send_text(self, conversation: Conversation, text: str) -> None:
        """Post ``text``; SlackApiError when Slack refuses it, for the caller to log (the
        agent API answers ``relayed: false``)."""
        self.client.chat_postMessage(**self.text_payload(conversation, text))

    def post(self, payload: dict[str, Any]) -> str | None:
        """``chat.postMessage``; the posted message's ts, None when nothing was posted."""
        if not payload.get("text"):
            return None  # a silent reply: a person has the conversation
        try:
            response = self.client.chat_postMessage(**payload)
        except SlackApiError as exc:
            log.error("chat.postMessage to %s failed: %s", payload.get("channel"), exc.response)
            return None
        ts = response.get("ts") if hasattr(response, "get") else None
        return ts if isinstance(ts, str) else None


def handoff_text(bot: Bot, message: IncomingMessage) -> str:
    """The conversation for the support team, as stored (personal data redacted)."""
    where = message.meta.get("slack", {})
    place = f"<#{where.get('channel')}>" if where.get("channel") else "Slack"
    head = f"Handoff from {place} (conversation {message.session_id}, user <@{message.user_id}>):"
    session = bot.sessions.get(message.session_id, last=20)
    lines = [head]
    for turn in session.turns if session else []:
        if turn.role != "system" and turn.text:
            lines.append(f"*{turn.role}*: {bot.redact(turn.text, session)}")
    return "\n".join(lines)
