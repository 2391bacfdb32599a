"""The outbound half of a channel: how a reply reaches a customer outside an HTTP response.

As Rasa's ``OutputChannel``: one required method (``send_text``), and ``send`` renders the
rich parts of a ``Reply`` (citations, product cards, options) as text unless a platform
overrides it with its own cards. A ``Conversation`` is the address the platform needs to
reach the customer (a Slack channel and thread, a WeChat openid); the dispatcher stores it
in the session (``Session.meta[ADDRESS]``) when a message arrives, so that an answer from a
worker, or a human agent's message hours later and after a restart, finds its way back.

This module imports nothing of ``connectors``: ``base`` builds on it.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.sessions.base import ADDRESS, Session
from bot.types import Reply

__all__ = ["ADDRESS", "CollectingOutbound", "Conversation", "Outbound", "reply_as_text"]


@dataclass
class Conversation:
    """Where one conversation's customer is reached: the channel's own address for it."""

    session_id: str
    channel: str
    address: Mapping[str, Any] = field(default_factory=dict)
    user_id: str = "anonymous"

    @classmethod
    def of(cls, session: Session) -> Conversation | None:
        """The stored address of ``session``; None when its channel left none (the web
        widget, which reads the conversation's history instead)."""
        address = session.meta.get(ADDRESS)
        if not isinstance(address, dict) or not address:
            return None
        return cls(session.id, session.channel, dict(address), session.user_id)


class Outbound(ABC):
    """Sends replies to a platform out of band (a REST call, not the HTTP response)."""

    @abstractmethod
    def send_text(self, conversation: Conversation, text: str) -> None:
        """Post ``text`` (never empty) to the conversation; raise on a failure to log."""

    def send(self, conversation: Conversation, reply: Reply) -> None:
        """Post ``reply``; by default as text (``reply_as_text``), nothing when silent."""
        text = reply_as_text(reply)
        if text:
            self.send_text(conversation, text)


class CollectingOutbound(Outbound):
    """A test sink: keeps every reply sent, as the reply and as the text a text-only
    platform would have shown (thread-safe: workers send from their own threads)."""

    def __init__(self) -> None:
        self.sent: list[tuple[Conversation, Reply]] = []
        self.texts: list[tuple[Conversation, str]] = []
        self._guard = threading.Lock()

    def send(self, conversation: Conversation, reply: Reply) -> None:
        with self._guard:
            self.sent.append((conversation, reply))
        super().send(conversation, reply)

    def send_text(self, conversation: Conversation, text: str) -> None:
        with self._guard:
            self.texts.append((conversation, text))

    def to(self, session_id: str) -> list[str]:
        """The texts sent to one conversation, in order."""
        with self._guard:
            return [text for where, text in self.texts if where.session_id == session_id]


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
