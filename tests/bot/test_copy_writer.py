"""CopyWriter: generate, check, write again, keep the checked sentences, or fall back to the
product's own words; with a scripted generator, and once with the real bundled model."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.commerce.copy import CopySettings, CopyWriter, tidy
from bot.commerce.copy_check import CopyChecker, Source, numbers_in, repeats, split_sentences
from bot.commerce.copy_fallback import review_summary
from bot.commerce.copy_items import CopyItem
from bot.generators import FakeGenerator, GeneratorError
from knowledge.loaders import load_catalog

DEMO = Path(__file__).resolve().parents[2] / "knowledge" / "demo_store" / "catalog.csv"
GOOD = (
    "The Cirrus 800 Down Jacket keeps you warm with 800-fill RDS goose down in a 20D "
    "recycled nylon ripstop shell. It weighs 395 g and packs into its own hand pocket."
)
INVENTED = (
    "The Cirrus 800 Down Jacket keeps you warm with 800-fill RDS goose down in a 20D "
    "recycled nylon ripstop shell. It is fully waterproof with a Gore-Tex membrane and "
    "weighs just 300 g."
)


@pytest.fixture(scope="module")
def items() -> list[CopyItem]:
    return [CopyItem.from_document(doc) for doc in load_catalog(DEMO)]


@pytest.fixture
def jacket(items) -> CopyItem:
    return items[0]


def writer(fake: FakeGenerator, task: str = "description", **kw) -> CopyWriter:
    return CopyWriter(fake, CopySettings(task, length="short", retries=kw.pop("retries", 2)), **kw)


def test_copy_that_passes_the_first_time_is_kept_with_its_checks(jacket):
    fake = FakeGenerator()
    fake.enqueue(GOOD)
    result = writer(fake).write(jacket)
    assert (result.status, result.attempts, result.text) == ("passed", 1, GOOD)
    assert result.rejected == []
    claims = {c["claim"]: c for c in result.checks}
    assert claims["395 g"]["ok"] and "395 g" in claims["395 g"]["note"]
    assert result.model == "fake" and result.source_hash == jacket.hash
    prompt = fake.history[0][-1].content
    assert "- weight: 395 g" in prompt and "about 40 words" in prompt
    assert "- Price:" not in prompt  # a description is not where a price goes stale


def test_invented_copy_is_written_again_and_the_generator_told_why(jacket):
    fake = FakeGenerator()
    fake.enqueue(INVENTED, GOOD)
    result = writer(fake).write(jacket)
    assert (result.status, result.attempts, result.text) == ("regenerated", 2, GOOD)
    [rejected] = result.rejected
    assert rejected["attempt"] == 1 and rejected["text"] == INVENTED
    assert {(r["kind"], r["claim"]) for r in rejected["reasons"]} == {
        ("feature", "waterproof"),
        ("material", "gore tex"),
        ("part", "membrane"),
        ("number", "300 g"),
    }
    retry = fake.history[1]
    assert retry[-2].role == "assistant" and retry[-2].content == INVENTED
    assert retry[-1].content.startswith(
        'Leave out "300 g", "waterproof", "gore tex", "membrane": the facts'
    )


def test_after_the_retries_the_checked_sentences_are_kept(jacket):
    fake = FakeGenerator()
    fake.enqueue(INVENTED, INVENTED, INVENTED)
    result = writer(fake).write(jacket)
    assert result.status == "trimmed" and result.attempts == 3
    assert result.text == GOOD.split(". ")[0] + "."
    [trimmed] = [r for r in result.rejected if "removed" in r]
    assert trimmed["removed"] == [
        "It is fully waterproof with a Gore-Tex membrane and weighs just 300 g."
    ]
    assert all(c["ok"] for c in result.checks)


def test_without_a_passing_sentence_the_copy_is_the_products_own(items):
    fake = FakeGenerator(default_reply="The world's best jacket: 100% cashmere, $99, 5 kg.")
    checker = CopyChecker()
    for item in items[:12]:
        for task in ("description", "ad", "social"):
            result = writer(fake, task, retries=1).write(item)
            assert result.status == "fallback" and result.attempts == 2
            report = checker.check(result.text, item.source)
            assert [c for c in report.failures if c.kind != "quality"] == []
            stated = {n.value for n in numbers_in(result.text)}
            assert stated <= {n.value for n in item.source.numbers}
    ad = writer(fake, "ad", retries=0).write(items[0]).text
    # a first sentence too long for a short ad gives way to the product's attributes
    assert ad == (
        "Cirrus 800 Down Jacket (Men's). Material: 20D recycled nylon ripstop; "
        "fill: 800-fill goose down (RDS). 249.00 USD."
    )  # the English half of the title
    social = writer(fake, "social", retries=0).write(items[0]).text
    assert social.endswith("#Jackets")


def test_a_failing_generator_costs_an_attempt_not_the_item(jacket):
    fake = FakeGenerator()
    fake.enqueue(GeneratorError("server down"), GOOD)
    result = writer(fake).write(jacket)
    assert result.status == "regenerated"
    assert result.rejected[0]["reasons"] == [
        {"kind": "generator", "claim": "", "why": "server down"}
    ]


def test_retries_zero_goes_straight_to_the_fallback(jacket):
    fake = FakeGenerator(default_reply="Now 50% off!")
    result = writer(fake, retries=0, trim=False).write(jacket)
    assert (result.status, result.attempts, len(fake.history)) == ("fallback", 1, 1)


def test_tidy_takes_off_what_is_not_copy():
    raw = (
        "Sure! Here's a product description for you:\n\n**Warm And Light Down Jacket**\n"
        "Description: A warm jacket for cold days. It packs small.\n"
        "It is light. It is warm. It is blue. It is soft. It is great. It is"
    )
    assert tidy(raw, hashtags=False, words=8, cut=True) == (
        "A warm jacket for cold days. It packs small. It is light."
    )
    post = "Warm down for cold days! #hiking #winter #down #camping #outdoors"
    assert tidy(post, hashtags=True, words=20) == "Warm down for cold days! #hiking #winter #down"


def test_settings_are_checked_with_the_fix():
    with pytest.raises(ValueError, match="use one of description, ad, social, review-summary"):
        CopySettings("poem")
    with pytest.raises(ValueError, match="short, medium, long or a number of words"):
        CopySettings("ad", length="huge")
    with pytest.raises(ValueError, match="unknown language 'xx'"):
        CopySettings("ad", language="xx")
    assert CopySettings("ad", length="30").words == 30
    assert CopySettings("review-summary").tone_used == "neutral"


def test_a_review_summary_is_written_from_the_reviews(jacket):
    reviews = [
        "The straps broke after two weeks. Otherwise a lovely bag.",
        "Lovely colour and a good size, but the straps broke within a month.",
        "The stones fall off easily. The straps are weak.",
    ]
    item = CopyItem.from_document(_doc(jacket), reviews=reviews)
    fake = FakeGenerator()
    fake.enqueue("Reviewers love the colour and size, but the straps broke within a month.")
    result = writer(fake, "review-summary").write(item)
    assert result.status == "passed", result.rejected
    assert "1. The straps broke after two weeks." in fake.history[0][-1].content
    # the product's own facts are not a review's: 395 g is not in the reviews
    bad = writer(
        FakeGenerator(default_reply="A 395 g bag that the reviewers like a lot."),
        "review-summary",
        retries=0,
        trim=False,
    ).write(item)
    assert bad.status == "fallback"
    assert ("number", "395 g") in {(r["kind"], r["claim"]) for r in bad.rejected[0]["reasons"]}
    assert bad.text == review_summary(reviews, words=30, source=item.source)
    assert "straps broke" in bad.text


def test_the_review_summary_fallback_says_each_thing_once_and_does_not_loop():
    """Reviews that say the same thing in nearly the same words, and name the product in
    every sentence: the fallback keeps one of the near-identical sentences, never says the
    same three words three times, and passes the checker's quality checks as it stands."""
    reviews = [
        "The canvas tote bag is roomy and the straps feel strong.",
        "The canvas tote bag is roomy, and the straps feel very strong.",
        "The canvas tote bag holds my laptop and two books easily.",
        "The canvas tote bag faded after one wash in cold water.",
        "Stitching along the handles came loose within a month.",
        "Lovely colour, and the inside pocket fits my phone and keys.",
    ]
    source = Source("\n".join(["Canvas Tote", *reviews]))
    text = review_summary(reviews, words=60, source=source)
    sentences = split_sentences(text)
    assert len(sentences) >= 3
    assert not (reviews[0] in sentences and reviews[1] in sentences)  # near-identical
    assert not repeats(text)
    assert set(sentences) <= set(reviews)  # the reviews' own sentences
    report = CopyChecker(min_words=10).check(text, source, support=0.35)
    assert report.passed, report.failures


