"""The embedder interface: text in, L2-normalised float32 vectors out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

ProgressCallback = Callable[[int], None]


class Embedder(ABC):
    """Turns text into unit-length vectors, so inner product is cosine similarity.

    ``model_id`` names the model (not the backend): two backends of the same model produce
    interchangeable vectors, so an index built with one can be queried with the other.
    """

    #: name of the model the vectors come from, recorded in the index manifest
    model_id: str
    #: name of the backend that runs it ("sentence-transformers", "onnx-int8", "fake")
    backend: str
    #: vector dimension
    dim: int

    def embed_documents(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        """Embed many texts in batches; ``progress(n)`` is called after each batch of n.

        Texts are batched by length (longest first), as sentence-transformers does: a short
        text then shares its batch with texts of its size, so little is padded, and its
        vector hardly depends on which other texts were embedded with it (int8 activations
        are scaled per batch).
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        parts = []
        for start in range(0, len(texts), batch_size):
            batch = [texts[i] for i in order[start : start + batch_size]]
            parts.append(self._embed(batch))
            if progress is not None:
                progress(len(batch))
        vectors = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        vectors[order] = np.vstack(parts)
        return _unit(vectors)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query; returns a 1-D vector."""
        return _unit(self._embed([text]))[0]

    def coverage(self, texts: Sequence[str]) -> np.ndarray:
        """Share of each text's word pieces the model knows (not its unknown token), 0..1.

        A model trained on one language maps another language's text to unknown tokens,
        and such vectors are all alike: retrieval then discounts the dense score by it.
        Backends without a vocabulary report 1.0.
        """
        return np.ones(len(texts), dtype=np.float32)

    @abstractmethod
    def _embed(self, texts: list[str]) -> np.ndarray:
        """Embed one batch; returns shape (len(texts), dim). Normalisation happens above."""


def unknown_share(ids_per_text: Sequence[Sequence[int]], unk_id: int | None) -> np.ndarray:
    """Coverage from token ids: 1 - share of ``unk_id`` (1.0 for empty texts)."""
    out = np.ones(len(ids_per_text), dtype=np.float32)
    if unk_id is None:
        return out
    for n, ids in enumerate(ids_per_text):
        if len(ids):
            out[n] = 1.0 - sum(1 for i in ids if i == unk_id) / len(ids)
    return out


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms
