"""Recommendations on the demo store, with the real embedding model (fake generator: no
recommendation calls it): the issue's requests, filters, diversity, stock, history,
reasons from the product's own data, follow-ups that refine, and the reply's cards."""

import re

import pytest

from bot.commerce.catalogue import Catalogue
from bot.commerce.history import History
from bot.commerce.recommend import Recommender
from bot.commerce.shopping import ShoppingSkill
from bot.engine import Bot
from bot.generators.fake import FakeGenerator
from bot.sessions import MemorySessionStore, Session, SQLiteSessionStore
from bot.types import IncomingMessage
from connectors.base import reply_as_text

RUNNING_SHOE = "KR-FTW-005"  # Fellrunner Trail Running Shoe (Men's), $145
HIKING_BOOT = "KR-FTW-001"  # Scree Mid Waterproof Hiking Boot (Men's), 540 g per boot
UNRELATED_TO_RUNNING = {"tents", "sleeping-bags", "sleeping-pads", "cookware", "climbing"}


@pytest.fixture(scope="module")
def generator():
    return FakeGenerator()


@pytest.fixture(scope="module")
def bot(demo_kb, generator):
    return Bot(demo_kb, sessions=MemorySessionStore(), generator=generator)


@pytest.fixture(scope="module")
def catalogue(demo_kb):
    return Catalogue(demo_kb.index.chunks)


@pytest.fixture(scope="module")
def recommender(demo_kb):
    return Recommender(demo_kb.retriever())


def ask(bot, text, session, profile=None):
    meta = {"profile": profile} if profile is not None else {}
    return bot.reply(IncomingMessage(text, session_id=session, meta=meta))


def products(reply, catalogue):
    return [catalogue.find(card.sku) for card in reply.products]


def assert_diverse(items):
    stems = [i.stem for i in items]
    assert len(stems) == len(set(stems)), stems  # no two versions of one item


# ---------------------------------------------------------------------------- done-when
def test_a_runner_asking_for_race_gear_under_80_gets_diverse_in_stock_picks_with_reasons(
    bot, catalogue, generator
):
    reply = ask(bot, "something for my next race under $80", "race", {"bought": [RUNNING_SHOE]})
    assert reply.action == "recommend"
    picks = products(reply, catalogue)
    assert len(picks) >= 3
    assert all(p.product.in_stock and p.product.price <= 80 for p in picks)
    assert all(p.product.category not in UNRELATED_TO_RUNNING for p in picks)
    assert RUNNING_SHOE not in {p.sku for p in picks}  # not what they already have
    assert all(p.stem != catalogue.find(RUNNING_SHOE).stem for p in picks)
    assert_diverse(picks)
    assert all(card.reason and card.url and card.price for card in reply.products)
    assert "because you bought the Fellrunner Trail Running Shoe" in reply.products[0].reason
    assert generator.history == []  # recommendations never call the model


def test_a_runners_picks_are_for_running_not_for_another_activity(recommender, catalogue):
    """The race request says nothing the catalogue matches ("race"), so the running shoes
    bought rank the picks: a product whose own words say running (the soft flask, the
    night-running headlamp) comes first, and none whose words say only another activity
    the catalogue names products by (the belay device, in "climbing") is picked."""
    history = History(bought=[catalogue.find(RUNNING_SHOE).doc_id])
    result = recommender.recommend("something for my next race under $80", history=history)
    own = catalogue.item_activities
    assert own[catalogue.find(RUNNING_SHOE).doc_id] == {"running"}
    assert "running" in own[result.picks[0].item.doc_id]
    for pick in result.picks:
        implied = catalogue.implied_activities[pick.item.doc_id]
        assert not implied or "running" in implied or "hiking" in implied, pick.item.title
        assert "climbing" not in own[pick.item.doc_id]
    running = {
        d for d in catalogue.activities["running"] if catalogue.by_doc[d].product.price <= 80
    }
    running = {d for d in running if catalogue.by_doc[d].product.in_stock}
    assert running and running <= {p.item.doc_id for p in result.picks}


def test_an_activity_the_request_names_outranks_the_history(recommender, catalogue):
    """A runner who asks for climbing gear gets climbing gear: the request's activity is
    the one that counts, the history's only when the request names none."""
    history = History(bought=[catalogue.find(RUNNING_SHOE).doc_id])
    result = recommender.recommend("something for climbing under $80", history=history)
    assert result.constraints.activities == ["climbing"]
    assert result.picks
    assert all("climbing" in catalogue.implied_activities[p.item.doc_id] for p in result.picks)


