"""The default store: one SQLite file in WAL mode, safe from several threads and processes."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.sessions.base import (
    ANSWER,
    INTERRUPTED,
    PENDING,
    Clock,
    Session,
    SessionStore,
    SessionStoreError,
    Turn,
    add_turns,
    check_listing,
    check_max_turns,
    check_session,
    check_turns,
    validate_session_id,
)

SCHEMA_VERSION = 1
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
#: customer turns stored before their answer (few at any time), found without a scan; made
#: on every open, so databases written before it get it too
_PENDING = f"json_extract(meta, '$.{ANSWER}') = '{PENDING}'"
_PENDING_INDEX = f"CREATE INDEX IF NOT EXISTS turns_pending ON turns (id) WHERE {_PENDING}"

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
        self.max_turns = check_max_turns(max_turns)
        self.path = str(path)
        self._lock = threading.RLock()
        self._clock = Clock()
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
        conn.execute("PRAGMA secure_delete = ON")  # deleted turns are overwritten, not left
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
                conn.execute(_PENDING_INDEX)
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
                conn.execute(_PENDING_INDEX)
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
                id=turn_id,
            )
            for turn_id, role, text, created_at, action, confidence, citations, meta in turn_rows
        ]
        return session

    def append(self, session: Session, *turns: Turn, updated: Iterable[Turn] = ()) -> None:
        check_session(session)
        updated = tuple(updated)
        check_turns(turns, updated)
        changes = [(_json(turn.meta, "turn meta"), turn.id, session.id) for turn in updated]
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
            conn.executemany("UPDATE turns SET meta = ? WHERE id = ? AND session_id = ?", changes)
            ids = [
                conn.execute(
                    "INSERT INTO turns (session_id, role, text, created_at, action, confidence, "
                    "citations, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                ).lastrowid
                for row in rows
            ]
            if self.max_turns is not None:
                conn.execute(
                    "DELETE FROM turns WHERE session_id = ? AND id <= (SELECT id FROM turns "
                    "WHERE session_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (session.id, session.id, self.max_turns),
                )
        for turn, turn_id in zip(turns, ids, strict=True):
            turn.id = turn_id
        add_turns(session, turns, self.max_turns)

    def save_state(self, session: Session) -> None:
        check_session(session)
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

    def mark_interrupted(self, orphaned: Callable[[Turn], bool]) -> int:
        with self._transaction(write=True) as conn:
            rows = conn.execute(
                f"SELECT id, role, text, created_at, meta FROM turns WHERE {_PENDING}"
            ).fetchall()
            marked = []
            for turn_id, role, text, created_at, meta in rows:
                turn = Turn(role, text, created_at, meta=json.loads(meta), id=turn_id)
                if orphaned(turn):
                    turn.meta[ANSWER] = INTERRUPTED
                    marked.append((_json(turn.meta, "turn meta"), turn_id))
            conn.executemany("UPDATE turns SET meta = ? WHERE id = ?", marked)
        return len(marked)

    def delete(self, session_id: str) -> bool:
        validate_session_id(session_id)
        with self._transaction(write=True) as conn:
            return conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0

    def list_sessions(self, *, state: str | None = None, limit: int = 100) -> list[Session]:
        check_listing(state, limit)
        where, params = ("WHERE state = ?", (state, limit)) if state else ("", (limit,))
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions {where} "
                "ORDER BY updated_at DESC, rowid DESC LIMIT ?",
                params,
            ).fetchall()
        return [_session_from_row(row) for row in rows]

    def sessions_of(self, user_id: str) -> list[Session]:
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE user_id = ? "
                "ORDER BY updated_at DESC, rowid DESC",
                (user_id,),
            ).fetchall()
        return [_session_from_row(row) for row in rows]

    def purge(self, *, before: float) -> int:
        with self._transaction(write=True) as conn:
            deleted = conn.execute("DELETE FROM sessions WHERE updated_at < ?", (before,)).rowcount
        if deleted:
            self.checkpoint()
        return deleted

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database and empty it, so that what was just
        deleted (overwritten there, ``secure_delete``) is gone from the log file too."""
        with self._lock:
            if self._conn is not None and self.path != ":memory:":
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

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
