"""The in-process store: for tests and throwaway runs."""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Iterable

from bot.sessions.base import (
    ANSWER,
    INTERRUPTED,
    PENDING,
    Clock,
    Session,
    SessionStore,
    Turn,
    add_turns,
    check_listing,
    check_max_turns,
    check_session,
    check_turns,
    validate_session_id,
)


class MemorySessionStore(SessionStore):
    """Sessions in a dict. Stores and returns copies, so it behaves like a persistent store:
    changes to a ``Session`` count only once they are appended or saved."""

    def __init__(self, *, max_turns: int | None = None) -> None:
        self.max_turns = check_max_turns(max_turns)
        self._lock = threading.Lock()
        self._clock = Clock()
        self._sessions: dict[str, Session] = {}
        self._ids = itertools.count(1)

    def get(self, session_id: str, *, last: int | None = None) -> Session | None:
        validate_session_id(session_id)
        with self._lock:
            found = self._sessions.get(session_id)
            if found is None:
                return None
            turns = found.turns if last is None else (found.turns[-last:] if last else [])
            copied = copy.copy(found)
            copied.turns = copy.deepcopy(turns)
            copied.meta = copy.deepcopy(found.meta)
            return copied

    def append(self, session: Session, *turns: Turn, updated: Iterable[Turn] = ()) -> None:
        check_session(session)
        updated = tuple(updated)
        check_turns(turns, updated)
        with self._lock:
            for turn in turns:
                turn.id = next(self._ids)
            new = copy.deepcopy(list(turns))
            session.updated_at = self._clock()
            stored = self._stored(session)
            by_id = {turn.id: turn for turn in stored.turns}
            for turn in updated:
                if turn.id in by_id:
                    by_id[turn.id].meta = copy.deepcopy(turn.meta)
            stored.turns.extend(new)
            if self.max_turns is not None:
                del stored.turns[: -self.max_turns]
        add_turns(session, turns, self.max_turns)

    def save_state(self, session: Session) -> None:
        check_session(session)
        with self._lock:
            session.updated_at = self._clock()
            self._stored(session)

    def _stored(self, session: Session) -> Session:
        """The stored copy of ``session`` with its state fields updated (lock held)."""
        stored = self._sessions.get(session.id)
        if stored is None:
            stored = Session(
                id=session.id,
                channel=session.channel,
                user_id=session.user_id,
                created_at=session.created_at,
            )
            self._sessions[session.id] = stored
        stored.state = session.state
        stored.failures = session.failures
        stored.language = session.language
        stored.meta = copy.deepcopy(session.meta)
        stored.updated_at = session.updated_at
        return stored

    def mark_interrupted(self, orphaned: Callable[[Turn], bool]) -> int:
        marked = 0
        with self._lock:
            for stored in self._sessions.values():
                for turn in stored.turns:
                    if turn.meta.get(ANSWER) == PENDING and orphaned(copy.deepcopy(turn)):
                        turn.meta[ANSWER] = INTERRUPTED
                        marked += 1
        return marked

    def delete(self, session_id: str) -> bool:
        validate_session_id(session_id)
        with self._lock:
            return self._sessions.pop(session_id, None) is not None

    def list_sessions(self, *, state: str | None = None, limit: int = 100) -> list[Session]:
        check_listing(state, limit)
        with self._lock:
            chosen = [s for s in self._sessions.values() if state is None or s.state == state]
            chosen.sort(key=lambda s: s.updated_at, reverse=True)
            listed = [copy.copy(s) for s in chosen[:limit]]
        for item in listed:
            item.turns = []
            item.meta = copy.deepcopy(item.meta)
        return listed
