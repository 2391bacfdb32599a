"""Session stores: the interface on both backends, then what only SQLite promises (a real
file, WAL, several threads and store instances at once, schema checks)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sessions import (
    MemorySessionStore,
    Session,
    SessionStore,
    SessionStoreError,
    SQLiteSessionStore,
    Turn,
)
from knowledge.errors import ShopbotError


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    made: SessionStore
    if request.param == "sqlite":
        made = SQLiteSessionStore(tmp_path / "sessions.db")
    else:
        made = MemorySessionStore()
    yield made
    made.close()


def answer(text: str = "Standard delivery takes 3-5 business days.") -> Turn:
    return Turn(
        role="assistant",
        text=text,
        created_at=1_700_000_001.5,
        action="answer_faq",
        confidence=0.87,
        citations=[{"n": 1, "doc_id": "faq:ship-time", "title": "Delivery", "url": None}],
        meta={"hits": ["faq:ship-time"], "lang": "en"},
    )


# --- the interface, on both backends -------------------------------------------------------


def test_load_creates_a_session_that_is_not_stored_until_appended(store: SessionStore) -> None:
    session = store.load("web:abc", channel="web", user_id="u1")
    assert (session.id, session.channel, session.user_id) == ("web:abc", "web", "u1")
    assert session.turns == [] and session.state == "bot" and session.failures == 0
    assert store.get("web:abc") is None

    store.append(session, Turn("user", "how long does delivery take?"))
    stored = store.get("web:abc")
    assert stored is not None
    assert (stored.channel, stored.user_id) == ("web", "u1")
    assert [t.text for t in stored.turns] == ["how long does delivery take?"]
    # load() finds it now, and channel/user_id only apply to new sessions
    again = store.load("web:abc", channel="slack", user_id="other")
    assert (again.channel, again.user_id, len(again.turns)) == ("web", "u1", 1)


def test_turns_round_trip_with_every_field(store: SessionStore) -> None:
    session = store.load("s1")
    question = Turn("user", "可以退货吗？", created_at=1_700_000_000.25, meta={"ip": "[IP]"})
    store.append(session, question, answer())
    stored = store.get("s1")
    assert stored is not None
    assert stored.turns == [question, answer()]
    assert stored.turns[1].citations[0]["doc_id"] == "faq:ship-time"
    assert stored.turns[0].created_at == 1_700_000_000.25


def test_append_adds_turns_to_the_session_once(store: SessionStore) -> None:
    session = store.load("s1")
    first = Turn("user", "hi")
    store.append(session, first)
    assert session.turns == [first]
    # a turn the caller already put in session.turns is stored but not listed twice
    second = Turn("assistant", "hello")
    session.turns.append(second)
    store.append(session, second)
    assert session.turns == [first, second]
    stored = store.get("s1")
    assert stored is not None and stored.turns == [first, second]


def test_append_persists_state_failures_language_and_meta(store: SessionStore) -> None:
    session = store.load("s1")
    session.failures = 2
    session.language = "zh"
    session.meta = {"order": "KR-1002345", "tags": ["vip"]}
    store.append(session, Turn("user", "怎么退货"))
    stored = store.get("s1")
    assert stored is not None
    assert (stored.failures, stored.language, stored.meta) == (2, "zh", session.meta)


def test_handoff_state_round_trip(store: SessionStore) -> None:
    session = store.load("s1", channel="web")
    store.append(session, Turn("user", "I want a human"), answer("Connecting you to our team."))
    session.state = "handoff"
    session.failures = 0
    store.save_state(session)

    stored = store.get("s1")
    assert stored is not None and stored.state == "handoff"
    assert len(stored.turns) == 2  # save_state leaves turns alone
    assert [s.id for s in store.list_sessions(state="handoff")] == ["s1"]
    assert store.list_sessions(state="bot") == []

    stored.state = "bot"  # the agent hands back
    store.save_state(stored)
    assert store.get("s1").state == "bot"  # type: ignore[union-attr]


def test_save_state_stores_a_new_session_without_turns(store: SessionStore) -> None:
    session = store.load("s1", channel="wechat", user_id="o6_bmjrPTlm6_2sgVt7hMZOPfL2M")
    session.state = "handoff"
    store.save_state(session)
    stored = store.get("s1")
    assert stored is not None
    assert (stored.state, stored.channel, stored.turns) == ("handoff", "wechat", [])


def test_changes_count_only_once_saved(store: SessionStore) -> None:
    session = store.load("s1")
    store.append(session, Turn("user", "hi"))
    session.state = "handoff"
    session.turns.append(Turn("user", "not appended"))
    stored = store.get("s1")
    assert stored is not None and stored.state == "bot" and len(stored.turns) == 1


def test_recent_and_last_user_text() -> None:
    session = Session(id="s", channel="web", user_id="u")
    assert session.recent(3) == [] and session.last_user_text() is None
    session.turns = [
        Turn("user", "do you have jackets?"),
        Turn("assistant", "Yes: the Summit Rain Jacket."),
        Turn("user", "what about in blue?"),
        Turn("assistant", "Slate Blue is in stock."),
    ]
    assert [t.text for t in session.recent(2)] == [
        "what about in blue?",
        "Slate Blue is in stock.",
    ]
    assert len(session.recent(10)) == 4 and session.recent(0) == []
    assert session.last_user_text() == "what about in blue?"
    assert session.last_user_text(before_last=True) == "do you have jackets?"
    session.turns = session.turns[:2]
    assert session.last_user_text(before_last=True) is None


def test_delete(store: SessionStore) -> None:
    store.append(store.load("s1"), Turn("user", "hi"))
    assert store.delete("s1") is True
    assert store.get("s1") is None
    assert store.delete("s1") is False


def test_list_sessions_most_recent_first_without_turns(store: SessionStore) -> None:
    for sid in ("a", "b", "c"):
        store.append(store.load(sid), Turn("user", f"hello from {sid}"))
    store.append(store.load("a"), Turn("user", "again"))  # a is now the most recent
    listed = store.list_sessions()
    assert [s.id for s in listed] == ["a", "c", "b"]
    assert all(s.turns == [] for s in listed)
    assert [s.id for s in store.list_sessions(limit=2)] == ["a", "c"]
    with pytest.raises(ValueError, match="state 'human' is unknown"):
        store.list_sessions(state="human")
    with pytest.raises(ValueError, match="limit must be an integer >= 1"):
        store.list_sessions(limit=0)


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        ("", "non-empty"),
        ("x" * 129, "at most 128 characters"),
        ("web:abc\n", "printable"),
        ("a\x00b", "printable"),
        ("tab\there", "printable"),
    ],
)
def test_invalid_session_ids_are_rejected(store: SessionStore, bad: str, rule: str) -> None:
    with pytest.raises(ValueError, match=rule):
        store.load(bad)
    with pytest.raises(ValueError, match=rule):
        store.get(bad)
    with pytest.raises(ValueError, match=rule):
        store.delete(bad)
    with pytest.raises(ValueError, match=rule):
        store.append(Session(id=bad, channel="web", user_id="u"), Turn("user", "hi"))
    with pytest.raises(ValueError, match=rule):
        store.save_state(Session(id=bad, channel="web", user_id="u"))


@pytest.mark.parametrize("good", ["x" * 128, "wechat:用户 42", "slack:T01/C02:1700000000.1234"])
def test_valid_session_ids(store: SessionStore, good: str) -> None:
    store.append(store.load(good), Turn("user", "hi"))
    assert store.get(good) is not None


def test_bad_values_are_rejected(store: SessionStore) -> None:
    with pytest.raises(ValueError, match="turn role 'bot' is unknown"):
        Turn("bot", "hi")  # type: ignore[arg-type]
    session = store.load("s1")
    session.state = "human"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="session state 'human' is unknown"):
        store.save_state(session)
    session.state = "bot"
    with pytest.raises(TypeError, match="Turn objects"):
        store.append(session, "hi")  # type: ignore[arg-type]
    assert store.get("s1") is None and session.turns == []


def test_max_turns_trims_the_oldest(tmp_path: Path) -> None:
    for store in (
        SQLiteSessionStore(tmp_path / "s.db", max_turns=3),
        MemorySessionStore(max_turns=3),
    ):
        session = store.load("s1")
        for i in range(5):
            store.append(session, Turn("user", f"q{i}"), Turn("assistant", f"a{i}"))
        assert [t.text for t in session.turns] == ["a3", "q4", "a4"]
        stored = store.get("s1")
        assert stored is not None and [t.text for t in stored.turns] == ["a3", "q4", "a4"]
        store.append(store.load("s2"), Turn("user", "other session"))  # trimming is per session
        assert len(store.get("s1").turns) == 3  # type: ignore[union-attr]
        store.close()
    with pytest.raises(ValueError, match="max_turns"):
        MemorySessionStore(max_turns=0)


# --- SQLite only --------------------------------------------------------------------------


def test_sqlite_persists_across_store_instances(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "sessions.db"  # parents are created
    first = SQLiteSessionStore(path)
    session = first.load("web:1", channel="web", user_id="u1")
    session.language = "en"
    first.append(session, Turn("user", "do you ship to PO boxes?"), answer("Only via USPS."))
    session.state = "handoff"
    session.failures = 3
    first.save_state(session)
    first.close()

    second = SQLiteSessionStore(str(path))
    stored = second.get("web:1")
    assert stored is not None
    assert (stored.state, stored.failures, stored.language) == ("handoff", 3, "en")
    assert [t.role for t in stored.turns] == ["user", "assistant"]
    assert stored.turns[1] == answer("Only via USPS.")
    assert stored.created_at == session.created_at
    second.close()


def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    store = SQLiteSessionStore(path)
    assert store.journal_mode() == "wal"
    with sqlite3.connect(path) as outside:  # WAL is a property of the file
        assert outside.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.append(store.load("s1"), Turn("user", "a"), Turn("user", "b"))
    assert store.delete("s1")
    with sqlite3.connect(path) as outside:  # the turns went with it (ON DELETE CASCADE)
        assert outside.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 0
        indexes = {row[1] for row in outside.execute("PRAGMA index_list(turns)")}
        assert "turns_by_session" in indexes
    store.close()


def test_sqlite_concurrent_appends_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    shared = SQLiteSessionStore(path)
    threads_n, per_thread = 8, 40
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def work(n: int) -> None:
        try:
            # half the threads use the shared store, half open their own on the same file
            store = shared if n % 2 else SQLiteSessionStore(path)
            start.wait()
            for i in range(per_thread):
                store.append(store.load("busy"), Turn("user", f"t{n}-{i}"))
                own = store.load(f"own-{n}")
                own.failures = i
                store.append(own, Turn("user", f"t{n}-{i}"))
            if store is not shared:
                store.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    reopened = SQLiteSessionStore(path)
    busy = reopened.get("busy")
    assert busy is not None
    texts = [t.text for t in busy.turns]
    assert len(texts) == threads_n * per_thread
    assert set(texts) == {f"t{n}-{i}" for n in range(threads_n) for i in range(per_thread)}
    for n in range(threads_n):  # each thread's own turns are in the order it appended them
        assert [t for t in texts if t.startswith(f"t{n}-")] == [
            f"t{n}-{i}" for i in range(per_thread)
        ]
        own = reopened.get(f"own-{n}")
        assert own is not None and len(own.turns) == per_thread
        assert own.failures == per_thread - 1
    shared.close()
    reopened.close()


def test_sqlite_append_is_one_transaction(tmp_path: Path) -> None:
    store = SQLiteSessionStore(tmp_path / "sessions.db")
    session = store.load("s1")
    store.append(session, Turn("user", "first"))
    session.state = "handoff"
    broken = Turn("assistant", None)  # type: ignore[arg-type]  # violates NOT NULL mid-insert
    with pytest.raises(sqlite3.IntegrityError):
        store.append(session, Turn("user", "second"), broken)
    stored = store.get("s1")
    assert stored is not None
    assert stored.state == "bot" and [t.text for t in stored.turns] == ["first"]
    assert [t.text for t in session.turns] == ["first"]  # nor added in memory

    session.meta = {"not json": object()}
    with pytest.raises(ValueError, match="session meta must be JSON-serialisable"):
        store.append(session, Turn("user", "third"))
    assert len(store.get("s1").turns) == 1  # type: ignore[union-attr]
    store.close()


def test_sqlite_rejects_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 200, encoding="utf-8")
    with pytest.raises(SessionStoreError) as caught:
        SQLiteSessionStore(path)
    message = str(caught.value)
    assert "is not a shopbot session database" in message
    assert "point sessions.path at another file" in message
    assert isinstance(caught.value, ShopbotError)
    assert path.read_text(encoding="utf-8").startswith("these are my notes")  # untouched


def test_sqlite_rejects_another_apps_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(SessionStoreError, match=r"not a shopbot session database.*invoices"):
        SQLiteSessionStore(path)


def test_sqlite_rejects_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    SQLiteSessionStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(SessionStoreError, match=r"newer shopbot.*schema 99.*upgrade shopbot"):
        SQLiteSessionStore(path)


def test_sqlite_directory_path_and_closed_store(tmp_path: Path) -> None:
    with pytest.raises(SessionStoreError, match=r"sessions\.path"):
        SQLiteSessionStore(tmp_path)  # a folder, not a file
    store = SQLiteSessionStore(tmp_path / "s.db")
    store.close()
    store.close()  # twice is fine
    with pytest.raises(SessionStoreError, match="closed"):
        store.get("s1")


def test_sqlite_in_memory() -> None:
    with SQLiteSessionStore(":memory:") as store:
        store.append(store.load("s1"), Turn("user", "hi"))
        assert store.get("s1") is not None


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_get_last_reads_only_the_latest_turns(kind, tmp_path):
    from bot.sessions import MemorySessionStore, Session, SQLiteSessionStore, Turn

    store = MemorySessionStore() if kind == "memory" else SQLiteSessionStore(tmp_path / "s.db")
    session = Session("long", "web", "u")
    for n in range(10):
        store.append(session, Turn("user", f"q{n}"), Turn("assistant", f"a{n}"))
    assert [t.text for t in store.get("long", last=3).turns] == ["a8", "q9", "a9"]
    assert store.get("long", last=0).turns == []
    assert len(store.get("long").turns) == 20
    assert store.exists("long") and not store.exists("other")
    loaded = store.load("long", last=2)
    store.append(loaded, Turn("user", "q10"))
    assert [t.text for t in store.get("long").turns][-3:] == ["q9", "a9", "q10"]
    store.close()
