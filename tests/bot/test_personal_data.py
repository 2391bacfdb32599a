"""Personal data through the answer engine, on the demo store (real embeddings, fake
generator): never quoted back, never stored raw (text, meta or files), numbered
consistently within a conversation."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from bot.config import BotConfig, PrivacyConfig
from bot.engine import Bot
from bot.generators.fake import FakeGenerator
from bot.sessions import SQLiteSessionStore
from bot.types import IncomingMessage

EMAIL = "jonathan.smithers@acmecorp.com"
CARD = "4111 1111 1111 1111"
ID_CN = "11010519491231002X"


@pytest.fixture
def generator() -> FakeGenerator:
    return FakeGenerator()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "sessions.db"


@pytest.fixture
def bot(demo_kb, generator, db) -> Bot:
    return Bot(demo_kb, sessions=SQLiteSessionStore(db), generator=generator, store_name="Kestrel")


def ask(bot: Bot, text: str, session: str):
    return bot.reply(IncomingMessage(text, session_id=session))


def stored_bytes(db: Path) -> bytes:
    """Everything SQLite has written for the sessions: the database and its log."""
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def pieces(value: str) -> list[str]:
    """The words of a piece of personal data that a reply could quote ("jonathan", ...)."""
    return [w for w in re.split(r"[\W_]+", value) if len(w) >= 3]


def test_the_dont_know_text_never_names_pieces_of_personal_data(bot, db):
    text = f"My email is {EMAIL}, can you tell me about zorbing?"
    # the raw message's words are unknown to the store: quoted, they would name the address
    assert {"jonathan", "smithers", "acmecorp"} <= set(bot.policy.unknown_terms(text))
    reply = ask(bot, text, "dk")
    assert reply.action == "dont_know" and "“zorbing”" in reply.text
    for piece in pieces(EMAIL):
        assert piece not in reply.text
    stored = bot.sessions.get("dk")
    assert stored.turns[0].text == "My email is [EMAIL_1], can you tell me about zorbing?"
    assert all(piece.encode() not in stored_bytes(db) for piece in pieces(EMAIL))


def clarified(bot: Bot, questions: list[str], session: str):
    """The first of ``questions`` that the bot answers with a clarifying question (which do
    moves with the calibration; the test is about the state a clarifying question keeps)."""
    for n, question in enumerate(questions):
        reply = ask(bot, question, f"{session}{n}")
        if reply.action == "clarify":
            return question, f"{session}{n}"
    raise AssertionError(f"none of {questions} got a clarifying question")


def test_the_clarifying_state_keeps_the_redacted_question(bot, db):
    topics = ["do advertisers get my data", "is my data sold to advertisers", "how much"]
    question, session = clarified(bot, [f"{t}, card {CARD}" for t in topics], "cl")
    meta = bot.sessions.get(session).meta
    assert meta["clarify"]["question"] == question.replace(CARD, "[CARD_1]")
    row = sqlite3.connect(db).execute("SELECT meta FROM sessions WHERE id = ?", (session,))
    stored = row.fetchone()[0]
    assert "4111" not in stored and "[CARD_1]" in stored
    assert CARD.encode() not in stored_bytes(db) and b"4111111111111111" not in stored_bytes(db)


def test_the_clarifying_state_keeps_no_chinese_id_number(bot, db):
    asks = [
        f"我的身份证号是{ID_CN}，帮我退款",
        f"身份证{ID_CN}，我的数据会被卖给广告商吗",
        f"身份证{ID_CN}，刚下的单想取消",
        f"身份证{ID_CN}，进口关税谁来付",
        f"身份证{ID_CN}，鞋子穿出去过还能退吗",
        f"身份证{ID_CN}，登山靴开胶了保修吗",
    ]
    question, session = clarified(bot, asks, "zh")
    stored = bot.sessions.get(session).meta["clarify"]["question"]
    assert stored == question.replace(ID_CN, "[ID_CN_1]")
    assert ID_CN.encode() not in stored_bytes(db) and ID_CN[:12].encode() not in stored_bytes(db)


def test_the_generator_sees_placeholders_never_the_data(bot, generator):
    """A policy question with a phone number in it is answered by the model (directly, or
    after a clarifying question whose saved question it answers): the prompt holds the
    placeholder, not the number."""
    generator.enqueue("PO boxes are accepted for USPS standard shipping only [1].")
    reply = ask(bot, "do you ship to PO boxes? I'm at 303-555-0142", "gen")
    if reply.action == "clarify":
        n = next(i for i, option in enumerate(reply.options) if "PO boxes" in option)
        reply = ask(bot, ["the first one", "the second one"][n], "gen")
    assert reply.action == "generate" and generator.history
    prompt = "\n".join(m.content for m in generator.history[-1])
    assert "303-555-0142" not in prompt and "[PHONE_1]" in prompt


def test_placeholders_are_numbered_per_conversation(bot):
    ask(bot, "my email is jane@example.com", "num")
    ask(bot, "sorry, JANE@example.com is right, and my partner is bob@example.com", "num")
    ask(bot, "my email is bob@example.com", "other")
    turns = bot.sessions.get("num").turns
    assert turns[0].text == "my email is [EMAIL_1]"
    assert turns[2].text == "sorry, [EMAIL_1] is right, and my partner is [EMAIL_2]"
    table = bot.sessions.get("num").meta["pii"]
    assert set(table) == {"EMAIL_1", "EMAIL_2"}
    assert all(re.fullmatch(r"[0-9a-f]{8}", tag) for tag in table.values())
    # another conversation numbers afresh, with tags that cannot be linked to these
    other = bot.sessions.get("other")
    assert other.turns[0].text == "my email is [EMAIL_1]"
    assert other.meta["pii"]["EMAIL_1"] not in table.values()


def test_configured_patterns_are_redacted_and_numbered(demo_kb, generator, db):
    config = BotConfig(privacy=PrivacyConfig(patterns={"ORDER": r"ORD-\d{6}"}))
    bot = Bot(demo_kb, sessions=SQLiteSessionStore(db), config=config, generator=generator)
    ask(bot, "where is ORD-123456? and ORD-654321, ORD-123456", "ord")
    assert bot.sessions.get("ord").turns[0].text == "where is [ORDER_1]? and [ORDER_2], [ORDER_1]"
    assert b"ORD-123456" not in stored_bytes(db)


def test_metadata_put_by_anyone_is_stored_redacted(bot, db):
    """Whatever a path keeps in the session's meta goes through redaction before it is
    stored; a platform's message id is kept as it is (it finds a redelivered message)."""
    session = bot.sessions.load("meta")
    session.meta["note"] = {"seen": ["call 13800138000"]}
    bot.sessions.save_state(session)  # as a path that saved raw text would have
    message = IncomingMessage("hello", session_id="meta", meta={"message_id": "6200000000000005"})
    bot.reply(message)
    stored = bot.sessions.get("meta")
    assert stored.meta["note"] == {"seen": ["call [PHONE_1]"]}
    assert stored.turns[0].meta["message_id"] == "6200000000000005"
    assert bot.reply(message).meta.get("repeated")  # still recognised


