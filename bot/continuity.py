"""Messages that continue a conversation rather than start a question: the same message
delivered again (a retry, a platform's redelivery), a message whose answer was cut off
(the process died while answering it), and an answer to a clarifying question."""

from __future__ import annotations

import os
import re
import secrets
import socket
from typing import Any

from bot.sessions import Session, Turn
from bot.sessions.base import ANSWER, INTERRUPTED, PENDING
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
#: ``Turn.meta`` keys: which process is answering a pending turn; which message an answer
#: that completes an interrupted one answers (when other turns came in between)
ANSWERER = "answerer"
REPLY_TO = "reply_to"


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


# ---------------------------------------------------------------------------- interrupted
_token = secrets.token_hex(4)


def _new_token() -> None:
    global _token
    _token = secrets.token_hex(4)


os.register_at_fork(after_in_child=_new_token)


def answerer() -> str:
    """This process, as ``host:pid:token``: the token tells it from an earlier process that
    had the same pid (a restarted container's server is pid 1 again)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_token}"


def orphaned(turn: Turn) -> bool:
    """Whether the process answering a pending turn is gone. A process on another host, or
    one that cannot be told apart from a live one, is taken to be alive: its turn stays
    pending (a retry with its message_id completes it all the same)."""
    host, _, rest = str(turn.meta.get(ANSWERER, "")).partition(":")
    pid, _, token = rest.partition(":")
    if not pid.isdigit():
        return True  # no answerer recorded: nothing can be answering it
    if host != socket.gethostname():
        return False
    if int(pid) == os.getpid():
        return token != _token
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def mark_pending(turn: Turn) -> None:
    """Mark a customer's turn as stored before its answer, by this process."""
    turn.meta[ANSWER] = PENDING
    turn.meta[ANSWERER] = answerer()


def mark_answered(turn: Turn) -> None:
    turn.meta.pop(ANSWER, None)
    turn.meta.pop(ANSWERER, None)


def mark_interrupted(turn: Turn) -> None:
    turn.meta[ANSWER] = INTERRUPTED
    turn.meta.pop(ANSWERER, None)


def _find(session: Session, message_id: str) -> tuple[int, Turn | None] | None:
    """(position, answer) of the customer's turn with ``message_id``, the latest such."""
    turns = session.turns
    for i in range(len(turns) - 1, -1, -1):
        turn = turns[i]
        if turn.role != "user" or turn.meta.get("message_id") != message_id:
            continue
        later = turns[i + 1 :]
        answer = next(
            (t for t in later if t.role == "assistant" and t.meta.get(REPLY_TO) == message_id),
            later[0] if later and later[0].role == "assistant" else None,
        )
        return i, answer
    return None


def unanswered(session: Session, message_id: str) -> Turn | None:
    """The customer's turn with ``message_id`` if it was stored but its answer never was
    (the process died, or failed, while answering it): a retry completes that turn."""
    found = _find(session, message_id)
    if found is None or found[1] is not None:
        return None
    turn = session.turns[found[0]]
    return turn if turn.unanswered else None


def stored_reply(session: Session, message_id: str) -> Reply | None:
    """The reply already given to the message with ``message_id`` among the session's
    recent turns (a silent one when a person had the conversation), or None (also when
    its answer was interrupted: see ``unanswered``)."""
    found = _find(session, message_id)
    if found is not None:
        i, answer = found
        if answer is None and session.turns[i].unanswered:
            return None
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
