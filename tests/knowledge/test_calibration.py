import numpy as np

from knowledge.calibration import (
    CENTROID_GRID,
    WEIGHT_GRID,
    centroid_chunk_scores,
    fuse_scores,
    heldout_rows,
    leave_one_out_batches,
)
from knowledge.config import RetrievalConfig
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
    assert fusion["centroid_weight"] in CENTROID_GRID
    # the code token is shared only by an entry's own variants: held-out variants are
    # found, so the chosen pair reaches full top-1
    chosen = f"{fusion['lexical_weight']}/{fusion['centroid_weight']}"
    assert fusion["top1"][chosen] == 1.0
    retriever = HybridRetriever(index, fake_embedder)
    assert retriever.lexical_weight == fusion["lexical_weight"]
    assert retriever.centroid_weight == fusion["centroid_weight"]


def _unit(v):
    return v / np.linalg.norm(v)


def test_held_out_centroid_scores_leave_the_row_out_of_its_own_group(tmp_path, fake_embedder):
    docs = synthetic_faq(6)
    docs.append(Document("faq:pair", "two", {"kind": "faq", "questions": ["alpha one", "beta"]}))
    index, _ = KnowledgeIndex.update(tmp_path, docs, fake_embedder)
    rows = heldout_rows(index)
    vectors = index.vectors.astype(np.float32)
    for part, dense, _ in leave_one_out_batches(index, rows):
        scores = centroid_chunk_scores(index, part, dense)
        for n, row in enumerate(part.tolist()):
            for pos in range(len(index.chunks)):
                own = [
                    r
                    for r in index.key_rows(pos).tolist()
                    if index.key_kind[r] == "question" and r != row
                ]
                if len(own) >= 2:
                    expected = float(vectors[row] @ _unit(vectors[own].sum(axis=0)))
                    assert abs(scores[n, pos] - expected) < 1e-5
                elif pos == index.key_chunk[row]:  # one wording left: its closest key
                    assert scores[n, pos] == dense[n, pos]


def test_search_mixes_an_entrys_centroid_into_its_dense_score(tmp_path, fake_embedder):
    index, _ = KnowledgeIndex.update(tmp_path, synthetic_faq(6), fake_embedder)
    only_centroid = RetrievalConfig(centroid_weight=1.0, lexical_weight=0.0)
    retriever = HybridRetriever(index, fake_embedder, config=only_centroid)
    found = retriever.query("refund question variant code0", k=3)
    top = found.hits[0]
    pos = index.chunk_pos[top.chunk_id]
    own = [r for r in index.key_rows(pos).tolist() if index.key_kind[r] == "question"]
    centroid = _unit(index.vectors[own].astype(np.float32).sum(axis=0))
    assert abs(top.score - float(found.vector @ centroid)) < 1e-5
    # the hit's dense score is still its closest key's: the evidence keeps its meaning
    assert abs(top.dense_score - float((index.vectors[own] @ found.vector).max())) < 1e-3
    # held out of calibration, a group keeps the rest of its wordings, or is dropped
    wordings = index.wordings
    scores = wordings.centroid_scores(index, found.vector, [pos], np.array(own[:1]))
    rest = _unit(index.vectors[own[1:]].astype(np.float32).sum(axis=0))
    assert abs(scores[pos] - float(found.vector @ rest)) < 1e-5
    assert pos not in wordings.centroid_scores(index, found.vector, [pos], np.array(own[:2]))


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


def _grouped_store(pairs_across_entries: bool) -> list[Document]:
    """Eight entries of six wordings. With ``pairs_across_entries``, each wording is the
    entry's own word plus two words that also stand together in one wording of another
    entry: a held-out wording's closest single wording is then the other entry's, while its
    own entry's wordings, taken together, point at the entry's word."""
    rng = np.random.default_rng(7)
    wordings: dict[int, list[str]] = {e: [] for e in range(8)}
    for n in range(24):  # each pair of rare words joins two entries
        first, second = rng.choice(8, 2, replace=False)
        for entry in (first, second):
            if pairs_across_entries:
                wordings[int(entry)].append(f"core{entry} rare{n}a rare{n}b")
            else:
                wordings[int(entry)].append(f"topic{entry}x{n} rare{n}a{entry} rare{n}b{entry}")
    return [
        Document(f"faq:g{e}", f"reply{e}", {"kind": "faq", "questions": qs})
        for e, qs in wordings.items()
    ]


def test_the_centroid_share_is_what_the_stores_own_wordings_call_for(tmp_path):
    from knowledge.embedders.fake import FakeEmbedder

    embedder = FakeEmbedder(dim=256)
    index, _ = KnowledgeIndex.update(tmp_path / "g", _grouped_store(True), embedder)
    fusion = index.manifest["extras"]["fusion"]
    assert fusion["centroid_weight"] > 0  # the entry's word is found through the group
    alone = f"{fusion['lexical_weight']}/0.0"
    chosen = f"{fusion['lexical_weight']}/{fusion['centroid_weight']}"
    assert fusion["top1"][chosen] > fusion["top1"][alone]
    # wordings that share nothing within their entry: the group adds nothing, so the
    # smallest share wins (the closest wording alone, as before the share existed)
    index, _ = KnowledgeIndex.update(tmp_path / "s", _grouped_store(False), embedder)
    assert index.manifest["extras"]["fusion"]["centroid_weight"] == 0.0