def test_the_stores_own_contact_details_stay_in_numbered_text(bot):
    reply = ask(bot, "My item arrived damaged, write to me at jane@example.com", "own")
    stored = bot.sessions.get("own").turns
    assert "[EMAIL_1]" in stored[0].text
    assert "help@kestrelridge.example" in stored[1].text and reply.text == stored[1].text


def test_nothing_in_the_database_holds_a_raw_value(bot, db):
    """A conversation full of personal data, then every byte SQLite wrote is searched."""
    messages = [
        f"Hi, I'm Maria Lopez, email {EMAIL}, phone +1 (415) 555-0132",
        f"refund card {CARD} please, it was charged twice",
        f"我的身份证号是{ID_CN}，手机13812345678，地址北京市朝阳区建国路88号",
        "my password is Tr0ub4dor&3 and I can't log in",
    ]
    for text in messages:
        ask(bot, text, "all")
    raw = stored_bytes(db).decode("utf-8", errors="ignore")
    for value in [EMAIL, "415) 555-0132", CARD, ID_CN, "13812345678", "建国路88号", "Tr0ub4dor"]:
        assert value not in raw, value
    assert "Maria Lopez" not in raw
    dump = json.dumps([t.text for t in bot.sessions.get("all").turns], ensure_ascii=False)
    assert "[NAME_1]" in dump and "[ADDRESS_1]" in dump and "[SECRET_1]" in dump


def test_a_user_id_that_is_an_email_address_is_not_stored(bot, db):
    for session in ("u1", "u2"):
        bot.reply(IncomingMessage("hello", session_id=session, user_id="jane@example.com"))
    first, second = bot.sessions.get("u1"), bot.sessions.get("u2")
    assert first.user_id == second.user_id == bot.redactor.pseudonym("jane@example.com")
    assert first.user_id.startswith("user-") and b"jane@example.com" not in stored_bytes(db)