def test_the_review_summary_fallback_leaves_out_sentences_the_checker_rejects():
    """A reviewer's sentence that would fail on its own (it speaks as the bot must not:
    "I can't ...") is not put in the summary."""
    reviews = [
        "I can't say whether the zip will last, it is too soon.",
        "The zip runs smoothly and the lining is soft.",
        "Soft lining, smooth zip, and it keeps the rain out.",
    ]
    source = Source("\n".join(["Rain Jacket", *reviews]))
    text = review_summary(reviews, words=30, source=source)
    assert text and "I can't" not in text
    assert CopyChecker().check(text, source).passed


def _doc(item: CopyItem):
    return next(d for d in load_catalog(DEMO) if d.metadata["sku"] == item.id)


@pytest.mark.slow
def test_the_bundled_model_writes_checked_copy_for_two_demo_products(smollm2, items, tmp_path):
    """End to end with SmolLM2-135M: whatever it writes, what is kept states only facts."""
    from bot.commerce.copy_batch import write_batch

    out = tmp_path / "ads.json"
    settings = CopySettings("ad", length="short", retries=1)
    stats = write_batch(CopyWriter(smollm2, settings), items[3:5], out, manifest={"t": 1})
    assert stats.written == 2
    import json

    written = json.loads(out.read_text(encoding="utf-8"))["items"]
    assert list(written) == ["KR-JKT-004", "KR-JKT-005"]
    checker = CopyChecker()
    for item in items[3:5]:
        record = written[item.id]
        assert record["status"] in ("passed", "regenerated", "trimmed", "fallback")
        assert record["model"] == "transformers:SmolLM2-135M-Instruct"
        assert record["text"]
        report = checker.check(record["text"], item.source)
        assert [c for c in report.failures if c.kind != "quality"] == []
        for attempt in record["rejected"]:
            assert attempt["reasons"]  # every rejection says why


def test_a_review_summary_that_could_be_any_products_is_rejected(jacket):
    reviews = [
        "The straps broke after two weeks. Otherwise a lovely bag.",
        "Lovely colour and a good size, but the straps broke within a month.",
    ]
    item = CopyItem.from_document(_doc(jacket), reviews=reviews)
    vague = (
        "These reviewers praise the product for its quality, comfort and durability, but "
        "express dissatisfaction with the lack of a more substantial design."
    )
    result = writer(FakeGenerator(default_reply=vague), "review-summary", retries=0).write(item)
    assert result.status == "fallback"
    [why] = [r["why"] for r in result.rejected[0]["reasons"]]
    assert why.startswith("says little the source says (")
