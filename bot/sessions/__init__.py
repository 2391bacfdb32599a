"""Conversation state: sessions and their turns, behind a small store interface.

``SQLiteSessionStore`` is the default (one file, WAL, safe from several threads and
processes); ``MemorySessionStore`` is for tests and ephemeral use. Other backends (Redis,
PostgreSQL) implement ``SessionStore`` (``bot.sessions.base``). Text is stored as given:
redact it first (``bot.privacy``).
"""

from bot.sessions.base import (
    MAX_ID_LENGTH,
    ROLES,
    STATES,
    Role,
    Session,
    SessionStore,
    SessionStoreError,
    State,
    Turn,
    validate_session_id,
)
from bot.sessions.memory import MemorySessionStore
from bot.sessions.sqlite import SQLiteSessionStore

__all__ = [
    "MAX_ID_LENGTH",
    "ROLES",
    "STATES",
    "MemorySessionStore",
    "Role",
    "SQLiteSessionStore",
    "Session",
    "SessionStore",
    "SessionStoreError",
    "State",
    "Turn",
    "validate_session_id",
]
