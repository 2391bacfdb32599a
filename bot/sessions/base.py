"""Sessions and turns, their checks, and the store interface every backend implements."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from knowledge.errors import ShopbotError

Role = Literal["user", "assistant", "agent", "system"]
State = Literal["bot", "handoff"]
ROLES: tuple[str, ...] = get_args(Role)
STATES: tuple[str, ...] = get_args(State)
MAX_ID_LENGTH = 128
#: ``Turn.meta[ANSWER]`` of a customer's turn stored before it is answered: PENDING while
#: the bot answers it, INTERRUPTED once the process answering it is known to be gone; the
#: key is removed when the answer is stored. A retry with the same message_id completes it.
ANSWER = "answer"
PENDING = "pending"
INTERRUPTED = "interrupted"
#: ``Session.meta[ADDRESS]``: where a channel reaches the conversation's customer out of band
#: (a Slack channel and thread, a WeChat openid), set by the channel's dispatcher. Platform
#: ids, not text the customer wrote: kept as they are, never redacted
ADDRESS = "address"
#: a listing limit that means "all of them"
ALL = 2**62


class SessionStoreError(ShopbotError):
    """The session store cannot be opened or used: wrong file, newer schema, closed store."""


@dataclass
class Turn:
    """One message in a conversation. Assistant turns carry how they were produced."""

    role: Role
    text: str
    created_at: float = field(default_factory=time.time)  # unix seconds
    action: str | None = None  # assistant: answer_faq | generate | clarify | handoff | recommend
    confidence: float | None = None
    citations: list[dict[str, Any]] = field(default_factory=list)  # [{"n", "doc_id", ...}]
    meta: dict[str, Any] = field(default_factory=dict)
    #: the store's key for this turn, set when it is stored or read (see ``append``)
    id: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"turn role {self.role!r} is unknown: use one of {', '.join(ROLES)}")

    @property
    def unanswered(self) -> bool:
        """A customer's turn stored before its answer, whose answer is not stored (yet)."""
        return self.meta.get(ANSWER) in (PENDING, INTERRUPTED)


@dataclass
class Session:
    """A conversation: its turns plus the state the answer engine keeps between turns."""

    id: str
    channel: str
    user_id: str
    turns: list[Turn] = field(default_factory=list)
    state: State = "bot"  # handoff: a human has the conversation; the bot stays silent
    failures: int = 0  # consecutive turns the bot could not answer
    language: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    meta: dict[str, Any] = field(default_factory=dict)

    def recent(self, n: int) -> list[Turn]:
        """The last ``n`` turns, oldest first (all of them when there are fewer)."""
        return list(self.turns[-n:]) if n > 0 else []

    def last_user_text(self, before_last: bool = False) -> str | None:
        """The latest user message, or with ``before_last`` the one before it (for follow-ups
        such as "what about in blue?"); None when there is no such message."""
        texts = [turn.text for turn in self.turns if turn.role == "user"]
        index = 2 if before_last else 1
        return texts[-index] if len(texts) >= index else None


def validate_session_id(session_id: str) -> str:
    """Return ``session_id`` if a store accepts it; else ValueError naming the broken rule."""
    if not isinstance(session_id, str) or not session_id:
        raise ValueError("session id must be a non-empty string")
    if len(session_id) > MAX_ID_LENGTH:
        raise ValueError(
            f"session id must be at most {MAX_ID_LENGTH} characters (got {len(session_id)})"
        )
    if not session_id.isprintable():
        raise ValueError(
            f"session id {session_id!r} must be printable (no control characters or newlines)"
        )
    return session_id


def check_session(session: Session) -> None:
    validate_session_id(session.id)
    if session.state not in STATES:
        raise ValueError(
            f"session state {session.state!r} is unknown: use one of {', '.join(STATES)}"
        )
    if not isinstance(session.failures, int) or session.failures < 0:
        raise ValueError(f"session failures must be an integer >= 0 (got {session.failures!r})")


def check_max_turns(max_turns: int | None) -> int | None:
    if max_turns is not None and (not isinstance(max_turns, int) or max_turns < 1):
        raise ValueError(f"max_turns must be None or an integer >= 1 (got {max_turns!r})")
    return max_turns


