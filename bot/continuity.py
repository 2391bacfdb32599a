"""Messages that continue a conversation rather than start a question: the same message
delivered again (a retry, a platform's redelivery), and an answer to a clarifying question."""

from __future__ import annotations

import re
from typing import Any

from bot.sessions import Session
from bot.types import Citation, ProductCard, Reply
from knowledge.retriever import Hit

CITATION_FIELDS = frozenset(Citation.__dataclass_fields__)
#: ways to pick the first or the second option of a clarifying question
FIRST = "1|1st|first|the first|first one|the first one|one|第一|第一个|是第一个|前者|第一种"
SECOND = "2|2nd|second|the second|second one|the second one|two|第二|第二个|是第二个|后者|第二种"
CHOICES = {0: frozenset(FIRST.split("|")), 1: frozenset(SECOND.split("|"))}
AGREEMENT = frozenset("yes|yeah|yep|right|correct|exactly|是|是的|对|对的|嗯".split("|"))
#: how many recent turns are searched for a message delivered again with the same id
REPEAT_WINDOW = 20


def chosen_option(asked: Any, text: str, index: Any) -> tuple[Hit, str] | None:
    """(the hit, the question asked) when ``text`` picks one of the options of the
    clarifying question ``asked`` (its title, its number, "the second", "是第一个", or "yes"
    to a single option); None otherwise, or when that content is gone from the index."""
    if not isinstance(asked, dict) or not isinstance(asked.get("options"), list):
        return None
    options = [o for o in asked["options"] if isinstance(o, dict) and o.get("chunk_id")]
    said = _plain(text)
    picked = None
    for n, option in enumerate(options):
        if said == _plain(str(option.get("title", ""))) or said in CHOICES.get(n, ()):
            picked = option
            break
    if picked is None and len(options) == 1 and said in AGREEMENT:
        picked = options[0]
    pos = index.chunk_pos.get(picked["chunk_id"]) if picked else None
    if pos is None:
        return None
    chunk = index.chunks[pos]
    hit = Hit(chunk.id, chunk.doc_id, chunk.text, chunk.metadata, 1.0)
    return hit, str(asked.get("question") or text)


def _plain(text: str) -> str:
    """Lower case, punctuation and spacing ignored: "The second one!" -> "the second one",
    "Drizzle 2.5L Rain Jacket (Men’s)" -> "drizzle 2 5l rain jacket men s"."""
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


def stored_reply(session: Session, message_id: str) -> Reply | None:
    """The reply already given to the message with ``message_id`` among the session's
    recent turns (a silent one when a person had the conversation), or None."""
    turns = session.turns
    for i in range(len(turns) - 1, -1, -1):
        turn = turns[i]
        if turn.role != "user" or turn.meta.get("message_id") != message_id:
            continue
        answer = turns[i + 1] if i + 1 < len(turns) else None
        meta = {"repeated": True}
        if answer is None or answer.role != "assistant":
            return Reply("", "handoff", 1.0, session.id, session.language, silent=True, meta=meta)
        return Reply(
            answer.text,
            answer.action or "dont_know",  # type: ignore[arg-type]
            answer.confidence if answer.confidence is not None else 0.0,
            session.id,
            session.language,
            citations=[
                Citation(**{k: v for k, v in c.items() if k in CITATION_FIELDS})
                for c in answer.citations
            ],
            products=[ProductCard(**p) for p in answer.meta.get("products", [])],
            options=list(answer.meta.get("options", [])),
            unattended=bool(answer.meta.get("unattended")),
            meta=meta,
        )
    return None
