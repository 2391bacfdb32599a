from types import SimpleNamespace

import numpy as np
import pytest

from bot.confidence import (
    ConfidenceModel,
    best_threshold,
    calibrate_confidence,
    fit_logistic,
    load_or_calibrate,
    matthews,
)
from knowledge.evidence import FEATURES, background_questions, hit_features
from knowledge.index import KnowledgeIndex
from knowledge.retriever import HybridRetriever
from tests.knowledge.test_calibration import synthetic_faq


def test_logistic_fit_and_threshold_on_separable_data():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(2, 0.5, (50, 2)), rng.normal(-2, 0.5, (50, 2))])
    y = np.array([1.0] * 50 + [0.0] * 50)
    w, b = fit_logistic(x, y)
    p = 1 / (1 + np.exp(-(x @ w + b)))
    threshold, mcc = best_threshold(p, y)
    assert mcc == pytest.approx(1.0)
    assert ((p >= threshold) == y.astype(bool)).all()


def test_matthews_correlation():
    a = np.array([True, True, False, False])
    assert matthews(a, a) == 1.0
    assert matthews(a, ~a) == -1.0
    assert matthews(np.ones(4, bool), a) == 0.0  # accepting everything says nothing


def test_held_out_keys_do_not_count_as_evidence(tmp_path, fake_embedder):
    from knowledge.documents import Document

    own = Document(
        "faq:a", "answer", {"kind": "faq", "questions": ["alpha parcel tracking", "beta parcel"]}
    )
    index, _ = KnowledgeIndex.update(tmp_path, [own, *synthetic_faq()], fake_embedder)
    retriever = HybridRetriever(index, fake_embedder)
    row = 0  # "alpha parcel tracking": only "parcel" is shared with the other variant
    tokens = index.key_tokens[row]
    hits = retriever.search(index.vectors[row], tokens, k=3, exclude_rows=np.array([row]))
    with_self = hit_features(index, hits, tokens, 1.0)
    without = hit_features(index, hits, tokens, 1.0, exclude=frozenset([row]))
    overlap = FEATURES.index("lexical_overlap")
    assert with_self[overlap] == 1.0  # the held-out variant itself would match every word
    assert without[overlap] < 1.0
    unknown = FEATURES.index("unknown_words")
    entry_rows = frozenset(index.key_rows(0).tolist())
    # with the whole entry left out, "alpha", "parcel" and "tracking" are unknown words
    assert hit_features(index, hits, tokens, 1.0, exclude=entry_rows)[unknown] == 1.0


def test_calibration_on_the_store_itself(tmp_path, fake_embedder):
    index, _ = KnowledgeIndex.update(tmp_path, synthetic_faq(30), fake_embedder)
    model = calibrate_confidence(HybridRetriever(index, fake_embedder))
    assert model.method == "leave-one-out"
    # every variant held out; every entry left out, asked with 3 of its questions
    assert model.stats["samples"] == 90 + 30 * 3
    assert 0 < model.threshold < 1
    restored = ConfidenceModel.from_json(model.to_json())
    features = np.ones(len(FEATURES))
    assert restored.probability(features) == pytest.approx(model.probability(features))


def test_a_tiny_store_is_calibrated_on_its_answers_and_the_background(fake_kb):
    fake_kb.update()
    model = load_or_calibrate(fake_kb)
    assert model.method == "answer-match"  # 15 second wordings: too few for every feature
    assert model.stats["features"] == ["dense", "fused"]
    used = {FEATURES.index("dense"), FEATURES.index("fused")}
    assert all(w == 0 for i, w in enumerate(model.weights) if i not in used)
    stored = KnowledgeIndex.open(fake_kb.index_dir).manifest["extras"]["confidence"]
    assert stored["model"]["method"] == "answer-match"  # stored with the index


