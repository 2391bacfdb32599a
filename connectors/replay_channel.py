"""The replay channel: past conversations fed to the bot offline, one turn per request.

Request body: ``{"conversation_id": "...", "text": "...", "user_id": "..."}``. The response
carries the reply payload (as the web channel's) plus ``text``: the reply as the plain text a
text-only channel would have sent, which is what replay compares with the human agent.
"""

from __future__ import annotations

from typing import Any

from bot.types import IncomingMessage, Reply
from connectors.base import (
    ChannelError,
    ChannelRequest,
    ChannelResponse,
    Connector,
    Inbound,
    reply_as_text,
)
from connectors.web import reply_payload


class ReplayConnector(Connector):
    """Drives the bot from transcripts; no server, no signatures."""

    name = "replay"

    def parse(self, request: ChannelRequest) -> Inbound:
        body = request.json()
        if not isinstance(body, dict):
            raise ChannelError(422, "bad_body", "send a JSON object with conversation_id and text")
        conversation, text = body.get("conversation_id"), body.get("text")
        if not isinstance(conversation, str) or not conversation:
            raise ChannelError(422, "missing_conversation", '"conversation_id" is required')
        if not isinstance(text, str) or not text.strip():
            raise ChannelError(422, "empty_message", '"text" must be a non-empty string')
        user_id = body.get("user_id") or "customer"
        meta: dict[str, Any] = body.get("meta") or {}
        return Inbound(
            [
                IncomingMessage(
                    text=text,
                    session_id=f"replay:{conversation}",
                    channel=self.name,
                    user_id=str(user_id),
                    meta=meta,
                )
            ]
        )

    def render(self, reply: Reply, message: IncomingMessage) -> ChannelResponse:
        payload = reply_payload(reply)
        payload["plain_text"] = reply_as_text(reply)
        payload["conversation_id"] = message.session_id.removeprefix("replay:")
        return ChannelResponse.json(payload)