def test_the_catalogues_activities_are_its_own_words(catalogue):
    """Activities are the -ing words titles name products by ("Trail Running Shoe"), not a
    category that happens to end in -ing ("clothing"); a product is for one when its words
    say so, or its category's name does (a belay device in "climbing"); the verb ("runs up
    to 60 hours", "a strap runs under the sole") is not the activity."""
    assert {"running", "climbing", "hiking"} <= set(catalogue.activities)
    assert "clothing" not in catalogue.activities
    belay = next(i for i in catalogue.items if i.product.title == "Tube Belay Device")
    assert catalogue.item_activities[belay.doc_id] == {"climbing"}
    for item in catalogue.items:
        if (
            " runs " in item.product.description
            and "running" not in item.product.description.lower()
        ):
            assert "running" not in catalogue.item_activities[item.doc_id], item.product.title
    flask = next(i for i in catalogue.items if i.product.title == "Soft Flask 500 mL")
    assert catalogue.item_activities[flask.doc_id] == {"running"}


def test_a_waterproof_jacket_under_150_is_recommended_not_asked_about(bot, catalogue):
    reply = ask(bot, "do you have a waterproof jacket under $150?", "jacket")
    assert reply.action == "recommend" and reply.options == []
    picks = products(reply, catalogue)
    assert picks[0].sku == "KR-JKT-006"  # Drizzle 2.5L Rain Jacket (Men's), $149
    assert all(p.flags.get("waterproof") is True and p.product.price <= 150 for p in picks)
    assert all(p.product.in_stock for p in picks)
    assert reply.products[0].reason.startswith("waterproof (10,000 mm)")
    assert "$149" in reply.products[0].reason
    # the women's version matches but is sold out: said so, not offered
    assert "out of stock right now: Drizzle 2.5L Rain Jacket (Women's)" in reply.text


@pytest.mark.parametrize(
    "question", ["my boots leak, is that covered", "my tent pole snapped, is that covered"]
)
def test_a_question_about_something_the_shopper_has_is_not_a_shopping_request(bot, question):
    # it names a product noun ("boot", and "cover" is one too), but asks about it
    assert ask(bot, question, question).action != "recommend"


@pytest.mark.parametrize(
    "request_", ["a fleece jacket", "warm sleeping bags", "waterproof jackets?"]
)
def test_a_bare_product_description_is_a_shopping_request(bot, request_):
    assert ask(bot, request_, request_).action == "recommend"


def test_the_chinese_request_is_answered_in_chinese_without_inventing_headphones(bot, catalogue):
    reply = ask(bot, "推荐一款送女朋友的耳机", "zh-gift")
    assert reply.action == "recommend" and reply.language == "zh"
    assert "本店暂时没有耳机" in reply.text  # the store sells none: it says so
    picks = products(reply, catalogue)
    assert picks and all(p.gender in ("women", "unisex", None) for p in picks)
    assert all(p.product.in_stock for p in picks)
    assert_diverse(picks)


def test_a_chinese_request_the_catalogue_can_answer(bot, catalogue):
    reply = ask(bot, "有没有防水的外套，150美元以内", "zh-jacket")
    assert reply.action == "recommend" and reply.language == "zh"
    assert reply.text.startswith("为您推荐")
    picks = products(reply, catalogue)
    assert picks[0].sku == "KR-JKT-006"
    assert all(p.flags.get("waterproof") and p.product.price <= 150 for p in picks)
    assert reply.products[0].reason.startswith("防水")


def test_like_the_boots_i_bought_but_lighter(bot, catalogue):
    reply = ask(
        bot, "something like the boots I bought, but lighter", "boots", {"bought": [HIKING_BOOT]}
    )
    assert reply.action == "recommend"
    picks = products(reply, catalogue)
    boot = catalogue.find(HIKING_BOOT)
    assert picks and all(p.weight_g < boot.weight_g for p in picks)
    assert all(p.product.category == "footwear" and p.stem != boot.stem for p in picks)
    assert picks[0].sku == "KR-FTW-003"  # Scree Low Hiking Shoe (Men's): the boot's low cut
    assert "lighter than the Scree Mid Waterproof Hiking Boot (Men's) you bought" in (
        reply.products[0].reason
    )


