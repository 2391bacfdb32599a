"""Conversation state: sessions and their turns, behind a small store interface.

``SQLiteSessionStore`` is the default (one file, WAL, safe from several threads and
processes); ``MemorySessionStore`` is for tests and ephemeral use. Other backends (Redis,
PostgreSQL) implement ``SessionStore``. Text is stored as given: redact it first
(``bot.privacy``).
"""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from knowledge.errors import ShopbotError

Role = Literal["user", "assistant", "agent", "system"]
State = Literal["bot", "handoff"]
ROLES: tuple[str, ...] = get_args(Role)
STATES: tuple[str, ...] = get_args(State)
MAX_ID_LENGTH = 128
SCHEMA_VERSION = 1


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

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"turn role {self.role!r} is unknown: use one of {', '.join(ROLES)}")


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


def _check_session(session: Session) -> None:
    validate_session_id(session.id)
    if session.state not in STATES:
        raise ValueError(
            f"session state {session.state!r} is unknown: use one of {', '.join(STATES)}"
        )
    if not isinstance(session.failures, int) or session.failures < 0:
        raise ValueError(f"session failures must be an integer >= 0 (got {session.failures!r})")


def _check_max_turns(max_turns: int | None) -> int | None:
    if max_turns is not None and (not isinstance(max_turns, int) or max_turns < 1):
        raise ValueError(f"max_turns must be None or an integer >= 1 (got {max_turns!r})")
    return max_turns


def _check_listing(state: str | None, limit: int) -> None:
    if state is not None and state not in STATES:
        raise ValueError(f"state {state!r} is unknown: use None or one of {', '.join(STATES)}")
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be an integer >= 1 (got {limit!r})")


def _check_turns(turns: tuple[Turn, ...]) -> None:
    for turn in turns:
        if not isinstance(turn, Turn):
            raise TypeError(f"append takes Turn objects, not {type(turn).__name__}")


def _add_turns(session: Session, turns: tuple[Turn, ...], max_turns: int | None) -> None:
    """Add ``turns`` to ``session.turns`` (skipping any the caller already added there)."""
    for turn in turns:
        if not any(existing is turn for existing in session.turns):
            session.turns.append(turn)
    if max_turns is not None and len(session.turns) > max_turns:
        del session.turns[:-max_turns]


class _Clock:
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
    def append(self, session: Session, *turns: Turn) -> None:
        """Add ``turns`` to the session and store them together with its state, failures,
        language and meta, atomically. Also adds them to ``session.turns``."""

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

    def close(self) -> None:  # noqa: B027 - optional hook; not every backend holds resources
        """Release the store's resources; it cannot be used afterwards."""

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemorySessionStore(SessionStore):
    """Sessions in a dict. Stores and returns copies, so it behaves like a persistent store:
    changes to a ``Session`` count only once they are appended or saved."""

    def __init__(self, *, max_turns: int | None = None) -> None:
        self.max_turns = _check_max_turns(max_turns)
        self._lock = threading.Lock()
        self._clock = _Clock()
        self._sessions: dict[str, Session] = {}

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

    def append(self, session: Session, *turns: Turn) -> None:
        _check_session(session)
        _check_turns(turns)
        new = copy.deepcopy(list(turns))
        with self._lock:
            session.updated_at = self._clock()
            stored = self._stored(session)
            stored.turns.extend(new)
            if self.max_turns is not None:
                del stored.turns[: -self.max_turns]
        _add_turns(session, turns, self.max_turns)

    def save_state(self, session: Session) -> None:
        _check_session(session)
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

    def delete(self, session_id: str) -> bool:
        validate_session_id(session_id)
        with self._lock:
            return self._sessions.pop(session_id, None) is not None

    def list_sessions(self, *, state: str | None = None, limit: int = 100) -> list[Session]:
        _check_listing(state, limit)
        with self._lock:
            chosen = [s for s in self._sessions.values() if state is None or s.state == state]
            chosen.sort(key=lambda s: s.updated_at, reverse=True)
            listed = [copy.copy(s) for s in chosen[:limit]]
        for item in listed:
            item.turns = []
            item.meta = copy.deepcopy(item.meta)
        return listed


_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    user_id TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'bot' CHECK (state IN ('bot', 'handoff')),
    failures INTEGER NOT NULL DEFAULT 0,
    language TEXT,
    meta TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_update ON sessions (updated_at);
