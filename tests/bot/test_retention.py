"""Retention: conversations idle for longer than ``bot.privacy.retention_days`` are deleted,
at start and then hourly, from every store; the deleted text is gone from the file too."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from bot.config import BotConfig, PrivacyConfig
from bot.engine import Bot
from bot.generators.fake import FakeGenerator
from bot.privacy.retention import DAY_S, Retention
from bot.sessions import MemorySessionStore, SessionStore, SQLiteSessionStore, Turn
from bot.types import IncomingMessage


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def age(store: SessionStore, session_id: str, days: float) -> None:
    """Make ``session_id`` look last updated ``days`` ago."""
    when = time.time() - days * DAY_S
    if isinstance(store, SQLiteSessionStore):
        with sqlite3.connect(store.path) as conn:
            conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (when, session_id))
    else:
        store._sessions[session_id].updated_at = when  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", "memory"])
def store(request, tmp_path: Path) -> SessionStore:
    if request.param == "sqlite":
        return SQLiteSessionStore(tmp_path / "sessions.db")
    return MemorySessionStore()


def say(store: SessionStore, session_id: str, text: str, *, user: str = "u") -> None:
    session = store.load(session_id, user_id=user)
    store.append(session, Turn("user", text))


def test_purge_deletes_idle_conversations_and_keeps_the_rest(store):
    for sid, days in [("old", 100), ("older", 400), ("recent", 10), ("today", 0)]:
        say(store, sid, f"hello from {sid}")
        age(store, sid, days)
    assert store.purge(before=time.time() - 90 * DAY_S) == 2
    assert store.get("old") is None and store.get("older") is None
    assert (
        store.get("recent") is not None and store.get("today").turns[0].text == "hello from today"
    )


def test_sessions_of_lists_one_users_conversations(store):
    say(store, "a1", "x", user="alice")
    say(store, "b1", "x", user="bob")
    say(store, "a2", "x", user="alice")
    assert [s.id for s in store.sessions_of("alice")] == ["a2", "a1"]
    assert store.sessions_of("nobody") == []


def test_sqlite_purge_leaves_no_deleted_text_in_the_files(tmp_path):
    store = SQLiteSessionStore(tmp_path / "sessions.db")
    say(store, "gone", "a sentence nobody should find again, marker-7f3a")
    say(store, "kept", "this one stays")
    age(store, "gone", 100)
    assert store.purge(before=time.time() - 90 * DAY_S) == 1
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("sessions.db*"))
    assert b"marker-7f3a" not in raw and b"this one stays" in raw
    rows = sqlite3.connect(store.path).execute("SELECT COUNT(*) FROM turns").fetchone()
    assert rows == (1,)  # the deleted conversation's turns went with it


def test_retention_runs_at_most_hourly_and_can_be_off():
    store = MemorySessionStore()
    clock = Clock()
    retention = Retention(store, days=30, clock=clock)
    say(store, "s", "hi")
    age(store, "s", 31)
    assert retention.maybe_purge() == 1  # the first call purges
    say(store, "t", "hi")
    age(store, "t", 31)
    clock.now += 60
    assert retention.maybe_purge() == 0 and store.get("t") is not None  # within the hour
    clock.now += 3600
    assert retention.maybe_purge() == 1 and store.get("t") is None
    keep = Retention(store, days=None)
    say(store, "u", "hi")
    age(store, "u", 10_000)
    assert keep.purge() == 0 and keep.maybe_purge() == 0 and store.get("u") is not None
    with pytest.raises(ValueError, match="retention days"):
        Retention(store, days=0)


def test_the_bot_purges_at_start_and_an_expired_conversation_starts_afresh(fake_kb, tmp_path):
    store = SQLiteSessionStore(tmp_path / "sessions.db")
    config = BotConfig(privacy=PrivacyConfig(retention_days=7))
    say(store, "stale", "hello, a long time ago")
    say(store, "fresh", "hello")
    age(store, "stale", 8)
    bot = Bot(fake_kb, sessions=store, config=config, generator=FakeGenerator())
    bot.warm_up()  # what shopbot serve does at start
    assert store.get("stale") is None and store.get("fresh") is not None
    say(store, "back", "hello, a long time ago")
    age(store, "back", 8)
    bot.retention._next = 0  # as when the hour is up
    bot.reply(IncomingMessage("How long does delivery take?", session_id="back"))
    turns = store.get("back").turns
    assert [t.role for t in turns] == ["user", "assistant"]  # the old turn is gone


def test_retention_is_configured_in_days_and_can_be_switched_off():
    assert PrivacyConfig().retention_days == 90
    assert PrivacyConfig(retention_days=None).retention_days is None
    with pytest.raises(ValueError, match="greater than 0"):
        PrivacyConfig(retention_days=0)
