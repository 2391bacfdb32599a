"""Calibrating retrieval from the store's own knowledge, never from test queries.

Leave-one-out over FAQ question variants: each sampled variant is taken out of the index and
used as a query (its stored vector and tokens, so no model call); the entry it belongs to is
the right answer. The weight of the lexical side in score fusion, and the share of an entry's
dense score that is the query's cosine to the centroid of its question wordings (the rest
is its closest key), are the pair that ranks the held-out variants best. Entries whose
wordings form one tight group are found better by their centroid; entries whose wordings
are many ways of saying different things (fine-grained banking intents) by their closest
wording: which a store has is measured, not assumed. Stores with too few variants to learn
from get the fallback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from knowledge.index import cosine_to_rest

#: lexical weights tried; 0 means dense only
WEIGHT_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0)
#: used when the store has fewer held-out variants than MIN_SAMPLES (the smallest
#: non-trivial grid step: lexical evidence breaks near-ties but never outvotes meaning)
FALLBACK_WEIGHT = 0.1
#: centroid shares tried; 0 means each entry's closest key alone
CENTROID_GRID = (0.0, 0.25, 0.5, 0.75)
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


def centroid_chunk_scores(index: Any, part: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """For held-out rows ``part``: each chunk's cosine to its wordings' centroid, each row
    left out of its own group (``dense`` where a chunk has no group, or its group has fewer
    than two wordings without the row)."""
    wordings = index.wordings
    scores = dense.copy()
    if not len(wordings.sums):
        return scores
    vectors = np.asarray(index.vectors[part], dtype=np.float32)
    cosines = vectors @ wordings.centroids.T  # (rows, groups)
    own = np.asarray(index.key_chunk[part])
    group = wordings.slot[own]
    is_question = np.asarray(index.key_kind)[part] == "question"
    mine = np.flatnonzero((group >= 0) & is_question)
    cosines[mine, group[mine]] = cosine_to_rest(vectors[mine], wordings.sums[group[mine]])
    too_few = mine[wordings.sizes[group[mine]] - 1 < wordings.MIN_WORDINGS]
    cosines *= index.key_coverage[part, None]
    scores[:, wordings.chunks] = cosines
    # a group of two without the row is one wording: no centroid, its closest key as before
    scores[too_few, own[too_few]] = dense[too_few, own[too_few]]
    return scores


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
            "centroid_weight": 0.0,
            "method": "fallback",
            "samples": len(rows),
        }
    if len(rows) > MAX_SAMPLES:
        rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_SAMPLES, replace=False))
    shares = CENTROID_GRID if len(index.wordings.sums) else (0.0,)
    pairs = [(w, c) for c in shares for w in WEIGHT_GRID]
    hits = dict.fromkeys(pairs, 0.0)
    reciprocal = dict.fromkeys(pairs, 0.0)
    for part, dense, lexical in leave_one_out_batches(index, rows):
        gold = index.key_chunk[part]
        centroid = centroid_chunk_scores(index, part, dense) if len(shares) > 1 else dense
        for share in shares:
            mixed = dense if share == 0 else (1 - share) * dense + share * centroid
            for weight in WEIGHT_GRID:
                fused = fuse_scores(mixed, lexical, weight)
                gold_score = fused[np.arange(len(part)), gold]
                rank = (fused > gold_score[:, None]).sum(axis=1) + 1
                hits[weight, share] += float(np.sum(rank == 1))
                reciprocal[weight, share] += float(np.sum(1.0 / rank))
    table = {p: (hits[p] / len(rows), reciprocal[p] / len(rows)) for p in pairs}
    # best top-1; MRR breaks ties; then the smaller centroid share and lexical weight
    best = max(pairs, key=lambda p: (table[p][0], table[p][1], -p[1], -p[0]))
    return {
        "lexical_weight": best[0],
        "centroid_weight": best[1],
        "method": "leave-one-out",
        "samples": len(rows),
        "top1": {f"{w}/{c}": round(v[0], 4) for (w, c), v in table.items()},
    }