CREATE INDEX IF NOT EXISTS sessions_by_state ON sessions (state, updated_at);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at REAL NOT NULL,
    action TEXT,
    confidence REAL,
    citations TEXT NOT NULL DEFAULT '[]',
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS turns_by_session ON turns (session_id, id);
"""

_UPSERT = """
INSERT INTO sessions
    (id, channel, user_id, state, failures, language, meta, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    state = excluded.state, failures = excluded.failures, language = excluded.language,
    meta = excluded.meta, updated_at = excluded.updated_at
"""

_SESSION_COLUMNS = "id, channel, user_id, state, failures, language, meta, created_at, updated_at"


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-serialisable: {exc}") from None


class SQLiteSessionStore(SessionStore):
    """Sessions in one SQLite file (WAL, ``synchronous=NORMAL``, foreign keys on).

    One connection shared under a lock, so any thread may call it; other processes may open
    the same file. A new store on the same file sees everything saved before. ``max_turns``
    keeps only each session's latest turns. ``":memory:"`` gives a private in-memory store.
    """

    def __init__(self, path: str | Path, *, max_turns: int | None = None) -> None:
        self.max_turns = _check_max_turns(max_turns)
        self.path = str(path)
        self._lock = threading.RLock()
        self._clock = _Clock()
        in_memory = self.path == ":memory:"
        if not in_memory:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SessionStoreError(
                    f"cannot create the folder of the session database {self.path}: "
                    f"{exc.strerror}; point sessions.path at a writable location"
                ) from None
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise SessionStoreError(
                f"cannot open the session database {self.path}: {exc}; "
                "point sessions.path at a writable file"
            ) from None
        try:
            self._setup()
        except (sqlite3.Error, SessionStoreError) as exc:
            self._conn.close()
            self._conn = None
            if isinstance(exc, SessionStoreError):
                raise
            if isinstance(exc, sqlite3.OperationalError):  # locked, read-only, disk full...
                raise SessionStoreError(
                    f"cannot use the session database {self.path}: {exc}; check that it is "
                    "writable and not locked, or point sessions.path at another file"
                ) from None
            raise SessionStoreError(self._not_ours(f"SQLite says: {exc}")) from None

    def _not_ours(self, why: str) -> str:
        return (
            f"{self.path} is not a shopbot session database ({why}): "
            "point sessions.path at another file"
        )

    def _setup(self) -> None:
        conn = self._conn
        assert conn is not None
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")  # reads the header: fails on a non-database
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN IMMEDIATE")
        try:
            tables = {
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            if "schema_version" not in tables:
                if tables:
                    names = ", ".join(sorted(tables))
                    raise SessionStoreError(self._not_ours(f"it holds other tables: {names}"))
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            else:
                rows = conn.execute("SELECT version FROM schema_version").fetchall()
                versions = {row[0] for row in rows}
                if len(versions) != 1 or not isinstance(next(iter(versions)), int):
                    raise SessionStoreError(
                        self._not_ours(f"its schema_version table holds {sorted(versions)!r}")
                    )
                version = next(iter(versions))
                if version > SCHEMA_VERSION:
                    raise SessionStoreError(
                        f"{self.path} was written by a newer shopbot (session schema {version}; "
                        f"this one reads {SCHEMA_VERSION}): upgrade shopbot, or point "
                        "sessions.path at another file"
                    )
                if version < 1:
                    raise SessionStoreError(
                        self._not_ours(f"unknown session schema version {version}")
                    )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """The connection inside one transaction, the store's lock held."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise SessionStoreError(
                    f"the session store on {self.path} is closed: open a new SQLiteSessionStore"
                )
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def journal_mode(self) -> str:
        """SQLite's journal mode for this file (``wal`` unless in memory)."""
        with self._transaction(write=False) as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])

    def get(self, session_id: str, *, last: int | None = None) -> Session | None:
        validate_session_id(session_id)
        if last is not None and last < 0:
            raise ValueError(f"last must be None or >= 0 (got {last})")
        with self._transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                return None
            columns = "id, role, text, created_at, action, confidence, citations, meta"
            if last is None:
                query = f"SELECT {columns} FROM turns WHERE session_id = ? ORDER BY id"
                turn_rows = conn.execute(query, (session_id,)).fetchall()
            else:
                query = f"SELECT {columns} FROM turns WHERE session_id = ? ORDER BY id DESC LIMIT ?"
                turn_rows = conn.execute(query, (session_id, last)).fetchall()[::-1]
        session = _session_from_row(row)
        session.turns = [
            Turn(
                role=role,
                text=text,
                created_at=created_at,
                action=action,
                confidence=confidence,
                citations=json.loads(citations),
                meta=json.loads(meta),
            )
            for _, role, text, created_at, action, confidence, citations, meta in turn_rows
        ]
        return session

    def append(self, session: Session, *turns: Turn) -> None:
        _check_session(session)
        _check_turns(turns)
        rows = [
            (
                session.id,
                turn.role,
                turn.text,
                turn.created_at,
                turn.action,
                turn.confidence,
                _json(turn.citations, "turn citations"),
                _json(turn.meta, "turn meta"),
            )
            for turn in turns
        ]
        session_row = self._session_row(session)
        with self._transaction(write=True) as conn:
            conn.execute(_UPSERT, session_row)
            conn.executemany(
                "INSERT INTO turns (session_id, role, text, created_at, action, confidence, "
                "citations, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if self.max_turns is not None:
                conn.execute(
                    "DELETE FROM turns WHERE session_id = ? AND id <= (SELECT id FROM turns "
                    "WHERE session_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (session.id, session.id, self.max_turns),
                )
        _add_turns(session, turns, self.max_turns)

    def save_state(self, session: Session) -> None:
        _check_session(session)
        session_row = self._session_row(session)
        with self._transaction(write=True) as conn:
            conn.execute(_UPSERT, session_row)

    def _session_row(self, session: Session) -> tuple[Any, ...]:
        meta = _json(session.meta, "session meta")
        session.updated_at = self._clock()
        return (
            session.id,
            session.channel,
            session.user_id,
            session.state,
            session.failures,
            session.language,
            meta,
            session.created_at,
            session.updated_at,
        )

    def delete(self, session_id: str) -> bool:
        validate_session_id(session_id)
        with self._transaction(write=True) as conn:
            return conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0

    def list_sessions(self, *, state: str | None = None, limit: int = 100) -> list[Session]:
        _check_listing(state, limit)
        where, params = ("WHERE state = ?", (state, limit)) if state else ("", (limit,))
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions {where} "
                "ORDER BY updated_at DESC, rowid DESC LIMIT ?",
                params,
            ).fetchall()
        return [_session_from_row(row) for row in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _session_from_row(row: tuple[Any, ...]) -> Session:
    sid, channel, user_id, state, failures, language, meta, created_at, updated_at = row
    return Session(
        id=sid,
        channel=channel,
        user_id=user_id,
        state=state,
        failures=failures,
        language=language,
        meta=json.loads(meta),
        created_at=created_at,
        updated_at=updated_at,
    )
