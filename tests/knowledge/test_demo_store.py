"""The bundled demo store, indexed with the real bundled model."""

import pytest


@pytest.fixture
def demo(demo_kb):
    return demo_kb


def test_demo_store_is_complete(demo):
    docs = demo.load_documents()
    faq = [d for d in docs if d.kind == "faq"]
    assert len(faq) >= 40
    assert all(len(d.metadata["questions"]) >= 3 for d in faq)
    assert sum(d.metadata["lang"] == "zh" for d in faq) >= 15
    titles = {d.title.lower() for d in docs if d.kind == "policy"}
    for topic in ("shipping", "return", "warranty", "payment", "privacy"):
        assert any(topic in t for t in titles), topic
    products = [d for d in docs if d.kind == "product"]
    assert len(products) >= 100
    assert len({d.metadata["category"] for d in products}) >= 5
    assert any(not d.metadata["in_stock"] for d in products)


def test_calibrated_on_its_own_faq(demo):
    fusion = demo.index.manifest["extras"]["fusion"]
    assert fusion["method"] == "leave-one-out"
    assert fusion["samples"] >= 200


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("how long does delivery take", "faq:delivery-times"),
        ("可以退货吗", "faq:zh-return-window"),
    ],
)
def test_done_when_queries(demo, query, expected):
    assert demo.retriever().retrieve(query, k=1)[0].doc_id == expected


def test_policy_only_facts_are_found_in_policy_pages(demo):
    retriever = demo.retriever()
    hit = retriever.retrieve("can you ship to a PO box with express", k=1)[0]
    assert hit.doc_id == "page:shipping.md" and "PO box" in hit.text
    hit = retriever.retrieve(
        "zipper broke, do you repair zippers?", k=3, filters={"kind": "policy"}
    )[0]
    assert hit.doc_id == "page:warranty.md" and "Zipper repairs are done free for life" in hit.text


def test_products_with_filters(demo):
    hits = demo.retriever().retrieve(
        "warm down jacket", k=5, filters={"kind": "product", "in_stock": True}
    )
    assert hits and all(h.kind == "product" and h.metadata["in_stock"] for h in hits)
    assert "down" in hits[0].text.lower()
