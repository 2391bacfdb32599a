"""Knowledge gaps: the questions the bot could not answer, grouped by meaning."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.policy import wants_human
from connectors.report.common import rounded


@dataclass(frozen=True)
class GapCluster:
    """Questions the bot could not answer that are about the same thing."""

    size: int
    representative: str  # the question closest to the cluster's centroid
    examples: tuple[str, ...]  # other distinct questions, closest to the centroid first
    cohesion: float  # mean cosine of the members to their centroid

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "representative": self.representative,
            "examples": list(self.examples),
            "cohesion": rounded(self.cohesion, 4),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GapCluster:
        return cls(
            size=int(data["size"]),
            representative=str(data["representative"]),
            examples=tuple(data.get("examples") or ()),
            cohesion=float(data.get("cohesion") or 0.0),
        )


def asks_for_person(record: dict[str, Any]) -> bool:
    """True for a turn where the customer asked for a person ("I want to speak to a human",
    "转人工"), as the bot's policy recognises it: a handoff by choice."""
    return wants_human(str(record.get("customer") or ""))


def is_knowledge_gap(record: dict[str, Any]) -> bool:
    """True for a turn the bot could not answer: don't know, or a handoff it spoke.

    A silent handoff (``bot.text`` empty: a human already has the conversation) is not a gap,
    nor is a request for a person: it says nothing about what the store's knowledge lacks.
    """
    if asks_for_person(record):
        return False
    bot = record.get("bot") or {}
    action = bot.get("action")
    return action == "dont_know" or (action == "handoff" and bool(bot.get("text")))


def cluster_questions(
    texts: list[str],
    embeddings: np.ndarray,
    threshold: float,
    *,
    max_examples: int = 5,
) -> list[GapCluster]:
    """Greedy centroid clustering of questions, biggest cluster first.

    Questions are taken in order; each joins the cluster whose centroid (the normalised
    mean of its members) is closest, when that cosine is >= ``threshold``, and otherwise
    starts a new cluster. Memory is O(n + clusters x dim); time O(n x clusters x dim), done
    in blocks with one matrix product each (exact: centroids that move inside a block are
    re-scored). Ties go to the older cluster; clusters of equal size keep the order in which
    they started, so the result is deterministic.
    """
    n = len(texts)
    if n == 0:
        return []
    vectors = np.asarray(embeddings, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != n:
        raise ValueError(f"expected {n} embeddings as an (n, dim) array, got {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.where(norms > 0, norms, 1.0)
    dim = vectors.shape[1]

    capacity = 64
    centroids = np.zeros((capacity, dim), dtype=np.float32)  # unit vectors
    sum_norms: list[float] = []  # |sum of members| per cluster
    sizes: list[int] = []
    assign = np.empty(n, dtype=np.int64)

    def add_to(c: int, vector: np.ndarray) -> None:
        total = centroids[c].astype(np.float64) * sum_norms[c] + vector
        norm = float(np.linalg.norm(total))
        centroids[c] = total / norm if norm > 0 else 0.0
        sum_norms[c] = norm
        sizes[c] += 1

    start = 0
    while start < n:
        k0 = len(sizes)
        block = int(min(256, max(16, 8_000_000 // max(k0, 1))))
        batch = vectors[start : start + block]
        scores = batch @ centroids[:k0].T if k0 else np.empty((len(batch), 0), np.float32)
        touched: list[int] = []  # clusters older than the block whose centroid moved in it
        for j, vector in enumerate(batch):
            best, best_score = -1, -math.inf
            if k0:
                i = int(np.argmax(scores[j]))
                if scores[j, i] > -math.inf:
                    best, best_score = i, float(scores[j, i])
            fresh = touched + list(range(k0, len(sizes)))
            if fresh:
                fresh_scores = centroids[fresh] @ vector
                for c, s in zip(fresh, fresh_scores.tolist(), strict=True):
                    if s > best_score or (s == best_score and c < best):
                        best, best_score = c, s
            if best >= 0 and best_score >= threshold:
                add_to(best, vector.astype(np.float64))
                if best < k0 and best not in touched:
                    touched.append(best)
                    scores[:, best] = -math.inf  # re-scored from `fresh` from now on
            else:
                best = len(sizes)
                if best == capacity:
                    capacity *= 2
                    grown = np.zeros((capacity, dim), dtype=np.float32)
                    grown[:best] = centroids[:best]
                    centroids = grown
                centroids[best] = vector
                sum_norms.append(float(np.linalg.norm(vector)))
                sizes.append(1)
            assign[start + j] = best
        start += len(batch)

    k = len(sizes)
    own = np.empty(n, dtype=np.float32)  # each question's cosine to its own centroid
    for s in range(0, n, 4096):
        own[s : s + 4096] = np.einsum(
            "ij,ij->i", vectors[s : s + 4096], centroids[assign[s : s + 4096]]
        )
    order = np.lexsort((np.arange(n), -own, assign))  # by cluster, closest first, stable
    bounds = np.searchsorted(assign[order], np.arange(k + 1))
    clusters: list[tuple[int, int, GapCluster]] = []
    for c in range(k):
        members = order[bounds[c] : bounds[c + 1]]
        representative = texts[int(members[0])]
        seen = {_fold(representative)}
        examples: list[str] = []
        for m in members[1:]:
            if len(examples) >= max_examples:
                break
            text = texts[int(m)]
            if _fold(text) not in seen:
                seen.add(_fold(text))
                examples.append(text)
        cohesion = sum_norms[c] / sizes[c]
        clusters.append(
            (-sizes[c], c, GapCluster(sizes[c], representative, tuple(examples), cohesion))
        )
    clusters.sort(key=lambda item: (item[0], item[1]))
    return [cluster for _, _, cluster in clusters]


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())
