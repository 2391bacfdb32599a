"""The grounding check with the real embedding model: what a generated sentence may claim."""

from __future__ import annotations

import pytest

from bot.confidence import load_or_calibrate
from bot.grounding import GroundingChecker, clauses, complete_sentences
from knowledge.retriever import Hit

SHIPPING = (
    "PO boxes are accepted for US Postal Service standard shipping only, not for express "
    "shipping. If you choose express shipping, please give a street address. "
    "Orders over $75 ship free within the contiguous US."
)
RETURNS = (
    "Footwear that has been worn outdoors can't be returned unless it is defective. "
    "Zipper repairs are free for the lifetime of the product."
)


def hit(text: str, doc_id: str = "page:x") -> Hit:
    meta = {"title": "Policy", "kind": "policy"}
    return Hit(chunk_id=doc_id + "#0", doc_id=doc_id, text=text, metadata=meta, score=1.0)


@pytest.fixture(scope="module", params=["fallback", "demo store"])
def checker(request, st_embedder, demo_kb):
    # 0.6 is the fallback floor; a calibrated store uses its own paraphrase floor
    if request.param == "fallback":
        return GroundingChecker(st_embedder, floor=0.6)
    floor = load_or_calibrate(demo_kb).stats["paraphrase_floor"]
    return GroundingChecker(st_embedder, floor=floor)


@pytest.fixture(scope="module")
def facts(checker):
    return checker.prepare([hit(SHIPPING), hit(RETURNS, "page:returns")])


@pytest.mark.parametrize(
    "sentence",
    [
        "PO boxes are accepted for US Postal Service standard shipping only [1].",
        "PO boxes are not accepted for express shipping [1].",
        "Orders over $75 ship free within the contiguous US [1].",
        "Worn footwear can't be returned unless it is defective [2].",
        "Zipper repairs are free for the lifetime of the product [2].",
    ],
)
def test_sentences_the_sources_support(checker, facts, sentence):
    assert checker.supported(sentence, facts)


@pytest.mark.parametrize(
    "sentence",
    [
        "We don't repair zippers [2].",  # negates its source
        "Footwear that has been worn outdoors can be returned [2].",  # drops the negation
        "Orders over $50 ship free within the contiguous US [1].",  # a number not in sources
        "We offer free gift wrapping on every order placed this month.",  # not in sources
        # what the bundled model once said above the shipping policy
        "I'm sorry for any confusion, but as a customer-service assistant, I'm not "
        "equipped to provide shipping services.",
    ],
)
def test_sentences_the_sources_do_not_support(checker, facts, sentence):
    assert not checker.supported(sentence, facts)


# the tiny store's wording of the PO-box rule (issue 14: "We do not ship to PO boxes." passed)
PO_BOXES = "PO boxes are accepted for standard USPS shipping only, never for express delivery."
FREE = "Free shipping applies to standard shipping only; express shipping is never free."


@pytest.mark.parametrize(
    ("sentence", "supported"),
    [
        # a no that names no case denies what the source accepts for one case
        ("We do not ship to PO boxes [1].", False),
        ("PO boxes are not accepted [1].", False),
        ("We can't deliver to a PO box.", False),
        # a no about the case the source accepts, a yes about the case it refuses
        ("PO boxes can't be used for standard USPS shipping [1].", False),
        ("PO boxes are accepted for express delivery [1].", False),
        # the same polarity on the same case
        ("PO boxes are accepted for standard USPS shipping only [1].", True),
        ("PO boxes are never accepted for express delivery [1].", True),
        ("We don't ship PO box orders by express delivery [1].", True),
        ("PO boxes are accepted for standard USPS shipping, but not for express delivery.", True),
        # the same rule on another sentence of two polarities
        ("Express shipping is never free [2].", True),
        ("Free shipping applies to standard shipping only [2].", True),
        ("Express shipping is free [2].", False),
        ("Shipping is not free [2].", False),
    ],
)
def test_a_no_must_deny_what_its_source_denies(checker, sentence, supported):
    facts = checker.prepare([hit(PO_BOXES), hit(FREE, "page:free")])
    assert checker.supported(sentence, facts) is supported


