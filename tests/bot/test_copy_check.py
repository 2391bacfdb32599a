"""The copy checker: every number, price, material, certification, name and superlative in
generated copy must be in the product's own facts (or its reviews)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.commerce.copy_check import CopyChecker, Source, count_words, numbers_in
from bot.commerce.copy_items import CopyItem
from knowledge.loaders import load_catalog

DEMO = Path(__file__).resolve().parents[2] / "knowledge" / "demo_store" / "catalog.csv"


@pytest.fixture(scope="module")
def demo_items() -> dict[str, CopyItem]:
    return {item.id: item for item in map(CopyItem.from_document, load_catalog(DEMO))}


@pytest.fixture(scope="module")
def jacket(demo_items) -> CopyItem:
    """Cirrus 800 Down Jacket (Men's): 395 g, 249.00 USD, 20D nylon, RDS down, waterproof=no."""
    return demo_items["KR-JKT-001"]


def failures(text: str, item: CopyItem, **kw) -> list[tuple[str, str]]:
    report = CopyChecker(min_words=0).check(text, item.source, **kw)
    return [(c.kind, c.claim) for c in report.failures]


def test_copy_that_states_only_the_facts_passes_and_says_where_each_is(jacket):
    text = (
        "The Cirrus 800 Down Jacket weighs 395 g and costs $249. Its 800-fill RDS goose down "
        "sits in a 20D recycled nylon ripstop shell, in Slate Blue, sizes S to XXL."
    )
    report = CopyChecker().check(text, jacket.source, language="en")
    assert report.passed, report.failures
    by_claim = {c.claim: c for c in report.checks}
    assert by_claim["395 g"].note == "It packs into its own hand pocket and weighs 395 g in size M."
    assert by_claim["$249"].kind == "price" and "249.00 USD" in by_claim["$249"].note
    assert {"goose down", "nylon", "recycled", "rds", "blue"} <= set(by_claim)


@pytest.mark.parametrize(
    ("planted", "kind", "claim"),
    [
        ("It weighs only 350 g.", "number", "350 g"),
        ("It weighs 395 kg.", "number", "395 kg"),  # the source's number, another unit
        ("A 30D shell.", "number", "30D"),
        ("Now just $199.", "price", "$199"),
        ("Only 249 EUR.", "price", "249 EUR"),  # the price, another currency
        ("Save 20% today.", "number", "20%"),
        ("Made with Gore-Tex fabric.", "material", "gore tex"),
        ("A shell of soft merino wool.", "material", "merino wool"),
        ("Bluesign fabric throughout.", "certification", "bluesign"),
        ("Fully waterproof for storms.", "feature", "waterproof"),  # the facts: waterproof=no
        ("It comes with a lifetime warranty.", "feature", "lifetime warranty"),
        ("Our best-selling jacket.", "superlative", "best selling"),
        ("The lightest jacket you can buy.", "superlative", "lightest"),
        ("The most popular jacket in the range.", "superlative", "most popular"),
        ("Designed with Patagonia in mind.", "name", "Patagonia"),
        ("Available in bright red.", "colour", "red"),
    ],
)
def test_a_planted_invented_claim_is_caught(jacket, planted, kind, claim):
    text = f"The Cirrus 800 Down Jacket weighs 395 g. {planted}"
    assert failures(text, jacket) == [(kind, claim)]


def test_a_claim_the_source_makes_is_no_invention(demo_items):
    women = demo_items["KR-JKT-002"]  # "The women's cut of our best-selling down jacket"
    assert failures("Our best-selling down jacket, for women.", women) == []
    shell = demo_items["KR-JKT-005"]  # "Our most protective rain shell"
    assert failures("Our most protective rain shell, rated 20,000 mm waterproof.", shell) == []


def test_negation_is_read_both_ways(jacket, demo_items):
    assert failures("It is not waterproof, but it is warm.", jacket) == []
    shell = demo_items["KR-JKT-004"]  # waterproof=yes
    assert failures("It is not waterproof.", shell) == [("feature", "not waterproof")]


def test_a_name_that_opens_a_sentence_is_checked_only_when_it_looks_like_one(jacket):
    assert failures("Stay warm on cold mornings with this down jacket.", jacket) == []
    assert failures("YKK hardware keeps it closed.", jacket) == [("name", "YKK")]
    assert failures("Zips keep it closed.", jacket) == [("part", "zip")]
    assert failures("Kestrel Ridge's lightest weight jacket.", jacket) == [
        ("superlative", "lightest")
    ]


def test_hashtags_are_checked_for_claims_not_for_names(jacket):
    assert failures("Warm down for cold days. #hiking #KestrelRidge #OutdoorLife", jacket) == []
    assert failures("Warm down for cold days. #BestSeller", jacket) == [
        ("superlative", "best seller")
    ]


def test_numbers_keep_their_units_and_currencies():
    found = {(n.value, n.unit, n.currency) for n in numbers_in("20,000 mm, 1.1 kg, $249, 3-layer")}
    assert found == {(20000.0, "mm", ""), (1.1, "kg", ""), (249.0, "", "$"), (3.0, "layer", "")}
    assert {(n.value, n.unit) for n in numbers_in("two hand pockets, 100% merino")} == {
        (2.0, "hand"),
        (100.0, "%"),
    }
    assert [n.currency for n in numbers_in("It cost 40 $ after shipping")] == ["$"]


def test_the_stores_own_descriptions_pass(demo_items):
    """Every sentence of the demo catalogue's descriptions is grounded by definition: a flag
    on one would be the checker's mistake."""
    flagged = {
        item.id: failures(item.description, item)
        for item in demo_items.values()
        if failures(item.description, item)
    }
    assert flagged == {}


def test_review_summaries_are_checked_against_the_reviews():
    source = Source(
        "Leather Purse\nThe straps broke after 2 weeks. I paid $40 after shipping.\n"
        "Lovely colour but the stones fall off."
    )
    checker = CopyChecker(min_words=0)
    ok = checker.check("Reviewers like the colour, but the straps broke within 2 weeks.", source)
    assert ok.passed, ok.failures
    bad = checker.check("It is made of genuine leather and lasts 5 years, all for $30.", source)
    assert [(c.kind, c.claim) for c in bad.failures] == [
        ("number", "5 years"),
        ("price", "$30"),
        ("material", "genuine leather"),
    ]


def test_the_text_as_a_whole(jacket):
    checker = CopyChecker(min_words=8)
    quality = lambda text, **kw: [  # noqa: E731
        c.note for c in checker.check(text, jacket.source, **kw).failures if c.kind == "quality"
    ]
    assert quality("") == ["empty"]
    assert quality("Warm jacket.") == ["too short (2 words)"]
    assert "repeats itself" in quality("🌟" * 20)
    said_twice = "A warm down jacket for cold days. A warm down jacket for cold days."
    assert quality(said_twice) == ["a sentence said twice"]
    english = "A warm, light down jacket that packs into its own pocket."
    assert quality(english, language="zh") == ["not in the requested language (zh)"]
    assert quality(english, language="en") == []
    meta = "The text is not exactly on the facts, but it is about the jacket's down."
    assert quality(meta) == ["speaks of the task, not the product"]
    looping = "A warm jacket, a true joy to wear, a true joy to wear, a true joy to wear."
    assert quality(looping) == ["repeats itself"]
    elsewhere = "This ad highlights a recent issue, one that has its roots in a clothing story."
    assert quality(elsewhere, subject=jacket.title + " jackets") == [
        "speaks of the task, not the product",
        "does not name the product",
    ]
    assert quality("Warm goose down for cold days on the hill.", subject="Down Jacket") == []


def test_chinese_superlatives_are_claims_too(jacket):
    assert failures("这是最轻的羽绒服。", jacket) == [("superlative", "最")]
    assert count_words("男款800蓬羽绒服") == 4
