"""Values that cross the bot's boundary: what a channel hands in, what the bot hands back."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Action = Literal[
    "answer_faq", "generate", "clarify", "handoff", "recommend", "dont_know", "smalltalk"
]


@dataclass
class IncomingMessage:
    """One customer message, already parsed out of its channel's payload."""

    text: str
    session_id: str
    channel: str = "api"
    user_id: str = "anonymous"
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Citation:
    """A numbered source the reply is grounded in ([1], [2] in generated text)."""

    n: int
    doc_id: str
    title: str
    url: str | None = None
    score: float = 0.0
    kind: str = "faq"
    section: str | None = None


@dataclass
class ProductCard:
    """A product a reply shows; ``reason`` is why it was recommended (from its own data)."""

    sku: str
    title: str
    price: float | None = None
    currency: str = ""
    url: str | None = None
    in_stock: bool = True
    image: str | None = None
    reason: str = ""


@dataclass
class Reply:
    """What the bot says (``text`` may be empty when a human has the conversation).

    ``action`` says which path produced it; every channel renders ``handoff`` as a notice
    that a person will take over, unless it is ``unattended``.
    """

    text: str
    action: Action
    confidence: float
    session_id: str
    language: str = "en"
    citations: list[Citation] = field(default_factory=list)
    products: list[ProductCard] = field(default_factory=list)
    #: for ``clarify``: the topics offered, in order; sending one back (or "1", "the
    #: second", "是第一个") answers it
    options: list[str] = field(default_factory=list)
    silent: bool = False  # the conversation is with a human: the channel sends nothing
    #: a ``handoff`` nobody can take (``bot.handoff.target: none``): the text says so and
    #: how to reach the store, and the bot goes on answering (channels show no "joined")
    unattended: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