def test_bought_boots_without_a_history_are_not_guessed(bot):
    reply = ask(bot, "something like the boots I bought, but lighter", "boots-unknown")
    assert reply.action == "recommend"
    assert "can't see your past orders" in reply.text


# ---------------------------------------------------------------------------- filters
def test_gender_colour_size_and_price_are_filters(recommender):
    result = recommender.recommend("a women's fleece jacket under $150")
    assert result.picks[0].item.sku == "KR-JKT-010"
    assert all(p.item.gender in ("women", "unisex") for p in result.picks)
    assert all(p.item.product.price <= 150 for p in result.picks)
    black = recommender.recommend("a black jacket")
    assert all(any("black" in c.lower() for c in p.item.colours) for p in black.picks)
    sized = recommender.recommend("hiking boots in size 10")
    assert sized.picks and all("boot" in p.item.nouns for p in sized.picks)
    kids = recommender.recommend("a rain jacket for my kid")
    assert kids.picks[0].item.sku == "KR-KID-002"
    assert all(p.item.gender in ("kids", "unisex", None) for p in kids.picks)


def test_a_price_in_another_currency_is_not_converted_but_said(recommender):
    result = recommender.recommend("100元以内的防水外套", language="zh")
    assert result.currency_unmatched and result.picks
    from bot.commerce.reasons import reply_text

    assert "本店价格以USD标价，无法按CNY金额筛选" in reply_text(result, "zh")


def test_results_are_diverse_not_versions_of_one_item(recommender):
    for request in ("a jacket", "a down jacket", "a tent", "a headlamp", "sleeping bag"):
        result = recommender.recommend(request)
        assert len(result.picks) >= 2, request
        assert_diverse([p.item for p in result.picks])


def test_out_of_stock_is_excluded_unless_asked(recommender):
    parka = "KR-JKT-013"  # Basecamp Down Parka (Women's), stock 0
    plain = recommender.recommend("a down parka")
    assert parka not in {p.item.sku for p in plain.picks}
    assert all(p.item.product.in_stock for p in plain.picks)
    assert parka in {i.sku for i in plain.sold_out}
    asked = recommender.recommend("a down parka, including out of stock")
    assert asked.picks[0].item.sku == parka


def test_history_moves_the_ranking(recommender, catalogue):
    def top(profile):
        history, _ = History.from_profile(profile, catalogue)
        return [p.item for p in recommender.recommend("something under $50", history=history).picks]

    climber = top({"bought": ["KR-CLM-001"]})  # a climbing harness
    assert climber[0].product.category == "climbing"
    assert [i.sku for i in climber] != [i.sku for i in top({})]
    assert [i.sku for i in top({"viewed": ["KR-TNT-002"]})] != [i.sku for i in climber]


def test_reasons_state_only_the_products_own_facts(recommender, catalogue):
    """Every number in a reason is in the product's own text or price (or in the product
    it is compared with): nothing is made up."""
    history, _ = History.from_profile({"bought": [HIKING_BOOT]}, catalogue)
    requests = [
        ("do you have a waterproof jacket under $150?", None),
        ("a tent for two under 2 kg", None),
        ("something like the boots I bought, but lighter", history),
        ("a women's fleece jacket", None),
    ]
    boot_text = catalogue.find(HIKING_BOOT).text
    for request, shopper in requests:
        for pick in recommender.recommend(request, history=shopper).picks:
            source = pick.item.text + boot_text
            for number in re.findall(r"\d[\d,.]*", pick.reason):
                assert number.rstrip(".,") in source.replace(".00", ""), (pick.reason, number)


# ---------------------------------------------------------------------------- follow-ups
def test_cheaper_refines_the_last_recommendation(bot, catalogue):
    first = ask(bot, "a waterproof jacket", "cheaper")
    top_price = first.products[0].price
    second = ask(bot, "cheaper?", "cheaper")
    assert second.action == "recommend" and second.meta["reason"] == "refinement"
    picks = products(second, catalogue)
    assert picks and all(p.product.price < top_price for p in picks)
    assert all(p.flags.get("waterproof") for p in picks)  # still what was asked
    assert "less than the" in second.products[0].reason


