"""An FAQ entry's wordings as a group: how typical a question is of them (an evidence feature)."""

import numpy as np
import pytest

from knowledge.documents import Document
from knowledge.evidence import FEATURES, hit_features
from knowledge.index import KnowledgeIndex
from knowledge.retriever import HybridRetriever

RETURNS = ["can I return my order", "how do I return an item", "return policy for orders"]


@pytest.fixture
def index(tmp_path, fake_embedder):
    docs = [
        Document(
            "faq:returns", "Returns are free within 30 days.", {"kind": "faq", "questions": RETURNS}
        ),
        Document(
            "faq:gift",
            "Gift cards never expire.",
            {"kind": "faq", "questions": ["do gift cards expire"]},
        ),
    ]
    built, _ = KnowledgeIndex.update(tmp_path, docs, fake_embedder)
    return built


def _rows(index, pos, kind="question"):
    return [r for r in index.key_rows(pos).tolist() if index.key_kind[r] == kind]


def test_groups_hold_question_wordings_of_entries_with_two_or_more(index):
    wordings = index.wordings
    returns, gift = index.chunk_pos["faq:returns"], index.chunk_pos["faq:gift"]
    assert wordings.slot[gift] == -1  # one wording: nothing to be typical of
    group = wordings.slot[returns]
    assert sorted(wordings.rows[group].tolist()) == _rows(index, returns)
    assert _rows(index, returns, "answer")  # the answer is a key, but not a wording
    vectors = index.vectors[_rows(index, returns)].astype(np.float32)
    # each wording against the centroid of the others, as a customer's question is
    to_others = []
    for i, vector in enumerate(vectors):
        others = np.delete(vectors, i, axis=0).sum(axis=0)
        to_others.append(float(vector @ others) / np.linalg.norm(others))
    assert wordings.typical[group] == pytest.approx(np.median(to_others), abs=1e-5)


def test_typicality_leaves_held_out_rows_out_and_ranks_own_wordings_higher(index, fake_embedder):
    wordings = index.wordings
    returns, gift = index.chunk_pos["faq:returns"], index.chunk_pos["faq:gift"]
    rows = _rows(index, returns)
    held = rows[0]
    rest = index.vectors[rows[1:]].astype(np.float32)
    centroid = rest.sum(axis=0) / np.linalg.norm(rest.sum(axis=0))
    to_other = [float(rest[0] @ rest[1]), float(rest[1] @ rest[0])]  # two left: each other
    expected = float(index.vectors[held] @ centroid) - float(np.median(to_other))
    got = wordings.typicality(index, returns, index.vectors[held], frozenset([held]))
    assert got == pytest.approx(expected, abs=1e-5)
    # fewer than two wordings left: no group to measure against
    assert wordings.typicality(index, returns, index.vectors[held], frozenset(rows[:2])) == 0
    assert wordings.typicality(index, gift, index.vectors[held]) == 0.0
    own = wordings.typicality(index, returns, fake_embedder.embed_query("can I return my order"))
    other = wordings.typicality(index, returns, fake_embedder.embed_query("weather in paris"))
    assert own > other


def test_typicality_is_evidence_only_with_a_vector_the_model_reads(index, fake_embedder):
    retriever = HybridRetriever(index, fake_embedder)
    found = retriever.query("how can I return an order", k=3)
    column = FEATURES.index("typicality")
    with_vector = hit_features(index, found.hits, found.tokens, 1.0, vector=found.vector)
    assert with_vector[column] != 0.0
    assert hit_features(index, found.hits, found.tokens, 1.0)[column] == 0.0
    unread = hit_features(index, found.hits, found.tokens, 0.1, vector=found.vector)
    assert unread[column] == 0.0
