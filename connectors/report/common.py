"""Shared pieces of the reports: action names and colours, histogram edges and the
streaming statistics (fixed memory, whatever the number of records)."""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np

SUMMARY_VERSION = 1

ACTIONS = ("answer_faq", "generate", "clarify", "dont_know", "handoff")
HANDLED = ("answer_faq", "generate", "recommend")
ACTION_LABELS = {
    "answer_faq": "answered from FAQ",
    "generate": "generated",
    "recommend": "recommended products",
    "clarify": "clarify",
    "dont_know": "don't know",
    "handoff": "handed off",
    "smalltalk": "small talk",
}
ACTION_COLORS = {
    "answer_faq": "#2e7d32",
    "generate": "#1565c0",
    "recommend": "#00838f",
    "clarify": "#f9a825",
    "dont_know": "#c62828",
    "handoff": "#6a1b9a",
    "smalltalk": "#8d6e63",
}
OTHER_COLOR = "#78909c"
# actions that count as "the bot answered" in eval (as in connectors.evaluate)
EVAL_ANSWERED = ("answer_faq", "generate", "recommend")

# Display histograms. Latency: counts[i] holds edges[i] <= v < edges[i+1]; the last edge is
# None (open). Agreement: the first bin is [-1, 0), then 20 bins of 0.05; 1.0 is in the last.
LATENCY_EDGES_MS: tuple[float | None, ...] = (
    *(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000),
    None,
)
AGREEMENT_EDGES: tuple[float, ...] = (-1.0, *(round(i * 0.05, 2) for i in range(21)))

NONE_GROUP = "(none)"


# --------------------------------------------------------------------------------------
# streaming statistics


def _fine_latency_edges() -> list[float]:
    edges, edge = [0.0], 0.01
    while edge < 1e7:  # 1% wide bins from 10 µs to ~3 h
        edges.append(edge)
        edge *= 1.01
    return edges


LATENCY_FINE = _fine_latency_edges()
AGREEMENT_FINE = [round(-1 + i * 0.001, 3) for i in range(2001)]


class StreamingQuantiles:
    """Exact quantiles for up to ``limit`` values, then a fine histogram (bounded memory)."""

    def __init__(self, fine_edges: list[float], limit: int) -> None:
        self._edges = fine_edges
        self._limit = limit
        self._values: list[float] | None = []
        self._counts: list[int] = []
        self.n = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, value: float) -> None:
        self.n += 1
        self.total += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)
        if self._values is not None:
            self._values.append(value)
            if len(self._values) > self._limit:
                self._counts = [0] * (len(self._edges) - 1)
                for v in self._values:
                    self._counts[self._bin(v)] += 1
                self._values = None
        else:
            self._counts[self._bin(value)] += 1

    def _bin(self, value: float) -> int:
        return min(max(bisect_right(self._edges, value) - 1, 0), len(self._edges) - 2)

    @property
    def exact(self) -> bool:
        return self._values is not None

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    def quantile(self, q: float) -> float | None:
        if not self.n:
            return None
        if self._values is not None:
            return float(np.percentile(self._values, q * 100))
        target = q * (self.n - 1)  # rank, as numpy's linear method
        seen = 0
        for i, count in enumerate(self._counts):
            if count and seen + count > target:
                low, high = self._edges[i], self._edges[i + 1]
                value = low + (high - low) * (target - seen + 0.5) / count
                return float(min(max(value, self.min), self.max))
            seen += count
        return float(self.max)


def display_bin(edges: tuple[float | None, ...], value: float) -> int:
    last = len(edges) - 2
    for i in range(last + 1):
        high = edges[i + 1]
        if high is None or value < high:
            return i
    return last


def rounded(value: float | None, digits: int = 6) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def fraction(count: int, total: int) -> float | None:
    return rounded(count / total) if total else None
