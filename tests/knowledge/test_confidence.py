import numpy as np
import pytest

from knowledge.confidence import (
    FEATURES,
    ConfidenceModel,
    best_threshold,
    calibrate_confidence,
    fit_logistic,
    hit_features,
    matthews,
)
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


def test_tiny_store_falls_back(fake_kb):
    fake_kb.update()
    model = fake_kb.confidence()
    assert model.method == "fallback"
    stored = KnowledgeIndex.open(fake_kb.index_dir).manifest["extras"]["confidence"]
    assert stored["model"]["method"] == "fallback"  # stored with the index
