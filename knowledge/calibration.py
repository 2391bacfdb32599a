"""Calibrating retrieval from the store's own knowledge, never from test queries.

Leave-one-out over FAQ question variants: each sampled variant is taken out of the index and
used as a query (its stored vector and tokens, so no model call); the entry it belongs to is
the right answer. The weight of the lexical side in score fusion is the one that ranks the
held-out variants best. Stores with too few variants to learn from get the fallback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

#: lexical weights tried; 0 means dense only
WEIGHT_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0)
#: used when the store has fewer held-out variants than MIN_SAMPLES (the smallest
#: non-trivial grid step: lexical evidence breaks near-ties but never outvotes meaning)
FALLBACK_WEIGHT = 0.1
MIN_SAMPLES = 30
MAX_SAMPLES = 3000


def heldout_rows(index: Any) -> np.ndarray:
    """Question keys whose entry has at least one other question variant."""
    kinds = np.asarray(index.key_kind)
    is_question = kinds == "question"
    per_chunk = np.bincount(index.key_chunk[is_question], minlength=len(index.chunks))
    return np.flatnonzero(is_question & (per_chunk[index.key_chunk] >= 2))


def leave_one_out_batches(
    index: Any, rows: np.ndarray, *, batch: int = 128
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (rows, dense chunk scores, lexical chunk scores) with each row held out."""
    for start in range(0, len(rows), batch):
        part = rows[start : start + batch]
        sims = index.vectors[part] @ index.vectors.T
        # discounted by what the model understands of both texts, as at query time
        sims *= index.key_coverage[part, None] * index.key_coverage[None, :]
        sims[np.arange(len(part)), part] = -np.inf
        dense = np.maximum.reduceat(sims, index.key_starts, axis=1)
        lexical = np.empty_like(dense)
        for n, row in enumerate(part):
            scores = index.lexical_scores(index.key_tokens[row]).copy()
            scores[row] = 0.0
            lexical[n] = np.maximum.reduceat(scores, index.key_starts)
        yield part, dense, lexical


def fuse_scores(dense: np.ndarray, lexical: np.ndarray, weight: float) -> np.ndarray:
    """Score fusion: cosine + weight x BM25 scaled so the query's best lexical match is 1."""
    top = lexical.max(axis=-1, keepdims=True)
    scaled = np.divide(lexical, top, out=np.zeros_like(lexical), where=top > 0)
    return dense + weight * scaled


def calibrate_fusion(index: Any, *, seed: int = 0) -> dict[str, Any]:
    """Choose the lexical weight by leave-one-out over the index's own FAQ variants."""
    rows = heldout_rows(index)
    if len(rows) < MIN_SAMPLES:
        return {
            "lexical_weight": FALLBACK_WEIGHT,
            "method": "fallback",
            "samples": len(rows),
        }
    if len(rows) > MAX_SAMPLES:
        rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_SAMPLES, replace=False))
    hits = dict.fromkeys(WEIGHT_GRID, 0.0)
    reciprocal = dict.fromkeys(WEIGHT_GRID, 0.0)
    for part, dense, lexical in leave_one_out_batches(index, rows):
        gold = index.key_chunk[part]
        for weight in WEIGHT_GRID:
            fused = fuse_scores(dense, lexical, weight)
            gold_score = fused[np.arange(len(part)), gold]
            rank = (fused > gold_score[:, None]).sum(axis=1) + 1
            hits[weight] += float(np.sum(rank == 1))
            reciprocal[weight] += float(np.sum(1.0 / rank))
    table = {w: (hits[w] / len(rows), reciprocal[w] / len(rows)) for w in WEIGHT_GRID}
    # best top-1; MRR breaks ties; then the smaller weight
    best = max(WEIGHT_GRID, key=lambda w: (table[w][0], table[w][1], -w))
    return {
        "lexical_weight": best,
        "method": "leave-one-out",
        "samples": len(rows),
        "top1": {str(w): round(v[0], 4) for w, v in table.items()},
    }
