"""No lost turn: a customer's message is stored before it is answered, an answer cut off is
marked interrupted, and the retry with the same message_id completes it once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import continuity
from bot.continuity import answerer, mark_pending, orphaned
from bot.engine import Bot
from bot.generators.fake import FakeGenerator
from bot.sessions import MemorySessionStore, SessionStore, SQLiteSessionStore, Turn
from bot.sessions.base import ANSWER, INTERRUPTED, PENDING
from bot.types import IncomingMessage

PO_ANSWER = "Yes, PO boxes are accepted for USPS standard shipping only [1]."


@pytest.fixture(params=["sqlite", "memory"])
def store(request, tmp_path: Path):
    made: SessionStore = (
        SQLiteSessionStore(tmp_path / "sessions.db")
        if request.param == "sqlite"
        else MemorySessionStore()
    )
    yield made
    made.close()


def dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ---------------------------------------------------------------------------- the stores
def test_stored_turns_get_ids_and_their_meta_can_be_rewritten(store):
    session = store.load("s1", channel="web")
    asked = Turn("user", "where is my order?", meta={ANSWER: PENDING})
    store.append(session, asked)
    assert asked.id is not None
    read = store.get("s1").turns[0]
    assert read.id == asked.id and read.unanswered
    read.meta.pop(ANSWER)
    store.append(session, Turn("assistant", "It left today."), updated=[read])
    turns = store.get("s1").turns
    assert [t.role for t in turns] == ["user", "assistant"]
    assert not turns[0].unanswered and turns[0].id == asked.id
    assert turns[1].id is not None and turns[1].id != asked.id
    with pytest.raises(ValueError, match="updated"):
        store.append(session, updated=[Turn("user", "never stored")])


def test_mark_interrupted_marks_only_the_orphans(store):
    session = store.load("s2")
    live, dead, done = (Turn("user", text) for text in ("a", "b", "c"))
    mark_pending(live)
    mark_pending(dead)
    dead.meta[continuity.ANSWERER] = f"{os.uname().nodename}:{dead_pid()}:abcd"
    store.append(session, live, dead, done)
    assert store.mark_interrupted(orphaned) == 1
    states = [t.meta.get(ANSWER) for t in store.get("s2").turns]
    assert states == [PENDING, INTERRUPTED, None]
    assert store.mark_interrupted(orphaned) == 0


def test_orphaned_tells_a_dead_answerer_from_a_live_one():
    host, pid, token = answerer().split(":")
    assert pid == str(os.getpid())

    def turn(who: str | None) -> Turn:
        return Turn("user", "x", meta={} if who is None else {continuity.ANSWERER: who})

    assert not orphaned(turn(answerer()))  # this process: it is answering it
    assert orphaned(turn(f"{host}:{pid}:{token}x"))  # an earlier process with our pid
    assert orphaned(turn(f"{host}:{dead_pid()}:{token}"))
    assert not orphaned(turn(f"{host}:{os.getppid()}:0000"))  # alive
    assert not orphaned(turn(f"elsewhere.example:{dead_pid()}:0000"))  # cannot tell
    assert orphaned(turn(None))


# ---------------------------------------------------------------------------- the engine
class WatchingGenerator(FakeGenerator):
    """Runs ``during`` while its answer is being written (after the first word)."""

    def __init__(self, during=None) -> None:
        super().__init__()
        self.during = during

    def _pieces(self, *args, **kwargs):
        for n, piece in enumerate(super()._pieces(*args, **kwargs)):
            if n == 1 and self.during is not None:
                self.during()
            yield piece


@pytest.fixture
def sqlite_bot(demo_kb, tmp_path):
    generator = WatchingGenerator()
    sessions = SQLiteSessionStore(tmp_path / "sessions.db")
    yield Bot(demo_kb, sessions=sessions, generator=generator, store_name="Kestrel")
    sessions.close()


def po(session: str = "po", message_id: str | None = "m-1") -> IncomingMessage:
    meta = {"message_id": message_id} if message_id else {}
    return IncomingMessage("do you ship to PO boxes", session, channel="web", meta=meta)


def test_the_message_is_stored_before_the_answer(sqlite_bot):
    seen = []

    def look():
        # another reader (a new process) sees the message, pending, while it is answered
        other = SQLiteSessionStore(sqlite_bot.sessions.path)
        seen.append([(t.role, t.meta.get(ANSWER)) for t in other.get("po").turns])
        other.close()

    sqlite_bot.generator.during = look
    sqlite_bot.generator.enqueue(PO_ANSWER)
    reply = sqlite_bot.reply(po())
    assert reply.action == "generate" and reply.text == PO_ANSWER
    assert seen == [[("user", PENDING)]]
    turns = sqlite_bot.sessions.get("po").turns
    assert [(t.role, t.meta.get(ANSWER)) for t in turns] == [("user", None), ("assistant", None)]
    assert continuity.ANSWERER not in turns[0].meta
    # the prompt saw the question once, as the question, not also as history
    (messages,) = sqlite_bot.generator.history
    assert [m.role for m in messages] == ["system", "user"]


def test_an_answer_that_fails_is_marked_interrupted_and_the_retry_completes_it(sqlite_bot):
    def fail():
        raise RuntimeError("the model crashed")

    sqlite_bot.generator.during = fail
    sqlite_bot.generator.enqueue(PO_ANSWER)
    with pytest.raises(RuntimeError):
        sqlite_bot.reply(po())
    (turn,) = sqlite_bot.sessions.get("po").turns
    assert turn.role == "user" and turn.meta[ANSWER] == INTERRUPTED
    assert turn.meta["message_id"] == "m-1"

    sqlite_bot.generator.during = None
    sqlite_bot.generator.enqueue(PO_ANSWER)
    completed = sqlite_bot.reply(po())
    assert completed.text == PO_ANSWER and not completed.meta.get("repeated")
    again = sqlite_bot.reply(po())
    assert again.meta["repeated"] and again.text == PO_ANSWER
    turns = sqlite_bot.sessions.get("po").turns
    assert [t.role for t in turns] == ["user", "assistant"]
    assert turns[0].id == turn.id and not turns[0].unanswered
    assert len(sqlite_bot.generator.history) == 2  # the failed try and the completion


def test_an_abandoned_stream_is_marked_interrupted(sqlite_bot):
    sqlite_bot.generator.enqueue("PO boxes are fine [1]. " * 5)
    events = sqlite_bot.stream(po(message_id=None))
    next(events)  # the customer's program stops listening after the first sentence
    events.close()
    (turn,) = sqlite_bot.sessions.get("po").turns
    assert turn.meta[ANSWER] == INTERRUPTED


def test_a_retry_after_other_messages_is_answered_where_it_is_found(sqlite_bot):
    def fail():
        raise RuntimeError("the model crashed")

    sqlite_bot.generator.during = fail
    sqlite_bot.generator.enqueue(PO_ANSWER)
    with pytest.raises(RuntimeError):
        sqlite_bot.reply(po())
    sqlite_bot.generator.during = None
    sqlite_bot.reply(IncomingMessage("How long does delivery take?", "po", channel="web"))
    sqlite_bot.generator.enqueue(PO_ANSWER)
    completed = sqlite_bot.reply(po())
    assert completed.text == PO_ANSWER
    repeated = sqlite_bot.reply(po())
    assert repeated.meta["repeated"] and repeated.text == PO_ANSWER
    turns = sqlite_bot.sessions.get("po").turns
    assert [t.role for t in turns] == ["user", "user", "assistant", "assistant"]
    assert turns[-1].meta[continuity.REPLY_TO] == "m-1"


def test_a_lone_surrogate_is_refused_before_anything_is_stored(sqlite_bot):
    with pytest.raises(ValueError, match="surrogate"):
        sqlite_bot.reply(IncomingMessage("hi \ud83d", "su", channel="web"))
    assert sqlite_bot.sessions.get("su") is None
