import pytest

from knowledge.kb import KnowledgeBase
from knowledge.langchain_adapter import ShopbotRetriever


@pytest.fixture
def retriever(fake_kb):
    fake_kb.update()
    return fake_kb.retriever()


def test_every_hit_carries_its_scores(retriever):
    hits = retriever.retrieve("How long does delivery take?", k=3)
    top = hits[0]
    assert top.doc_id == "faq:ship-time"
    assert top.dense_score == pytest.approx(1.0, abs=1e-5)
    assert top.lexical_score > 0
    assert top.dense_rank == 1 and top.lexical_rank == 1
    # score fusion: cosine + lexical weight x (BM25 / the query's best BM25)
    assert top.score == pytest.approx(1.0 + retriever.lexical_weight, abs=1e-5)
    assert top.matched == "How long does delivery take?" and top.matched_kind == "question"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert set(top.to_json()) >= {"dense_score", "lexical_score", "score", "doc_id", "title"}


def test_reciprocal_rank_fusion_is_available(fake_kb):
    from knowledge.config import RetrievalConfig
    from knowledge.retriever import HybridRetriever

    fake_kb.update()
    rrf = HybridRetriever(fake_kb.index, fake_kb.embedder, config=RetrievalConfig(fusion="rrf"))
    top = rrf.retrieve("How long does delivery take?", k=1)[0]
    assert top.doc_id == "faq:ship-time"
    assert top.score == pytest.approx(2 / (60 + 1))


def test_small_store_uses_the_fallback_weight_and_config_overrides_it(fake_kb):
    from knowledge.calibration import FALLBACK_WEIGHT
    from knowledge.config import RetrievalConfig
    from knowledge.retriever import HybridRetriever

    fake_kb.update()
    fusion = fake_kb.index.manifest["extras"]["fusion"]
    assert fusion["method"] == "fallback"  # 15 variants are too few to learn from
    assert fake_kb.retriever().lexical_weight == FALLBACK_WEIGHT
    pinned = HybridRetriever(
        fake_kb.index, fake_kb.embedder, config=RetrievalConfig(lexical_weight=0.4)
    )
    assert pinned.lexical_weight == 0.4


def test_faq_entry_scores_as_its_best_variant(retriever):
    hit = retriever.retrieve("how do i send something back", k=1)[0]
    assert hit.doc_id == "faq:returns"
    assert hit.matched == "how do i send something back"
    # the entry appears once, however many of its variants match
    hits = retriever.retrieve("return policy return item", k=10)
    assert len({h.chunk_id for h in hits}) == len(hits)


def test_chinese_queries_match_through_jieba_tokens(fake_kb):
    fake_kb.update()
    lexical = fake_kb.retriever(mode="lexical")
    assert lexical.retrieve("可以退货吗", k=1)[0].doc_id == "faq:zh-return"
    assert lexical.retrieve("运费是多少", k=1)[0].doc_id == "faq:zh-ship"


def test_filters_by_kind_category_and_stock(retriever):
    products = retriever.retrieve("jacket", k=10, filters={"kind": "product"})
    assert products and all(h.kind == "product" for h in products)
    in_stock = retriever.retrieve("jacket", k=10, filters={"kind": "product", "in_stock": True})
    assert "product:KR-JKT-002" not in {h.doc_id for h in in_stock}  # out of stock
    assert "product:KR-JKT-001" in {h.doc_id for h in in_stock}
    jackets = retriever.retrieve("warm", k=10, filters={"category": "jackets"})
    assert {h.doc_id for h in jackets} <= {"product:KR-JKT-001", "product:KR-JKT-002"}
    several = retriever.retrieve("policy", k=10, filters={"kind": ["policy", "faq"]})
    assert {h.kind for h in several} <= {"policy", "faq"}
    assert retriever.retrieve("anything", filters={"category": "no-such"}) == []


def test_policy_pages_are_chunked_with_sections(retriever):
    hit = retriever.retrieve("do you ship to PO boxes", k=3, filters={"kind": "policy"})[0]
    assert hit.doc_id == "page:shipping.md"
    assert hit.metadata["section"] == "PO boxes"
    assert "USPS" in hit.text


def test_modes(fake_kb):
    fake_kb.update()
    dense = fake_kb.retriever(mode="dense").retrieve("When will my order arrive?", k=2)
    assert dense[0].lexical_rank == 0 and dense[0].dense_rank == 1
    lexical = fake_kb.retriever(mode="lexical").retrieve("PayPal", k=2)
    assert lexical[0].doc_id == "faq:pay" and lexical[0].lexical_rank == 1
    with pytest.raises(ValueError, match="mode"):
        fake_kb.retriever(mode="magic")  # type: ignore[arg-type]


def test_input_validation(retriever):
    assert retriever.retrieve("   ") == []
    with pytest.raises(ValueError, match="k must be"):
        retriever.retrieve("x", k=0)
    with pytest.raises(TypeError):
        retriever.retrieve(None)  # type: ignore[arg-type]
    assert retriever.retrieve("x" * 100_000, k=1)  # over-long input is truncated, not an error


def test_langchain_retriever(retriever):
    lc = ShopbotRetriever(retriever=retriever, k=2, filters={"kind": "faq"})
    docs = lc.invoke("Can I pay with PayPal?")
    assert len(docs) == 2
    assert docs[0].metadata["doc_id"] == "faq:pay"
    assert docs[0].page_content.startswith("We accept Visa")
    assert docs[0].metadata["dense_score"] > docs[1].metadata["dense_score"]
    # composes in a LangChain runnable chain
    chain = lc | (lambda ds: [d.metadata["doc_id"] for d in ds])
    assert chain.invoke("return policy")[0] == "faq:returns"


def test_real_model_english_and_chinese(store_dir, st_embedder, tmp_path):
    """The bundled model, not a fake: paraphrases match without shared words."""
    from knowledge.config import EmbedderConfig, KnowledgeConfig, RetrievalConfig
    from tests.conftest import tiny_sources

    kb = KnowledgeBase(
        KnowledgeConfig(sources=tiny_sources(), index_dir=str(tmp_path / "idx")),
        EmbedderConfig(),
        RetrievalConfig(),
        base_dir=store_dir,
        embedder_instance=st_embedder,
    )
    kb.update()
    hybrid = kb.retriever()
    assert hybrid.retrieve("what's the shipping time", k=1)[0].doc_id == "faq:ship-time"
    assert hybrid.retrieve("can I send back a product I bought", k=1)[0].doc_id == "faq:returns"
    assert hybrid.retrieve("可以退货吗", k=1)[0].doc_id == "faq:zh-return"
    assert hybrid.retrieve("包邮吗？", k=1)[0].doc_id == "faq:zh-ship"
    assert (
        hybrid.retrieve("tent for two people", k=1, filters={"kind": "product"})[0].doc_id
        == "product:KR-TNT-001"
    )
