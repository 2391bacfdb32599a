"""A deterministic embedder for tests: hashed bag of tokens, no model, no download.

Texts that share words get similar vectors (unlike a purely random fake), so retrieval tests
behave sensibly; the same text always gives the same vector on every machine.
"""

from __future__ import annotations

import hashlib

import numpy as np

from knowledge.embedders.base import Embedder
from knowledge.text import tokenize


class FakeEmbedder(Embedder):
    backend = "fake"

    def __init__(self, *, dim: int = 64, model_id: str = "fake-hash-64") -> None:
        if dim <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = dim
        self.model_id = model_id
        self.calls = 0  # how many texts were embedded (tests count re-embeddings)

    def _embed(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            tokens = tokenize(text) or [text]
            for token in tokens:
                digest = hashlib.sha256(token.encode("utf-8")).digest()
                seed = int.from_bytes(digest[:8], "little")
                rng = np.random.default_rng(seed)
                out[row] += rng.standard_normal(self.dim).astype(np.float32)
        return out
