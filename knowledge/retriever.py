"""Retrieval: dense (FAISS) and lexical (BM25) search over chunk keys, fused by reciprocal
rank. A chunk's score on each side is the best score over its keys, so an FAQ entry is as
close to a query as its closest question variant. Every hit carries its scores."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from knowledge.config import RetrievalConfig
from knowledge.embedders.base import Embedder
from knowledge.index import KnowledgeIndex
from knowledge.text import tokenize

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "lexical"]
MAX_QUERY_CHARS = 4000


@dataclass
class Hit:
    """One retrieved chunk with the evidence for it.

    ``dense_score`` is the best cosine between the query and the chunk's keys,
    ``lexical_score`` the best BM25 score, ``score`` the fused score (reciprocal-rank
    fusion in hybrid mode). Ranks are 1-based (0 = not among that side's candidates).
    ``support`` counts the chunk's keys among the dense candidates: how many of an FAQ
    entry's variants agree with the query.
    """

    chunk_id: str
    doc_id: str
    text: str
    metadata: dict[str, Any]
    score: float
    dense_score: float = 0.0
    lexical_score: float = 0.0
    dense_rank: int = 0
    lexical_rank: int = 0
    matched: str = ""
    matched_kind: str = ""
    support: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.metadata.get("kind", "page"))

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.doc_id)

    @property
    def url(self) -> str | None:
        return self.metadata.get("url")

    def to_json(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "kind": self.kind,
            "title": self.title,
            "url": self.url,
            "score": round(self.score, 6),
            "dense_score": round(self.dense_score, 6),
            "lexical_score": round(self.lexical_score, 6),
            "dense_rank": self.dense_rank,
            "lexical_rank": self.lexical_rank,
            "support": self.support,
            "matched": self.matched,
            "text": self.text,
        }


class Retriever(ABC):
    """Public ``retrieve`` validates and normalises; subclasses implement ``_retrieve``."""

    default_k: int = 5

    def retrieve(
        self, query: str, *, k: int | None = None, filters: Mapping[str, Any] | None = None
    ) -> list[Hit]:
        if not isinstance(query, str):
            raise TypeError(f"query must be a string, got {type(query).__name__}")
        k = self.default_k if k is None else k
        if k <= 0:
            raise ValueError(f"k must be a positive number of hits, got {k}")
        query = query.strip()[:MAX_QUERY_CHARS]
        if not query:
            return []
        return self._retrieve(query, k=k, filters=dict(filters or {}))

    @abstractmethod
    def _retrieve(self, query: str, *, k: int, filters: dict[str, Any]) -> list[Hit]: ...


class HybridRetriever(Retriever):
    """Dense + BM25, fused by reciprocal rank; ``mode`` can restrict it to one side."""

    def __init__(
        self,
        index: KnowledgeIndex,
        embedder: Embedder,
        *,
        config: RetrievalConfig | None = None,
        mode: Mode = "hybrid",
    ) -> None:
        if mode not in ("hybrid", "dense", "lexical"):
            raise ValueError(f"mode must be hybrid, dense or lexical, got {mode!r}")
        index.check_embedder(embedder)
        self.index = index
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self.mode = mode
        self.default_k = self.config.k
        self._n_chunks = len(index.chunks)

    # ------------------------------------------------------------------ filters
    def allowed_chunks(self, filters: dict[str, Any]) -> np.ndarray | None:
        """Boolean mask over chunks for ``filters``; None when there is no filter.

        Keys: ``kind`` (a kind or a list), ``category``, ``in_stock`` (bool), ``doc_ids``,
        and any other metadata field, compared for equality (a list means any of).
        """
        if not filters:
            return None
        mask = np.ones(self._n_chunks, dtype=bool)
        for name, wanted in filters.items():
            if wanted is None:
                continue
            if name == "doc_ids":
                wanted_set = set(wanted)
                values = [c.doc_id in wanted_set for c in self.index.chunks]
            else:
                options = set(wanted) if isinstance(wanted, list | tuple | set) else {wanted}
                values = [c.metadata.get(name) in options for c in self.index.chunks]
            mask &= np.asarray(values, dtype=bool)
        return mask

    # ------------------------------------------------------------------ search
    def _retrieve(self, query: str, *, k: int, filters: dict[str, Any]) -> list[Hit]:
        chunk_mask = self.allowed_chunks(filters)
        key_mask = None if chunk_mask is None else chunk_mask[self.index.key_chunk]
        n = max(self.config.candidates, k)

        dense: dict[int, tuple[float, int, int]] = {}  # chunk -> (score, best key, support)
        dense_order: list[int] = []
        if self.mode != "lexical":
            qvec = self.embedder.embed_query(query)
            allowed = None if key_mask is None else np.flatnonzero(key_mask)
            rows, scores = self.index.dense_search(qvec, n * 4, allowed=allowed)
            for row, score in zip(rows.tolist(), scores.tolist(), strict=True):
                pos = int(self.index.key_chunk[row])
                if pos in dense:
                    best, key, support = dense[pos]
                    dense[pos] = (best, key, support + 1)
                else:
                    dense[pos] = (float(score), row, 1)
                    dense_order.append(pos)
            dense_order = dense_order[:n]
        else:
            qvec = None

        lexical_order: list[int] = []
        chunk_lex = key_scores = np.zeros(0)
        if self.mode != "dense":
            key_scores = self.index.lexical_scores(tokenize(query))
            if key_mask is not None:
                key_scores = np.where(key_mask, key_scores, 0.0)
            chunk_lex = _max_per_chunk(key_scores, self.index)
            positive = np.flatnonzero(chunk_lex > 0)
            if len(positive):
                top = positive[np.argsort(-chunk_lex[positive], kind="stable")[:n]]
                lexical_order = top.tolist()

        fused = self._fuse(dense_order, lexical_order)
        hits = []
        for pos, score in fused[:k]:
            orders = (dense_order, lexical_order)
            hits.append(self._hit(pos, score, dense, orders, key_scores, chunk_lex, qvec))
        return hits

    def _fuse(self, dense_order: list[int], lexical_order: list[int]) -> list[tuple[int, float]]:
        if self.mode == "dense":
            return [(p, 1.0 / (self.config.rrf_k + r)) for r, p in enumerate(dense_order, 1)]
        if self.mode == "lexical":
            return [(p, 1.0 / (self.config.rrf_k + r)) for r, p in enumerate(lexical_order, 1)]
        scores: dict[int, float] = {}
        for order in (dense_order, lexical_order):
            for rank, pos in enumerate(order, 1):
                scores[pos] = scores.get(pos, 0.0) + 1.0 / (self.config.rrf_k + rank)
        # ties (same fused score) go to the better dense rank, then the better lexical rank
        dense_rank = {p: r for r, p in enumerate(dense_order)}
        return sorted(scores.items(), key=lambda item: (-item[1], dense_rank.get(item[0], 1 << 30)))

    def _hit(
        self,
        pos: int,
        score: float,
        dense: dict[int, tuple[float, int, int]],
        orders: tuple[list[int], list[int]],
        key_scores: np.ndarray,
        chunk_lex: np.ndarray,
        qvec: np.ndarray | None,
    ) -> Hit:
        dense_order, lexical_order = orders
        chunk = self.index.chunks[pos]
        rows = self.index.key_rows(pos)
        hit = Hit(chunk.id, chunk.doc_id, chunk.text, chunk.metadata, float(score))
        if pos in dense:
            best, row, support = dense[pos]
            hit.dense_score, hit.support = best, support
            hit.matched, hit.matched_kind = self.index.key_text[row], self.index.key_kind[row]
        elif qvec is not None:  # found lexically only: still report its dense similarity
            sims = self.index.vectors[rows] @ qvec
            hit.dense_score = float(sims.max())
            row = int(rows[int(sims.argmax())])
            hit.matched, hit.matched_kind = self.index.key_text[row], self.index.key_kind[row]
        if len(chunk_lex):
            hit.lexical_score = float(chunk_lex[pos])
            if not hit.matched and chunk_lex[pos] > 0:
                row = int(rows[int(np.argmax(key_scores[rows]))])
                hit.matched, hit.matched_kind = self.index.key_text[row], self.index.key_kind[row]
        hit.dense_rank = dense_order.index(pos) + 1 if pos in dense_order else 0
        hit.lexical_rank = lexical_order.index(pos) + 1 if pos in lexical_order else 0
        return hit


def _max_per_chunk(key_scores: np.ndarray, index: KnowledgeIndex) -> np.ndarray:
    """Best key score per chunk (keys are stored grouped by chunk, so one reduceat)."""
    return np.maximum.reduceat(key_scores, index.key_starts)
