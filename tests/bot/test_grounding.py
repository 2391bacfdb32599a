"""The grounding check with the real embedding model: what a generated sentence may claim."""

from __future__ import annotations

import pytest

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
    floor = demo_kb.confidence().stats["paraphrase_floor"]
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


def test_clauses_split_long_sentences_only():
    assert clauses("Short and plain sentence here.") == []
    assert clauses("accepted for standard shipping only, not for express shipping") == [
        "accepted for standard shipping only",
        "not for express shipping",
    ]


def test_complete_sentences_keep_the_unfinished_tail():
    done, tail = complete_sentences("First one. Second one! Third")
    assert done == ["First one.", "Second one!"] and tail == "Third"