def test_one_question_per_entry_is_calibrated_not_declined(tmp_path, fake_embedder):
    """A store with one question per entry has no second wording: its questions are asked
    without their own key (found by their answer), against background questions."""
    from knowledge.documents import Document

    docs = [
        Document(d.id, d.text, {**d.metadata, "questions": d.metadata["questions"][:1]})
        for d in synthetic_faq(30)
    ]
    index, _ = KnowledgeIndex.update(tmp_path, docs, fake_embedder)
    model = calibrate_confidence(HybridRetriever(index, fake_embedder))
    assert model.method == "answer-match"
    assert model.stats["held_out_wordings"] == 0
    assert model.stats["in_scope"] == 30  # every entry asked once, found by its answer
    assert model.stats["samples"] == 30 + 30 + len(background_questions())
    assert 0 < model.threshold < 1


def test_confidence_separates_store_questions_from_unrelated_ones(demo_kb):
    model = load_or_calibrate(demo_kb)
    assert model.method == "leave-one-out"
    retriever = demo_kb.retriever()

    def confidence(query: str) -> float:
        found = retriever.query(query, k=5)
        return model.score(demo_kb.index, found.hits, found.tokens, found.coverage, found.vector)

    assert confidence("when will my order arrive") >= model.threshold
    assert confidence("what's the weather in Paris") < model.threshold
    assert confidence("what is the capital of france") < model.threshold


def test_passages_are_judged_by_a_model_fitted_on_questions_found_by_answers(demo_kb):
    from knowledge.evidence import passage_calibration_set

    model = load_or_calibrate(demo_kb)
    assert model.method == "leave-one-out" and model.passage is not None
    x, y, right = passage_calibration_set(demo_kb.retriever())
    # every FAQ question was left out: the in-scope side is found by answers alone
    assert 0 < y.sum() < len(y) and right.sum() <= y.sum()
    support = x[:, FEATURES.index("support")]
    assert support.max() <= np.log1p(1) + 1e-9  # one key (the answer, a page, a product)
    assert model.for_hit(SimpleNamespace(kind="policy"), 1.0) is model.passage
    assert model.for_hit(SimpleNamespace(kind="faq"), 1.0) is model
    # stored with the index and read back whole
    again = ConfidenceModel.from_json(model.to_json())
    assert again.passage is not None and again.passage.threshold == pytest.approx(
        model.passage.threshold, abs=1e-6
    )


def test_a_store_with_chinese_wordings_gets_a_lexical_model_for_them(demo_kb):
    """The demo store's Chinese FAQ has second wordings, which the English embedding model
    does not read: they are judged by a model fitted on them apart, over evidence that
    does not come from the embedding."""
    model = load_or_calibrate(demo_kb)
    assert model.unreadable is not None and model.unreadable.method == "leave-one-out"
    used = {FEATURES[i] for i, w in enumerate(model.unreadable.weights) if w != 0}
    assert used and not used & {"dense", "dense_margin", "coverage", "rank_agreement"}
    assert model.for_coverage(0.0) is model.unreadable and model.for_coverage(1.0) is model
    again = ConfidenceModel.from_json(model.to_json())
    assert again.unreadable is not None
    assert again.unreadable.threshold == pytest.approx(model.unreadable.threshold, abs=1e-6)


def test_a_feature_fitted_against_its_meaning_is_left_out():
    from bot.confidence import _fit

    rng = np.random.default_rng(3)
    n = 400
    y = (rng.random(n) < 0.6).astype(float)
    x = rng.normal(0, 1, (n, len(FEATURES)))
    dense, typical = FEATURES.index("dense"), FEATURES.index("typicality")
    x[:, dense] += 2 * y  # real evidence
    x[:, typical] -= 1.5 * y  # "less typical, more often in scope": a confounded sample
    model, _ = _fit(x, y, y, list(FEATURES), "leave-one-out")
    assert model.weights[typical] == 0.0
    assert model.weights[dense] > 0
    x[:, typical] += 3 * y  # now it points the right way, and is kept
    model, _ = _fit(x, y, y, list(FEATURES), "leave-one-out")
    assert model.weights[typical] > 0