def check_listing(state: str | None, limit: int) -> None:
    if state is not None and state not in STATES:
        raise ValueError(f"state {state!r} is unknown: use None or one of {', '.join(STATES)}")
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be an integer >= 1 (got {limit!r})")


def check_turns(turns: tuple[Turn, ...], updated: tuple[Turn, ...] = ()) -> None:
    for turn in (*turns, *updated):
        if not isinstance(turn, Turn):
            raise TypeError(f"append takes Turn objects, not {type(turn).__name__}")
    for turn in updated:
        if turn.id is None:
            raise ValueError("append(updated=...) takes turns read from or stored in the store")


def add_turns(session: Session, turns: tuple[Turn, ...], max_turns: int | None) -> None:
    """Add ``turns`` to ``session.turns`` (skipping any the caller already added there)."""
    for turn in turns:
        if not any(existing is turn for existing in session.turns):
            session.turns.append(turn)
    if max_turns is not None and len(session.turns) > max_turns:
        del session.turns[:-max_turns]


class Clock:
    """Unix time that never repeats or goes back within one store, so "most recently
    updated" has a strict order even for saves within the clock's resolution."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0.0

    def __call__(self) -> float:
        with self._lock:
            self._last = max(time.time(), self._last + 1e-6)
            return self._last


class SessionStore(ABC):
    """Where sessions live. Every method is safe to call from several threads."""

    @abstractmethod
    def get(self, session_id: str, *, last: int | None = None) -> Session | None:
        """The stored session with its turns (only the ``last`` N when given), or None if it
        was never saved."""

    def exists(self, session_id: str) -> bool:
        """Whether the session was ever saved (cheap: no turns are read)."""
        return self.get(session_id, last=0) is not None

    def load(
        self,
        session_id: str,
        *,
        channel: str = "unknown",
        user_id: str = "anonymous",
        last: int | None = None,
    ) -> Session:
        """The stored session, or a new empty one (not stored until ``append``/``save_state``).

        ``channel`` and ``user_id`` only apply to a new session; ``last`` limits the turns
        read to the most recent N (a long conversation stays cheap to answer).
        """
        found = self.get(session_id, last=last)
        if found is not None:
            return found
        now = time.time()
        return Session(
            id=session_id, channel=channel, user_id=user_id, created_at=now, updated_at=now
        )

    @abstractmethod
    def append(self, session: Session, *turns: Turn, updated: Iterable[Turn] = ()) -> None:
        """Add ``turns`` to the session and store them together with its state, failures,
        language and meta, atomically. Also adds them to ``session.turns`` and sets their
        ``id``. ``updated``: turns of this session stored before, whose ``meta`` is rewritten
        in the same transaction (a pending customer turn that is answered now)."""

    @abstractmethod
    def mark_interrupted(self, orphaned: Callable[[Turn], bool]) -> int:
        """Mark PENDING customer turns INTERRUPTED where ``orphaned(turn)`` says the process
        answering them is gone (a server killed mid-answer); how many were marked."""

    @abstractmethod
    def save_state(self, session: Session) -> None:
        """Store the session's state, failures, language and meta (not its turns)."""

    @abstractmethod
    def delete(self, session_id: str) -> bool:
        """Remove a session and its turns; False if there was none."""

    @abstractmethod
    def list_sessions(self, *, state: str | None = None, limit: int = 100) -> list[Session]:
        """Sessions, most recently updated first, optionally only those in ``state``.

        The listed sessions carry no turns (``turns`` is empty): call ``get`` for those.
        """

    def sessions_of(self, user_id: str) -> list[Session]:
        """Every session of ``user_id``, most recently updated first, without turns (what
        ``shopbot forget`` deletes). Backends with an index on users should override it."""
        return [s for s in self.list_sessions(limit=ALL) if s.user_id == user_id]

    def purge(self, *, before: float) -> int:
        """Delete every session last updated before ``before`` (unix seconds), with its
        turns; how many (the retention policy, ``bot.privacy.retention``). Backends should
        override it with one query."""
        old = [s.id for s in self.list_sessions(limit=ALL) if s.updated_at < before]
        return sum(self.delete(session_id) for session_id in old)

    def close(self) -> None:  # noqa: B027 - optional hook; not every backend holds resources
        """Release the store's resources; it cannot be used afterwards."""

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
