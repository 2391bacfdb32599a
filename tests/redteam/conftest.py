"""The bots the attacks run against: the demo store and a small poisoned store, both on the
real embedding model and the real bundled chat model (each loaded once per session)."""

from __future__ import annotations

import pytest

from bot.config import BotConfig, GeneratorConfig
from bot.engine import Bot
from bot.sessions import MemorySessionStore
from knowledge.config import EmbedderConfig, KnowledgeConfig, RetrievalConfig
from knowledge.kb import KnowledgeBase
from tests.redteam.harness import load_attacks, write_poisoned_store

STORE_NAME = "Kestrel Ridge Outfitters (demo)"
#: a shorter reply cap than the default 200 tokens keeps the suite's runtime down: what an
#: attack gets said shows in the first sentences (bench/_trust_redteam.py runs the default)
MAX_NEW_TOKENS = 96


def redteam_config(*, generation: bool = True) -> BotConfig:
    return BotConfig(
        generation=generation, generator=GeneratorConfig(max_new_tokens=MAX_NEW_TOKENS)
    )


@pytest.fixture(scope="session")
def demo_bot(demo_kb, smollm2):
    return Bot(
        demo_kb,
        sessions=MemorySessionStore(),
        config=redteam_config(),
        generator=smollm2,
        store_name=STORE_NAME,
    )


@pytest.fixture(scope="session")
def poisoned_kb(st_embedder, tmp_path_factory):
    """The demo store with the poisoned pages, products, reviews and FAQ entries of
    attacks.yaml added, indexed with the real model."""
    folder = tmp_path_factory.mktemp("poisoned")
    sources = write_poisoned_store(folder, load_attacks()[1])
    kb = KnowledgeBase(
        KnowledgeConfig(sources=sources, index_dir="index"),
        EmbedderConfig(),
        RetrievalConfig(),
        base_dir=folder,
        embedder_instance=st_embedder,
    )
    kb.update()
    return kb


@pytest.fixture(scope="session")
def poisoned_bot(poisoned_kb, smollm2):
    return Bot(
        poisoned_kb,
        sessions=MemorySessionStore(),
        config=redteam_config(),
        generator=smollm2,
        store_name=STORE_NAME,
    )


@pytest.fixture(scope="session")
def poisoned_quoting_bot(poisoned_kb):
    """The poisoned store with generation off: every policy or product answer is a quote."""
    return Bot(
        poisoned_kb,
        sessions=MemorySessionStore(),
        config=redteam_config(generation=False),
        store_name=STORE_NAME,
    )
