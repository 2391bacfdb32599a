"""What a shopping request asks for, in the catalogue's own terms, and which messages are
shopping requests (demo store with the real model; the tiny store for a catalogue of its own)."""

import csv
from pathlib import Path

import pytest

from bot.commerce.catalogue import Catalogue, size_fits
from bot.commerce.constraints import parse, parse_price
from bot.engine import Bot
from bot.generators.fake import FakeGenerator
from bot.sessions import MemorySessionStore
from bot.types import IncomingMessage

DEMO_FAQ = Path(__file__).resolve().parents[2] / "knowledge" / "demo_store" / "faq.csv"


@pytest.fixture(scope="module")
def catalogue(demo_kb):
    return Catalogue(demo_kb.index.chunks)


@pytest.fixture(scope="module")
def bot(demo_kb):
    return Bot(demo_kb, sessions=MemorySessionStore(), generator=FakeGenerator())


@pytest.mark.parametrize(
    ("text", "low", "high", "currency"),
    [
        ("do you have a waterproof jacket under $150?", None, 150, "USD"),
        ("a tent between 50 and 80 dollars", 50, 80, "USD"),
        ("100元以内的防水外套", None, 100, "CNY"),
        ("something less than €40", None, 40, "EUR"),
        ("boots from $100 to $200", 100, 200, "USD"),
        ("a headlamp under 60", None, 60, ""),  # no currency: the catalogue's
        ("150美元以内的冲锋衣", None, 150, "USD"),
        ("a jacket around $200", 160, 240, "USD"),
        ("a 2 person tent", None, None, ""),  # a count, not a price
        ("a pack under 20 L", None, None, ""),
        # a bare number followed by a noun counts something: it is no budget
        ("shirts for over 40 runners in my club", None, None, ""),
        ("a pack with at least 2 pockets", None, None, ""),
        ("我用了超过3年的背包坏了", None, None, ""),
        ("under 150 for a tent", None, 150, ""),
        ("200以内的外套", None, 200, ""),
        ("a shell over 200 is fine", 200, None, ""),
    ],
)
def test_price_ranges_and_currencies(text, low, high, currency):
    got_low, got_high, got_currency, _ = parse_price(text.lower(), "USD")
    assert (got_low, got_high, got_currency) == (low, high, currency)


def test_attributes_gender_size_colour_and_weight_in_the_catalogues_terms(catalogue):
    c = parse("a black merino tee in size M, men's, under 300 g", catalogue)
    assert c.gender == "men" and c.size == "M" and c.colours == ["black"]
    assert c.nouns == ["tee"] and c.weight_max_g == 300
    c = parse("not waterproof, a women's softshell", catalogue)
    assert c.flags == {"waterproof": False} and c.gender == "women"
    c = parse("推荐一件女款防水冲锋衣", catalogue)
    assert c.gender == "women" and c.flags == {"waterproof": True} and "jacket" in c.nouns
    assert parse("送男朋友的礼物", catalogue).gender == "men"
    assert parse("a gift for my girlfriend", catalogue).gift


def test_references_comparisons_and_stock(catalogue):
    c = parse("something like the boots I bought, but lighter", catalogue)
    assert c.reference == {"verb": "bought", "words": ["boot"]}
    assert c.relative == ["lighter"] and c.nouns == []  # the boots name the reference
    assert parse("更便宜的呢", catalogue).relative == ["cheaper"]
    assert parse("a down jacket, including out of stock", catalogue).include_out_of_stock
    assert not parse("a down jacket", catalogue).include_out_of_stock


def test_product_words_the_catalogue_lacks_are_named(catalogue):
    assert parse("推荐一款送女朋友的耳机", catalogue).missing == ["耳机"]
    assert parse("推荐一款防水外套", catalogue).missing == []


def test_the_vocabulary_comes_from_the_catalogue_itself(fake_kb):
    """The tiny store sells no headlamps: the word is no product noun there, as it is in
    the demo store; its nouns, colours and categories are its own."""
    tiny = Catalogue(fake_kb.index.chunks)
    assert set(tiny.nouns) == {"jacket", "shoe", "tent"}
    assert "headlamp" not in tiny.nouns
    assert set(tiny.categories.values()) == {"jackets", "footwear", "tents"}
    assert parse("do you have a headlamp?", tiny).nouns == []
    assert parse("a slate blue tent", tiny).colours == ["slate blue"]


