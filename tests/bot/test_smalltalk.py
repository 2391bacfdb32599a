"""Messages that are only social get a short reply of the bot's own, not "I don't know"."""

from __future__ import annotations

import pytest

from bot.engine import Bot
from bot.generators.fake import FakeGenerator
from bot.sessions import MemorySessionStore
from bot.smalltalk import small_talk
from bot.types import IncomingMessage


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hi", "greeting"),
        ("Hello there!", "greeting"),
        ("good morning :)", "greeting"),
        ("how are you today?", "greeting"),
        ("thanks!!", "thanks"),
        ("Thank you so much 🙏", "thanks"),
        ("ok thanks", "thanks"),  # the strongest kind wins
        ("great, thanks a lot, bye", "goodbye"),
        ("ok 👍", "ack"),
        ("got it", "ack"),
        ("is anyone there?", "presence"),
        ("你好", "greeting"),
        ("您好！", "greeting"),
        ("好的，谢谢", "thanks"),
        ("在吗？", "presence"),
        ("拜拜", "goodbye"),
    ],
)
def test_social_messages_are_recognised(text, kind):
    assert small_talk(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "hi, where is my order?",
        "thanks, but can I return it?",
        "你好，我想退货",
        "yes",  # an answer to the bot's own question, never small talk
        "no",
        "sure",
        "?",
        "👍",
        "ok " * 30,  # too long to be small talk
        "shipping",
        "hello kitty backpack",
    ],
)
def test_anything_else_is_a_question(text):
    assert small_talk(text) is None


@pytest.fixture
def bot(demo_kb):
    return Bot(demo_kb, sessions=MemorySessionStore(), generator=FakeGenerator())


def ask(bot, text, session):
    return bot.reply(IncomingMessage(text, session_id=session))


def test_a_greeting_is_greeted_in_its_language_and_is_no_failure(bot):
    for _ in range(3):  # two don't-knows in a row hand over; greetings never do
        reply = ask(bot, "hi", "st1")
        assert reply.action == "smalltalk" and "help" in reply.text
    assert bot.sessions.get("st1").failures == 0
    zh = ask(bot, "你好", "st2")
    assert zh.action == "smalltalk" and zh.language == "zh" and "您好" in zh.text
    assert ask(bot, "谢谢", "st2").text.startswith("不客气")


def test_small_talk_does_not_reset_the_failure_count(bot):
    ask(bot, "what's the weather in Paris", "st3")
    assert bot.sessions.get("st3").failures == 1
    assert ask(bot, "thanks", "st3").action == "smalltalk"
    assert bot.sessions.get("st3").failures == 1


def test_an_acknowledgement_after_the_bots_question_is_an_answer(bot):
    first = ask(bot, "what's the weather in Paris", "st4")
    assert first.action == "dont_know"  # "... or would you like me to connect you ...?"
    assert ask(bot, "ok", "st4").action != "smalltalk"
    # after an answer, "ok" is only an acknowledgement
    assert ask(bot, "How long does delivery take?", "st5").action == "answer_faq"
    assert ask(bot, "ok", "st5").action == "smalltalk"


def test_a_greeting_with_a_question_is_answered(bot):
    reply = ask(bot, "hi, how long does delivery take?", "st6")
    assert reply.action == "answer_faq"


def test_the_texts_can_be_overridden(demo_kb):
    from bot.config import BotConfig

    config = BotConfig.model_validate(
        {"messages": {"en": {"smalltalk_greeting": "Howdy from the Kestrel crew!"}}}
    )
    bot = Bot(demo_kb, config=config, sessions=MemorySessionStore(), generator=FakeGenerator())
    assert ask(bot, "hello", "st7").text == "Howdy from the Kestrel crew!"


THANKS_FAQ = """id,question,answer
thanks,Thank you!,"You're most welcome, happy trails from all of us at Pine & Co!"
shipping,How long does shipping take?,Orders ship within 2 business days and arrive in 3-5 days.
returns,Can I return an item?,Unworn items can be returned within 30 days for a full refund.
sizes,How do I choose a size?,"Use the size chart on each product page; between sizes, size up."
payment,Which payment methods do you accept?,"We accept Visa, Mastercard, PayPal and Apple Pay."
warranty,Is there a warranty?,All our packs carry a two-year warranty against defects.
"""


def test_a_store_that_answers_thanks_itself_keeps_its_answer(tmp_path, st_embedder):
    from tests.bot.test_one_question_faq import one_question_bot

    bot = one_question_bot(tmp_path, THANKS_FAQ, st_embedder)
    reply = ask(bot, "Thank you!", "st8")
    assert reply.action == "answer_faq" and "happy trails" in reply.text
    assert ask(bot, "hello", "st8").action == "smalltalk"  # it has no greeting of its own


def test_thanks_after_an_answer_does_not_repeat_the_answer(bot):
    first = ask(bot, "How long does delivery take?", "st9")
    assert first.action == "answer_faq"
    again = ask(bot, "thanks", "st9")  # not glued to the question before it
    assert again.action == "smalltalk" and again.text != first.text
