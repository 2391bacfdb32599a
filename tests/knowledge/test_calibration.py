import numpy as np

from knowledge.calibration import WEIGHT_GRID, fuse_scores, heldout_rows
from knowledge.documents import Document
from knowledge.index import KnowledgeIndex
from knowledge.retriever import HybridRetriever


def synthetic_faq(n_entries: int = 20) -> list[Document]:
    topics = ["refund", "delivery", "password", "invoice", "warranty", "coupon", "size", "tent"]
    docs = []
    for i in range(n_entries):
        topic = topics[i % len(topics)]
        questions = [f"{topic} question {i} variant {v} code{i}" for v in range(3)]
        docs.append(Document(f"faq:e{i}", f"answer {i}", {"kind": "faq", "questions": questions}))
    return docs


def test_leave_one_out_uses_only_entries_with_several_variants(tmp_path, fake_embedder):
    docs = [
        *synthetic_faq(),
        Document("faq:single", "only one", {"kind": "faq", "questions": ["lonely question"]}),
    ]
    index, _ = KnowledgeIndex.update(tmp_path, docs, fake_embedder)
    rows = heldout_rows(index)
    assert len(rows) == 20 * 3
    assert all(index.key_kind[r] == "question" for r in rows)
    assert "lonely question" not in {index.key_text[r] for r in rows}


def test_calibration_is_stored_with_the_index_and_used(tmp_path, fake_embedder):
    index, _ = KnowledgeIndex.update(tmp_path, synthetic_faq(), fake_embedder)
    fusion = KnowledgeIndex.open(tmp_path).manifest["extras"]["fusion"]
    assert fusion["method"] == "leave-one-out"
    assert fusion["samples"] == 60
    assert fusion["lexical_weight"] in WEIGHT_GRID
    # the code token is shared only by an entry's own variants: held-out variants are
    # found, so the chosen weight reaches full top-1
    assert fusion["top1"][str(fusion["lexical_weight"])] == 1.0
    retriever = HybridRetriever(index, fake_embedder)
    assert retriever.lexical_weight == fusion["lexical_weight"]


def test_calibration_is_redone_when_content_changes(tmp_path, fake_embedder):
    KnowledgeIndex.update(tmp_path, synthetic_faq(20), fake_embedder)
    index, report = KnowledgeIndex.update(tmp_path, synthetic_faq(24), fake_embedder)
    assert report.added == 4
    assert index.manifest["extras"]["fusion"]["samples"] == 72


def test_fuse_scores_scales_lexical_to_the_best_match():
    dense = np.array([[0.5, 0.4, 0.1]])
    lexical = np.array([[0.0, 8.0, 4.0]])
    np.testing.assert_allclose(fuse_scores(dense, lexical, 0.2), [[0.5, 0.6, 0.2]])
    np.testing.assert_allclose(fuse_scores(dense, np.zeros((1, 3)), 0.2), dense)