def test_near_duplicates_share_a_stem_and_versions_for_kids_do_not(catalogue):
    by_sku = {i.sku: i for i in catalogue.items}
    assert by_sku["KR-JKT-006"].stem == by_sku["KR-JKT-007"].stem  # Drizzle men's / women's
    assert by_sku["KR-TNT-001"].stem == by_sku["KR-TNT-002"].stem  # Talon 1 / Talon 2
    assert by_sku["KR-KID-002"].stem != by_sku["KR-JKT-006"].stem  # Kids' Drizzle
    assert by_sku["KR-JKT-001"].gender == "men" and by_sku["KR-KID-001"].gender == "kids"
    assert by_sku["KR-FTW-001"].weight_g == 540 and by_sku["KR-TNT-002"].weight_g == 1350


@pytest.mark.parametrize(
    ("wanted", "sizes", "fits"),
    [
        ("M", "S/M/L/XL", True),
        ("XS", "S/M/L", False),
        ("10", "US 7-14 (half sizes)", True),
        ("42", "EU 36-46 (half sizes)", True),
        ("15", "US 7-14", False),
        ("M", "", True),
    ],
)
def test_sizes(wanted, sizes, fits):
    assert size_fits(wanted, sizes) is fits


# ---------------------------------------------------------------------------- routing
SHOPPING = [
    "a gift for a runner under $50",
    "推荐一款送女朋友的耳机",
    "something like the boots I bought, but lighter",
    "do you have a waterproof jacket under $150?",
    "something for my next race under $80",
    "can you recommend a warm sleeping bag?",
    "I'm looking for a lightweight tent for two",
    "do you have hiking boots in size 10?",
    "do you have tents?",
    "有没有防水的外套",
    "想买一个头灯，50美元以内",
]
NOT_SHOPPING = [
    "how long does delivery take",
    "can I return shoes I wore",
    "I want to return my boots",
    "is the Drizzle jacket waterproof?",
    "do you have a size chart",
    "is shipping free if i spend over 100 bucks",
    "Do you offer gift wrapping?",
    "my jacket seam split after a year, is that covered?",
    "退货期限是多久？",
    "包邮吗",
    "羽绒服怎么洗？",
    "可以买礼品卡送人吗",
    "Reviews: Talus 3L Storm Shell",  # what is said about a product, not a product wanted
]


def ask(bot, text, session="s"):
    return bot.reply(IncomingMessage(text, session_id=session))


@pytest.mark.parametrize("text", SHOPPING)
def test_shopping_requests_get_recommendations(bot, text):
    reply = ask(bot, text, session=f"yes-{text}")
    assert reply.action == "recommend", reply.text
    assert reply.meta["reason"] == "shopping request"


@pytest.mark.parametrize("text", NOT_SHOPPING)
def test_questions_about_the_store_are_not_shopping_requests(bot, text):
    reply = ask(bot, text, session=f"no-{text}")
    assert reply.action != "recommend", reply.text
    assert reply.products == [] or reply.action == "generate"


def test_no_question_of_the_stores_own_faq_is_taken_for_a_shopping_request(bot):
    with DEMO_FAQ.open(encoding="utf-8", newline="") as handle:
        questions = [row["question"] for row in csv.DictReader(handle)]
    routed = [q for q in questions if ask(bot, q, session=f"faq-{q}").action == "recommend"]
    assert routed == []


@pytest.mark.parametrize(
    ("text", "activities"),
    [
        ("a gift for a runner under $50", ["running"]),
        ("something for climbing", ["climbing"]),
        ("gear for hikers", ["hiking"]),
        ("跑步用的东西", ["running"]),  # the glossary's English
        ("something for my next race under $80", []),  # no activity the catalogue names
        ("a jacket that runs small", []),  # the verb is no activity
    ],
)
def test_the_activity_a_request_names(catalogue, text, activities):
    assert parse(text, catalogue).activities == activities