def test_in_womens_refines_and_a_question_in_between_is_answered_normally(bot, catalogue):
    ask(bot, "a fleece jacket", "womens")
    women = ask(bot, "in women's?", "womens")
    assert women.action == "recommend"
    assert products(women, catalogue)[0].sku == "KR-JKT-010"
    assert all(p.gender in ("women", "unisex") for p in products(women, catalogue))
    faq = ask(bot, "How long does delivery take?", "womens")
    assert faq.action == "answer_faq"


def test_a_chinese_follow_up_refines(bot, catalogue):
    first = ask(bot, "推荐一件防水外套", "zh-cheaper")
    second = ask(bot, "更便宜的呢", "zh-cheaper")
    assert second.action == "recommend" and second.language == "zh"
    assert all(p.price < first.products[0].price for p in second.products)


def test_a_product_the_shopper_says_they_own_counts_as_bought(bot, catalogue):
    ask(bot, "I bought the Talus last year and love it", "talus")
    reply = ask(bot, "anything similar but cheaper?", "talus")
    assert reply.action == "recommend"
    picks = products(reply, catalogue)
    assert picks and all("talus" not in p.stem for p in picks)
    assert all(p.product.price < 329 and p.product.category == "jackets" for p in picks)


def test_follow_ups_work_across_a_stored_session(demo_kb, tmp_path, catalogue):
    with SQLiteSessionStore(tmp_path / "sessions.db") as store:
        bot = Bot(demo_kb, sessions=store, generator=FakeGenerator())
        ask(bot, "a fleece jacket", "stored", {"bought": [RUNNING_SHOE]})
    with SQLiteSessionStore(tmp_path / "sessions.db") as store:
        bot = Bot(demo_kb, sessions=store, generator=FakeGenerator())
        reply = ask(bot, "in women's?", "stored")
        assert reply.action == "recommend" and reply.products[0].sku == "KR-JKT-010"
        assert store.get("stored").meta["recommend"]["profile"] == {
            "bought": [f"product:{RUNNING_SHOE}"]
        }


# ---------------------------------------------------------------------------- the reply
def test_cards_and_the_text_fallback(bot):
    reply = ask(bot, "a tent for two under 2 kg", "cards")
    card = reply.products[0]
    assert card.sku == "KR-TNT-002" and card.title == "Talon 2 Ultralight Tent"
    assert card.price == 449.0 and card.currency == "USD" and card.in_stock
    assert card.url == "https://kestrelridge.example/p/kr-tnt-002"
    assert "1.35 kg" in card.reason
    lines = reply.text.splitlines()
    assert lines[1].startswith("1. Talon 2 Ultralight Tent — ") and lines[2].strip() == card.url
    assert reply_as_text(reply) == reply.text  # cards are not listed twice as text


def test_a_bad_profile_is_ignored_not_fatal(bot):
    for profile in ("KR-FTW-005", ["KR-FTW-005"], {"bought": "nope"}, {"bought": [7, None]}):
        reply = ask(bot, "a headlamp under $60", f"bad-{profile!r}", profile)
        assert reply.action == "recommend" and reply.products


def test_a_store_without_products_recommends_nothing(demo_kb):
    skill = ShoppingSkill(Recommender(demo_kb.retriever()))
    skill.recommender.__dict__["catalogue"] = Catalogue([])
    session = Session(id="empty", channel="test", user_id="u")
    assert skill.reply("recommend a jacket under $100", session, "en") is None


def test_a_product_the_store_does_not_sell_is_named_not_replaced_silently(bot):
    reply = ask(bot, "can you recommend headphones under $50?", "headphones")
    assert reply.action == "recommend"
    assert reply.text.startswith("We don't seem to carry headphones. Our range: jackets,")
    assert "Some other ideas (up to $50 · in stock):" in reply.text
    assert all(card.price <= 50 for card in reply.products)
    # a purpose is not a product: "race" is matched, not reported missing
    race = ask(bot, "something for my next race under $80", "race-2")
    assert "don't seem to carry" not in race.text


def test_refinements_by_colour_and_more(bot, catalogue):
    first = ask(bot, "a down jacket", "more")
    black = ask(bot, "any in black?", "more")
    assert black.meta["reason"] == "refinement"
    assert all(any("black" in c.lower() for c in p.colours) for p in products(black, catalogue))
    others = ask(bot, "show me others", "more")
    shown = {catalogue.find(c.sku).stem for c in black.products}
    assert others.products and not shown & {p.stem for p in products(others, catalogue)}
    assert first.products