def test_the_readme_example_is_caught_on_the_demo_store(checker, demo_kb):
    """What the bundled model wrote above the demo store's shipping policy (issue 14)."""
    page = next(c for c in demo_kb.index.chunks if "PO boxes are accepted" in c.text)
    source = Hit(page.id, page.doc_id, page.text, page.metadata, 1.0)
    facts = checker.prepare([source], question="do you ship to PO boxes")
    assert not checker.supported("We do not ship to PO boxes.", facts)
    assert checker.supported(
        "PO boxes are accepted for US Postal Service standard shipping only [1].", facts
    )
    assert checker.supported("PO boxes are not accepted for express shipping [1].", facts)


def test_clauses_split_long_sentences_only():
    assert clauses("Short and plain sentence here.") == []
    assert clauses("accepted for standard shipping only, not for express shipping") == [
        "accepted for standard shipping only",
        "not for express shipping",
    ]


def test_complete_sentences_keep_the_unfinished_tail():
    done, tail = complete_sentences("First one. Second one! Third")
    assert done == ["First one.", "Second one!"] and tail == "Third"


ADDRESS = (
    "You can edit your shipping address under My Account > Orders for 60 minutes after "
    "placing your order. After that, contact us as soon as possible. Once an order has "
    "shipped, we can't change the address or redirect the parcel."
)
WARRANTY = (
    "Our products are covered by a 2-year warranty against defects in materials and "
    "workmanship. Examples of defects include seams that come apart under normal use, and "
    "buckles that break without being crushed."
)
NOT_COVERED = (
    "The warranty doesn't cover:\n- normal wear and tear, such as abrasion or fading\n"
    "- damage caused by animals\n- items that have been altered by someone else"
)
KEEPING = (
    "We keep your information only as long as we need it.\n"
    "- Order records: 7 years, for tax purposes.\n- Customer-service messages: 3 years.\n\n"
    "Returns are accepted within 30 days of delivery."
)


def test_a_verdict_must_be_the_one_the_sources_give(checker):
    facts = checker.prepare([hit(ADDRESS)], question="can I change my shipping address")
    # the sources say yes for an hour and no once shipped: neither verdict is theirs alone
    assert not checker.supported("No, you cannot change your shipping address.", facts)
    assert not checker.supported("Yes, you can change your shipping address anytime.", facts)
    assert checker.supported(
        "You can edit your shipping address under My Account for 60 minutes [1].", facts
    )
    facts = checker.prepare([hit(SHIPPING)], question="do you ship to PO boxes")
    assert checker.supported(
        "Yes, PO boxes are accepted for US Postal Service standard shipping only [1].", facts
    )


def test_a_list_item_is_judged_with_the_sentence_that_introduces_it(checker):
    facts = checker.prepare([hit(NOT_COVERED), hit(WARRANTY, "page:warranty")])
    intro = "The warranty doesn't cover:"
    assert checker.supported(intro, facts)
    assert checker.supported("- damage caused by animals [1]", facts, intro=intro)
    assert checker.supported("- normal wear and tear, such as fading", facts, intro=intro)
    # covered, so listing it under "doesn't cover" contradicts the sources (the closest
    # source sentence has a "without" of its own, so negation alone would not tell)
    assert not checker.supported(
        "- defects in materials and workmanship, such as seams that come apart", facts, intro=intro
    )


def test_numbers_and_words_must_come_from_the_sentence_that_supports_the_claim(checker):
    facts = checker.prepare([hit(KEEPING)])
    assert checker.supported("Order records are kept for 7 years, for tax purposes [1].", facts)
    # 30 is in the sources, but about returns, not about keeping data
    assert not checker.supported("We keep your order records for 30 days [1].", facts)
    # real phrases strung together with invented ones
    assert not checker.supported(
        "We keep order records while a dedicated privacy team audits every partner, "
        "encrypts backups nightly, reviews consent forms and deletes abandoned carts.",
        facts,
    )


def test_a_quoted_list_item_keeps_its_list(checker):
    facts = checker.prepare([hit(KEEPING)])
    text, used = checker.extract("how long do you keep customer-service messages", facts)
    assert "- Order records: 7 years" in text and "- Customer-service messages: 3 years." in text
    assert "\n- Customer-service messages" in text and used == [0]
    facts = checker.prepare([hit(NOT_COVERED)])
    text, _ = checker.extract("what does the warranty not cover", facts)
    assert text.startswith("The warranty doesn't cover:\n- normal wear and tear")
    assert text.count("\n- ") == 3
