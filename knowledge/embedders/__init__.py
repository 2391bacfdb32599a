"""Embedders: sentence-transformers (reference), ONNX int8 (fast default), fake (tests)."""

from __future__ import annotations

import logging
from pathlib import Path

from knowledge.config import EmbedderConfig
from knowledge.embedders.base import Embedder
from knowledge.embedders.fake import FakeEmbedder

__all__ = ["Embedder", "FakeEmbedder", "describe_embedder", "make_embedder"]

log = logging.getLogger(__name__)


def make_embedder(config: EmbedderConfig, *, cache_dir: Path) -> Embedder:
    """Build the configured embedder. ``auto`` is the ONNX int8 backend, falling back to
    sentence-transformers (with a warning) when the export or its agreement check fails."""
    backend = config.backend
    if backend == "fake":
        return FakeEmbedder()
    if backend == "sentence-transformers" or (backend == "auto" and config.device == "cuda"):
        from knowledge.embedders.sentence_transformer import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(config.model, device=config.device)
    from knowledge.embedders.onnx_int8 import OnnxInt8Embedder
    from knowledge.errors import EmbedderError

    directory = Path(config.cache_dir) if config.cache_dir else cache_dir
    try:
        return OnnxInt8Embedder(
            config.model, cache_dir=directory, min_agreement=config.min_agreement
        )
    except EmbedderError as exc:
        if backend != "auto" or "not installed" in str(exc) or "neither" in str(exc):
            raise
        log.warning("ONNX backend unavailable (%s); using sentence-transformers", exc)
        from knowledge.embedders.sentence_transformer import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(config.model, device=config.device)


def describe_embedder(embedder: Embedder) -> str:
    """Model, backend (with the int8 recipe and its agreement) and CPU in one line, for
    logs and benchmarks: which kernels actually produced a figure."""
    from knowledge.embedders.cpu import cpu_info

    describe = getattr(embedder, "describe", None)
    if callable(describe):
        return f"{embedder.model_id} via {describe()}"
    return f"{embedder.model_id} via {embedder.backend} on {cpu_info().describe()}"
