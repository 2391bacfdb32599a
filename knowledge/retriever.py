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

from knowledge.calibration import FALLBACK_WEIGHT
from knowledge.config import RetrievalConfig
from knowledge.embedders.base import Embedder
from knowledge.index import KnowledgeIndex
from knowledge.text import tokenize

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "lexical"]
MAX_QUERY_CHARS = 4000
#: left-out keys beyond which a search is restricted to the others instead (calibration)
MANY_EXCLUDED = 256


@dataclass
class Hit:
    """One retrieved chunk with the evidence for it.

    ``dense_score`` is the best cosine between the query and the chunk's keys,
    ``lexical_score`` the best BM25 score, ``score`` the fused score (see
    HybridRetriever). Ranks are 1-based (0 = not among that side's candidates).
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


@dataclass
class Retrieval:
    """A query's hits with the query-side evidence: its lexical tokens and how much of it
    the embedding model understands (0..1)."""

    query: str
    hits: list[Hit]
    tokens: list[str]
    coverage: float
    #: the query's embedding (None when the model does not read it, or lexical mode)
    vector: np.ndarray | None = None


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
    """Dense + BM25 over chunk keys; ``mode`` can restrict it to one side.

    Fusion ``score`` (default) ranks by cosine + w x BM25 / best BM25 of the query, with w
    calibrated by leave-one-out over the store's own FAQ variants when the index is built;
    fusion ``rrf`` is plain reciprocal-rank fusion.
    """

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
    @property
    def lexical_weight(self) -> float:
        """Weight of BM25 in score fusion: configured, else calibrated with the index."""
        if self.config.lexical_weight is not None:
            return self.config.lexical_weight
        fusion = self.index.manifest.get("extras", {}).get("fusion", {})
        return float(fusion.get("lexical_weight", FALLBACK_WEIGHT))

    @property
    def centroid_weight(self) -> float:
        """Weight of an FAQ entry's wordings' centroid in its dense score: configured, else
        calibrated with the index (0 for indexes calibrated before it existed)."""
        if self.config.centroid_weight is not None:
            return self.config.centroid_weight
        fusion = self.index.manifest.get("extras", {}).get("fusion", {})
        return float(fusion.get("centroid_weight", 0.0))

    def _retrieve(self, query: str, *, k: int, filters: dict[str, Any]) -> list[Hit]:
        return self.query(query, k=k, filters=filters).hits

    def query(
        self, query: str, *, k: int | None = None, filters: Mapping[str, Any] | None = None
    ) -> Retrieval:
        """Like ``retrieve``, also returning the query's tokens and model coverage (the
        evidence a confidence estimate needs besides the hits)."""
        query = query.strip()[:MAX_QUERY_CHARS]
        k = self.default_k if k is None else k
        qvec, query_coverage = None, 1.0
        if self.mode != "lexical" and query:
            query_coverage = float(self.embedder.coverage([query])[0])
            if query_coverage > 0:
                qvec = self.embedder.embed_query(query)
        tokens = tokenize(query) if self.mode != "dense" else []
        hits = (
            self.search(
                qvec, tokens, query_coverage=query_coverage, k=k, filters=dict(filters or {})
            )
            if query
            else []
        )
        return Retrieval(query, hits, tokens, query_coverage, qvec)

    def search(
        self,
        qvec: np.ndarray | None,
        tokens: list[str],
        *,
        query_coverage: float = 1.0,
        k: int = 5,
        filters: dict[str, Any] | None = None,
        exclude_rows: np.ndarray | None = None,
    ) -> list[Hit]:
        """Search with an embedded, tokenised query (``retrieve`` does both for text).

        ``exclude_rows`` leaves key rows out of both indexes: calibration uses it to ask the
        index a question taken from the index itself.
        """
        chunk_mask = self.allowed_chunks(filters or {})
        key_mask = None if chunk_mask is None else chunk_mask[self.index.key_chunk]
        if exclude_rows is not None and len(exclude_rows):
            key_mask = np.ones(len(self.index.key_chunk), bool) if key_mask is None else key_mask
            key_mask = key_mask.copy()
            key_mask[exclude_rows] = False
            if chunk_mask is None and len(exclude_rows) > MANY_EXCLUDED:
                # searching past that many left-out keys costs more than a restricted search
                chunk_mask = np.ones(len(self.index.chunks), bool)
        n = max(self.config.candidates, k)

        dense: dict[int, tuple[float, int, int]] = {}  # chunk -> (score, best key, support)
        dense_order: list[int] = []
        floor = 0.0
        if self.mode != "lexical" and qvec is not None and query_coverage > 0:
            rows, scores = self.index.dense_search(
                qvec,
                n * 4,
                allowed=None if chunk_mask is None else np.flatnonzero(key_mask),
                exclude=None if chunk_mask is not None else exclude_rows,
            )
            if len(scores):
                # bound for chunks the search did not return (key coverage is at most 1)
                floor = float(scores.min()) * query_coverage
            # a text the model does not understand embeds close to every other such text
            scores = scores * query_coverage * self.index.key_coverage[rows]
            order = np.argsort(-scores, kind="stable")
            rows, scores = rows[order], scores[order]
            chunks = self.index.key_chunk[rows]
            uniq, first, counts = np.unique(chunks, return_index=True, return_counts=True)
            for pos, i, count in zip(uniq.tolist(), first.tolist(), counts.tolist(), strict=True):
                dense[pos] = (float(scores[i]), int(rows[i]), count)
            dense_order = sorted(dense, key=lambda p: -dense[p][0])[:n]

        lexical_order: list[int] = []
        key_scores = chunk_lex = np.zeros(0, dtype=np.float32)
        if self.mode != "dense":
            key_scores = self.index.lexical_scores(tokens)
            if key_mask is not None:
                key_scores = np.where(key_mask, key_scores, np.float32(0.0))
            chunk_lex = np.maximum.reduceat(key_scores, self.index.key_starts)
            positive = np.flatnonzero(chunk_lex > 0)
            if len(positive):
                lexical_order = positive[
                    np.argsort(-chunk_lex[positive], kind="stable")[:n]
                ].tolist()

        # an FAQ entry's wordings also speak as a group: its dense score is mixed with the
        # query's cosine to their centroid (weight calibrated per store, 0 = best key alone)
        candidates = list(dict.fromkeys(dense_order + lexical_order))
        weight = self.centroid_weight
        centroid = (
            self.index.wordings.centroid_scores(self.index, qvec, candidates, exclude_rows)
            if weight > 0 and qvec is not None and query_coverage > 0
            else {}
        )
        ranks = (
            {p: r for r, p in enumerate(dense_order, 1)},
            {p: r for r, p in enumerate(lexical_order, 1)},
        )
        # A lexical-only candidate's dense score is at most the lowest key score the dense
        # search returned; rank with that bound and compute exact scores only for the
        # candidates that reach the top k (a few small matrix products, not one per key).
        bound = {p: (floor, -1, 0) for p in candidates if p not in dense}
        while True:
            scores = {p: v[0] for p, v in (dense | bound).items()}
            for pos, cosine in centroid.items():
                if pos in scores:
                    scores[pos] = (1 - weight) * scores[pos] + weight * cosine * query_coverage
            fused = self._fuse(candidates, scores, chunk_lex, ranks)
            order = sorted(candidates, key=lambda p: (-fused[p], ranks[0].get(p, 1 << 30)))
            pending = [p for p in order[:k] if p in bound]
            if not pending:
                break
            for pos in pending:
                del bound[pos]
                dense[pos] = self._exact_dense(pos, qvec, query_coverage)
        return [self._hit(p, fused[p], dense, chunk_lex, key_scores, ranks) for p in order[:k]]

    def _exact_dense(
        self, pos: int, qvec: np.ndarray | None, query_coverage: float
    ) -> tuple[float, int, int]:
        """(best discounted cosine, its key row, 0) for one chunk; zeros without a query."""
        if qvec is None:
            return (0.0, -1, 0)
        rows = self.index.key_rows(pos)
        sims = (self.index.vectors[rows] @ qvec) * query_coverage * self.index.key_coverage[rows]
        best = int(np.argmax(sims))
        return (float(sims[best]), int(rows[best]), 0)

    def _fuse(
        self,
        candidates: list[int],
        dense: dict[int, float],
        chunk_lex: np.ndarray,
        ranks: tuple[dict[int, int], dict[int, int]],
    ) -> dict[int, float]:
        if self.mode == "dense":
            return {p: dense[p] for p in candidates}
        if self.mode == "lexical":
            return {p: float(chunk_lex[p]) for p in candidates}
        if self.config.fusion == "rrf":
            c = self.config.rrf_k
            return {p: sum(1.0 / (c + side[p]) for side in ranks if p in side) for p in candidates}
        top = float(chunk_lex.max()) if len(chunk_lex) else 0.0
        weight = self.lexical_weight / top if top > 0 else 0.0
        return {p: dense.get(p, 0.0) + weight * float(chunk_lex[p]) for p in candidates}

    def _hit(
        self,
        pos: int,
        score: float,
        dense: dict[int, tuple[float, int, int]],
        chunk_lex: np.ndarray,
        key_scores: np.ndarray,
        ranks: tuple[dict[int, int], dict[int, int]],
    ) -> Hit:
        chunk = self.index.chunks[pos]
        hit = Hit(chunk.id, chunk.doc_id, chunk.text, chunk.metadata, float(score))
        row = -1
        if pos in dense:
            hit.dense_score, row, hit.support = dense[pos]
        if len(chunk_lex):
            hit.lexical_score = float(chunk_lex[pos])
            if row < 0:
                rows = self.index.key_rows(pos)
                row = int(rows[int(np.argmax(key_scores[rows]))])
        if row >= 0:
            hit.matched, hit.matched_kind = self.index.key_text[row], self.index.key_kind[row]
        hit.dense_rank = ranks[0].get(pos, 0)
        hit.lexical_rank = ranks[1].get(pos, 0)
        return hit
