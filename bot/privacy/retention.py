"""Retention: conversations idle for longer than the configured age are deleted.

Applied when the server starts (``Bot.warm_up``) and then at most once an hour, by the
first message after the hour is up, before that message's session is loaded: one indexed
``DELETE`` in the default store, so no thread or timer of its own is needed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bot.sessions import SessionStore

log = logging.getLogger(__name__)
DAY_S = 86_400.0
#: how often a serving bot looks for expired conversations
EVERY_S = 3_600.0


class Retention:
    """Deletes the conversations of ``sessions`` not updated for ``days`` (None: keeps
    them all)."""

    def __init__(
        self,
        sessions: SessionStore,
        *,
        days: float | None,
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if days is not None and days <= 0:
            raise ValueError(f"retention days must be None or > 0 (got {days!r})")
        self.sessions = sessions
        self.days = days
        self.every_s = every_s
        self.clock = clock
        self._next = 0.0  # the first message purges, unless warm_up already has
        self._lock = threading.Lock()

    def purge(self) -> int:
        """Delete the expired conversations now; how many were deleted."""
        if self.days is None:
            return 0
        now = self.clock()
        with self._lock:
            self._next = now + self.every_s
        deleted = self.sessions.purge(before=now - self.days * DAY_S)
        if deleted:
            log.info("deleted %d conversations idle for over %g days", deleted, self.days)
        return deleted

    def maybe_purge(self) -> int:
        """``purge`` if the last one is more than ``every_s`` ago (cheap otherwise)."""
        if self.days is None or self.clock() < self._next:
            return 0
        with self._lock:
            if self.clock() < self._next:  # another thread has just done it
                return 0
            self._next = self.clock() + self.every_s
        return self.purge()
