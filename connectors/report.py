"""Replay and eval reports: a ``summary.json`` and one self-contained ``report.html``.

``shopbot replay`` writes one JSON record per customer turn (``replies.jsonl``);
:func:`summarize` reads them in one pass and keeps only counters, fixed-size histograms and
a bounded sample of rows for the browsable table. :func:`cluster_questions` groups the
questions the bot could not answer into knowledge gaps. :func:`render_html` draws the
report as one HTML file with inline CSS and SVG charts (a few lines of vanilla JS filter
the table; everything is readable without it) and :func:`write_report` writes both files
atomically.

``shopbot eval`` gets the same kind of report from :func:`summarize_eval`,
:func:`render_eval_html` and :func:`write_eval_report`.

Nothing here reads a clock or a random generator: the same input gives the same bytes.
"""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
from bisect import bisect_right
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SUMMARY_VERSION = 1

ACTIONS = ("answer_faq", "generate", "clarify", "dont_know", "handoff")
HANDLED = ("answer_faq", "generate")
ACTION_LABELS = {
    "answer_faq": "answered from FAQ",
    "generate": "generated",
    "clarify": "clarify",
    "dont_know": "don't know",
    "handoff": "handed off",
}
ACTION_COLORS = {
    "answer_faq": "#2e7d32",
    "generate": "#1565c0",
    "clarify": "#f9a825",
    "dont_know": "#c62828",
    "handoff": "#6a1b9a",
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


_LATENCY_FINE = _fine_latency_edges()
_AGREEMENT_FINE = [round(-1 + i * 0.001, 3) for i in range(2001)]


class _Quantiles:
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


def _display_bin(edges: tuple[float | None, ...], value: float) -> int:
    last = len(edges) - 2
    for i in range(last + 1):
        high = edges[i + 1]
        if high is None or value < high:
            return i
    return last


def _r(value: float | None, digits: int = 6) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _share(count: int, total: int) -> float | None:
    return _r(count / total) if total else None


# --------------------------------------------------------------------------------------
# knowledge gaps


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
            "cohesion": _r(self.cohesion, 4),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GapCluster:
        return cls(
            size=int(data["size"]),
            representative=str(data["representative"]),
            examples=tuple(data.get("examples") or ()),
            cohesion=float(data.get("cohesion") or 0.0),
        )


def is_knowledge_gap(record: dict[str, Any]) -> bool:
    """True for a turn the bot could not answer: don't know, or a handoff it spoke.

    A silent handoff (``bot.text`` empty: a human already has the conversation) is not a gap.
    """
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


# --------------------------------------------------------------------------------------
# replay summary


@dataclass
class _Group:
    turns: int = 0
    conversations: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    agreement_sum: float = 0.0
    agreement_n: int = 0

    def add(self, action: str, agreement: float | None, new_conversation: bool) -> None:
        self.turns += 1
        self.conversations += new_conversation
        self.actions[action] += 1
        if agreement is not None:
            self.agreement_sum += agreement
            self.agreement_n += 1

    def merge(self, other: _Group, sign: int = 1) -> None:
        self.turns += sign * other.turns
        self.conversations += sign * other.conversations
        for action, count in other.actions.items():
            self.actions[action] += sign * count
        self.agreement_sum += sign * other.agreement_sum
        self.agreement_n += sign * other.agreement_n

    def to_json(self, name: str, order: list[str], *, other: bool = False) -> dict[str, Any]:
        handled = sum(self.actions[a] for a in HANDLED)
        return {
            "name": name,
            "other": other,
            "turns": self.turns,
            "conversations": self.conversations,
            "actions": {a: self.actions[a] for a in order if self.actions[a]},
            "handled_share": _share(handled, self.turns),
            "agreement_mean": _r(self.agreement_sum / self.agreement_n)
            if self.agreement_n
            else None,
            "agreement_n": self.agreement_n,
        }


def _group_value(value: Any) -> str | None:
    """A group name, or None when the value cannot name a group (a list or a mapping)."""
    if value is None:
        return NONE_GROUP
    if isinstance(value, str):
        return value or NONE_GROUP
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


class _Grouping:
    """Per-group counters for a fixed key, or for every candidate meta key at once."""

    def __init__(self, key: str | None, max_values: int) -> None:
        self.key = key
        self.max_values = max_values
        self.presence: dict[str, int] = {}  # auto: meta key -> records that have it
        self.tables: dict[str, dict[str, _Group]] = {}
        self.dropped: set[str] = set()  # auto: keys that name no groups (ids, lists)
        self.overflow = _Group()  # fixed key: turns of groups beyond max_values
        self.total = _Group()

    def add(
        self,
        record: dict[str, Any],
        meta: dict[str, Any],
        action: str,
        agreement: float | None,
        new_conversation: bool,
    ) -> None:
        self.total.add(action, agreement, new_conversation)
        if self.key is not None:
            raw = meta[self.key] if self.key in meta else record.get(self.key)
            name = _group_value(raw)
            name = name if name is not None else json.dumps(raw, sort_keys=True, default=str)
            table = self.tables.setdefault(self.key, {})
            group = table.get(name)
            if group is None:
                if len(table) >= self.max_values:
                    self.overflow.add(action, agreement, new_conversation)
                    return
                group = table[name] = _Group()
            group.add(action, agreement, new_conversation)
            return
        for key, raw in meta.items():
            if key in self.dropped:
                continue
            self.presence[key] = self.presence.get(key, 0) + 1
            name = _group_value(raw)
            table = self.tables.setdefault(key, {})
            if name is None or (name not in table and len(table) >= self.max_values):
                self.dropped.add(key)
                del self.tables[key]
                continue
            table.setdefault(name, _Group()).add(action, agreement, new_conversation)

    def result(self, max_groups: int, order: list[str]) -> dict[str, Any]:
        key, auto = self.key, self.key is None
        if auto:
            # a key whose every record has its own value is an id, whatever its count
            candidates = [
                k
                for k in self.presence
                if k not in self.dropped
                and not (self.presence[k] > max_groups and len(self.tables[k]) == self.presence[k])
            ]
            key = max(candidates, key=lambda k: self.presence[k], default=None)
        if key is None:
            return {"key": None, "auto": auto, "total_groups": 0, "rows": []}
        groups = dict(self.tables.get(key, {}))
        if auto and self.presence[key] < self.total.turns:  # records without the key
            missing = _Group()
            missing.merge(self.total)
            for group in groups.values():
                missing.merge(group, -1)
            groups.setdefault(NONE_GROUP, _Group()).merge(missing)
        ranked = sorted(groups.items(), key=lambda item: (-item[1].turns, item[0]))
        rows = [group.to_json(name, order) for name, group in ranked[:max_groups]]
        other = _Group()
        other.merge(self.overflow)
        for _, group in ranked[max_groups:]:
            other.merge(group)
        if other.turns:
            rows.append(other.to_json("other", order, other=True))
        return {
            "key": key,
            "auto": auto,
            "total_groups": len(groups) + (1 if self.overflow.turns else 0),
            "overflowed": bool(self.overflow.turns),
            "rows": rows,
        }


@dataclass
class _Conversation:
    group: str = ""
    turns: int = 0
    handoff: bool = False
    all_handled: bool = True


def _clip(text: Any, limit: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def gaps_summary(
    gaps: Sequence[GapCluster | dict[str, Any]], *, max_gaps: int = 100
) -> dict[str, Any]:
    """The summary's ``gaps`` section: totals and the biggest ``max_gaps`` clusters."""
    clusters = [g if isinstance(g, GapCluster) else GapCluster.from_json(g) for g in gaps]
    return {
        "questions": sum(c.size for c in clusters),
        "clusters": len(clusters),
        "top": [c.to_json() for c in clusters[:max_gaps]],
    }


def summarize(
    records: Iterable[dict[str, Any]],
    *,
    gaps: list[GapCluster] | None = None,
    group_key: str | None = None,
    sample_conversations: int = 500,
    max_sample_rows: int = 10_000,
    max_text_chars: int = 2000,
    max_groups: int = 20,
    max_group_values: int = 1000,
    max_gaps: int = 100,
    open_conversations: int = 10_000,
    exact_limit: int = 200_000,
) -> dict[str, Any]:
    """Summarise replayed turns in one pass with bounded memory.

    ``group_key`` names a ``meta`` key (or a top-level record key) to break the figures
    down by; with None the meta key present in the most records is used (ties: the first
    seen), skipping keys with lists or mappings as values, more than ``max_group_values``
    distinct values, or a different value in every record (ids name no useful groups).
    With a fixed key, values beyond ``max_group_values`` are counted under "other".

    Conversations are told apart by ``conversation_id``; the last ``open_conversations``
    ids are kept, so turns of one conversation may be interleaved with up to that many
    others (``shopbot replay`` writes them one after another). Quantiles are exact up to
    ``exact_limit`` values, then read from 1%-wide bins (latency) or 0.001-wide bins
    (agreement); ``latency_ms.exact`` says which.

    The table sample keeps every turn of the first ``sample_conversations`` conversations
    (at most ``max_sample_rows`` rows; texts clipped to ``max_text_chars``) under
    ``summary["sample"]["rows"]``.
    """
    order = list(ACTIONS)
    actions: Counter[str] = Counter()
    turns = silent = without_agent = 0
    conversations = contained = fully_handled = 0
    latency = _Quantiles(_LATENCY_FINE, exact_limit)
    latency_hist = [0] * (len(LATENCY_EDGES_MS) - 1)
    latency_by_action: dict[str, _Quantiles] = {}
    agreement = _Quantiles(_AGREEMENT_FINE, exact_limit)
    agreement_hist = [0] * (len(AGREEMENT_EDGES) - 1)
    agreement_by_action: dict[str, list[float]] = {}  # action -> [sum, n]
    confidence_sum, confidence_n = 0.0, 0
    grouping = _Grouping(group_key, max_group_values)
    open_: OrderedDict[str, _Conversation] = OrderedDict()
    sampled: dict[str, int] = {}  # conversation id -> its position in the table
    rows: list[dict[str, Any]] = []
    rows_dropped = 0

    def close(conversation: _Conversation) -> None:
        nonlocal contained, fully_handled
        contained += not conversation.handoff
        fully_handled += conversation.all_handled

    for seq, record in enumerate(records):
        bot = record.get("bot") or {}
        meta = record.get("meta") or {}
        if not isinstance(meta, dict):
            meta = {}
        action = str(bot.get("action") or "unknown")
        conversation_id = str(record.get("conversation_id", ""))
        turns += 1
        actions[action] += 1
        text = bot.get("text") or ""
        if action == "handoff" and not text:
            silent += 1
        if record.get("agent") is None:
            without_agent += 1

        conversation = open_.get(conversation_id)
        new_conversation = conversation is None
        if conversation is None:
            conversations += 1
            conversation = open_[conversation_id] = _Conversation()
            if len(open_) > open_conversations:
                close(open_.popitem(last=False)[1])
        else:
            open_.move_to_end(conversation_id)
        conversation.turns += 1
        conversation.handoff |= action == "handoff"
        conversation.all_handled &= action in HANDLED

        ms = _float(bot.get("latency_ms"))
        if ms is not None:
            latency.add(ms)
            latency_hist[_display_bin(LATENCY_EDGES_MS, ms)] += 1
            per_action = latency_by_action.get(action)
            if per_action is None:
                per_action = latency_by_action[action] = _Quantiles(_LATENCY_FINE, exact_limit)
            per_action.add(ms)
        score = _float(record.get("agreement"))
        if score is not None:
            score = min(max(score, -1.0), 1.0)
            agreement.add(score)
            agreement_hist[_display_bin(AGREEMENT_EDGES, score)] += 1
            acc = agreement_by_action.setdefault(action, [0.0, 0])
            acc[0] += score
            acc[1] += 1
        confidence = _float(bot.get("confidence"))
        if confidence is not None:
            confidence_sum += confidence
            confidence_n += 1
        grouping.add(record, meta, action, score, new_conversation)

        if conversation_id not in sampled and len(sampled) < sample_conversations:
            sampled[conversation_id] = len(sampled)
        if conversation_id in sampled:
            if len(rows) < max_sample_rows:
                turn = record.get("turn")
                rows.append(
                    {
                        "conversation_id": conversation_id,
                        "turn": turn if isinstance(turn, int) else None,
                        "customer": _clip(record.get("customer"), max_text_chars),
                        "agent": None
                        if record.get("agent") is None
                        else _clip(record.get("agent"), max_text_chars),
                        "action": action,
                        "bot_text": _clip(text, max_text_chars),
                        "confidence": _r(confidence, 4),
                        "latency_ms": _r(ms, 3),
                        "agreement": _r(score, 4),
                        "citations": [
                            {
                                "n": c.get("n"),
                                "doc_id": None if c.get("doc_id") is None else str(c["doc_id"]),
                                "title": None if c.get("title") is None else str(c["title"]),
                                "url": None if c.get("url") is None else str(c["url"]),
                            }
                            for c in (bot.get("citations") or [])
                            if isinstance(c, dict)
                        ],
                        "_seq": seq,
                    }
                )
            else:
                rows_dropped += 1
    for conversation in open_.values():
        close(conversation)

    rows.sort(key=lambda r: (sampled[r["conversation_id"]], r["_seq"]))
    for row in rows:
        del row["_seq"]
    order += sorted(a for a in actions if a not in ACTIONS)
    handled = sum(actions[a] for a in HANDLED)

    gap_section = None if gaps is None else gaps_summary(gaps, max_gaps=max_gaps)

    return {
        "kind": "shopbot.replay",
        "version": SUMMARY_VERSION,
        "conversations": conversations,
        "turns": turns,
        "turns_per_conversation": _r(turns / conversations, 3) if conversations else None,
        "actions": {
            a: {"count": actions[a], "share": _share(actions[a], turns)}
            for a in order
            if a in ACTIONS or actions[a]
        },
        "handled": {"count": handled, "share": _share(handled, turns)},
        "silent_turns": silent,
        "turns_without_agent": without_agent,
        "conversations_contained": {
            "count": contained,
            "share": _share(contained, conversations),
        },
        "conversations_fully_handled": {
            "count": fully_handled,
            "share": _share(fully_handled, conversations),
        },
        "confidence_mean": _r(confidence_sum / confidence_n, 4) if confidence_n else None,
        "latency_ms": {
            "n": latency.n,
            "p50": _r(latency.quantile(0.5), 3),
            "p95": _r(latency.quantile(0.95), 3),
            "max": _r(latency.max, 3) if latency.n else None,
            "mean": _r(latency.mean, 3),
            "exact": latency.exact,
            "histogram": {"edges": list(LATENCY_EDGES_MS), "counts": latency_hist},
            "by_action": {
                a: {
                    "n": latency_by_action[a].n,
                    "p50": _r(latency_by_action[a].quantile(0.5), 3),
                    "p95": _r(latency_by_action[a].quantile(0.95), 3),
                }
                for a in order
                if a in latency_by_action
            },
        },
        "agreement": {
            "n": agreement.n,
            "mean": _r(agreement.mean, 4),
            "median": _r(agreement.quantile(0.5), 4),
            "exact": agreement.exact,
            "histogram": {"edges": list(AGREEMENT_EDGES), "counts": agreement_hist},
            "by_action": {
                a: {
                    "n": agreement_by_action[a][1],
                    "mean": _r(agreement_by_action[a][0] / agreement_by_action[a][1], 4),
                }
                for a in order
                if a in agreement_by_action
            },
        },
        "groups": grouping.result(max_groups, order),
        "gaps": gap_section,
        "sample": {
            "conversations": len(sampled),
            "limit_conversations": sample_conversations,
            "rows_dropped": rows_dropped,
            "rows": rows,
        },
    }


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSONL file (``replies.jsonl``), one at a time; blank lines skipped."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}, line {number}: not JSON: {exc.msg}") from None


# --------------------------------------------------------------------------------------
# eval summary


def _entry(value: Any) -> str | None:
    """An entry id for comparison: ``faq:returns`` and ``returns`` are the same entry."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    return text[4:] if text.startswith("faq:") else text


def _eval_metrics(correct: np.ndarray, declined: np.ndarray, oos: np.ndarray) -> dict[str, Any]:
    tp = float(np.sum(declined & oos))
    fp = float(np.sum(declined & ~oos))
    fn = float(np.sum(~declined & oos))
    tn = float(np.sum(~declined & ~oos))
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "accuracy": _r(float(correct.mean())) if len(correct) else None,
        "in_scope_accuracy": _r(float(correct[~oos].mean())) if (~oos).any() else None,
        "oos_recall": _r(tp / (tp + fn)) if oos.any() else None,
        "oos_precision": _r(tp / (tp + fp)) if tp + fp else None,
        "mcc": _r((tp * tn - fp * fn) / denominator) if denominator else 0.0,
        "answered_share": _r(float((~declined).mean())) if len(declined) else None,
    }


def summarize_eval(
    results: Iterable[dict[str, Any]],
    *,
    threshold: float | None = None,
    max_confusions: int = 20,
    max_examples: int = 3,
    max_errors: int = 50,
    curve_points: int = 101,
) -> dict[str, Any]:
    """Summarise labelled eval results.

    A result is ``{"query", "expected": entry id or None (out of scope), "predicted": the
    cited entry id or None (declined), "action", "confidence", "latency_ms"}``.

    A result answered when ``predicted`` is not None; it is correct when it answered the
    expected entry (``faq:`` prefixes are ignored on both sides), or declined a query with
    no expected entry. Metrics are those of ``connectors.evaluate.metrics``.

    The threshold curve asks, for thresholds t in [0, 1]: had the bot also declined every
    answer with confidence < t, what would in-scope accuracy and OOS recall be? It can only
    add declines, so OOS recall never falls and in-scope accuracy never rises as t rises.
    The operating point is ``threshold`` when given, else the lowest confidence the bot
    answered with (``operating_point.source`` says which).
    """
    queries: list[str] = []
    expected: list[str | None] = []
    predicted: list[str | None] = []
    actions: list[str] = []
    confidence: list[float] = []
    latencies: list[float] = []
    for result in results:
        queries.append(str(result.get("query", "")))
        expected.append(_entry(result.get("expected")))
        predicted.append(_entry(result.get("predicted")))
        actions.append(str(result.get("action") or "unknown"))
        confidence.append(_float(result.get("confidence")) or 0.0)
        ms = _float(result.get("latency_ms"))
        if ms is not None:
            latencies.append(ms)
    n = len(queries)
    oos = np.array([e is None for e in expected], dtype=bool)
    declined = np.array([p is None for p in predicted], dtype=bool)
    match = np.array(
        [e is not None and e == p for e, p in zip(expected, predicted, strict=True)], dtype=bool
    )
    correct = np.where(oos, declined, match)
    conf = np.array(confidence, dtype=np.float64)

    confusions: dict[tuple[str, str], list[Any]] = {}
    for i in range(n):
        e, p = expected[i], predicted[i]
        if e is not None and p is not None and e != p:
            entry = confusions.setdefault((e, p), [0, []])
            entry[0] += 1
            if len(entry[1]) < max_examples and queries[i] not in entry[1]:
                entry[1].append(queries[i])
    ranked = sorted(confusions.items(), key=lambda item: (-item[1][0], item[0]))

    def error(i: int) -> dict[str, Any]:
        return {
            "query": queries[i],
            "expected": expected[i],
            "predicted": predicted[i],
            "action": actions[i],
            "confidence": _r(confidence[i], 4),
        }

    by_confidence = sorted(range(n), key=lambda i: (-confidence[i], i))
    oos_answered = [i for i in by_confidence if oos[i] and not declined[i]]
    in_scope_declined = [i for i in by_confidence if not oos[i] and declined[i]]

    answered_conf = conf[~declined]
    if threshold is not None:
        point_t, source = float(threshold), "given"
    elif len(answered_conf):
        point_t, source = float(answered_conf.min()), "inferred"
    else:
        point_t, source = None, None
    current = _eval_metrics(correct, declined, oos)

    curve = []
    for step in range(curve_points):
        t = step / (curve_points - 1) if curve_points > 1 else 0.0
        declined_t = declined | (conf < t)
        correct_t = np.where(oos, declined_t, match & ~declined_t)
        m = _eval_metrics(correct_t, declined_t, oos)
        curve.append(
            {
                "threshold": _r(t, 4),
                "accuracy": m["accuracy"],
                "in_scope_accuracy": m["in_scope_accuracy"],
                "oos_recall": m["oos_recall"],
                "oos_precision": m["oos_precision"],
                "answered_share": m["answered_share"],
            }
        )

    action_counts = Counter(actions)
    order = [a for a in ACTIONS if a in action_counts]
    order += sorted(a for a in action_counts if a not in ACTIONS)
    return {
        "kind": "shopbot.eval",
        "version": SUMMARY_VERSION,
        "n_queries": n,
        "n_in_scope": int((~oos).sum()),
        "n_out_of_scope": int(oos.sum()),
        **current,
        "latency_ms_p50": _r(float(np.percentile(latencies, 50)), 3) if latencies else None,
        "latency_ms_p95": _r(float(np.percentile(latencies, 95)), 3) if latencies else None,
        "actions": {a: action_counts[a] for a in order},
        "confusions": {
            "total": sum(v[0] for v in confusions.values()),
            "pairs": len(confusions),
            "top": [
                {"expected": e, "predicted": p, "count": count, "examples": examples}
                for (e, p), (count, examples) in ranked[:max_confusions]
            ],
        },
        "oos_answered": {
            "count": len(oos_answered),
            "items": [error(i) for i in oos_answered[:max_errors]],
        },
        "in_scope_declined": {
            "count": len(in_scope_declined),
            "items": [error(i) for i in in_scope_declined[:max_errors]],
        },
        "threshold_curve": curve,
        "operating_point": None
        if point_t is None
        else {
            "threshold": _r(point_t, 4),
            "source": source,
            "in_scope_accuracy": current["in_scope_accuracy"],
            "oos_recall": current["oos_recall"],
            "accuracy": current["accuracy"],
        },
    }


# --------------------------------------------------------------------------------------
# writing


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def summary_json(summary: dict[str, Any], *, include_sample: bool = False) -> dict[str, Any]:
    """What ``summary.json`` holds: the summary, with the table's rows only if asked for."""
    if include_sample or "sample" not in summary:
        return summary
    sample = {k: v for k, v in summary["sample"].items() if k != "rows"}
    sample["rows"] = len(summary["sample"].get("rows", []))
    return {**summary, "sample": sample}


def write_report(
    out_dir: Path, summary: dict[str, Any], *, title: str, include_sample: bool = False
) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``report.html`` into ``out_dir``, each atomically.

    ``summary.json`` leaves out the table rows (``sample.rows`` becomes their count) unless
    ``include_sample``; with them it is enough to render the report again.
    """
    out_dir = Path(out_dir)
    json_path, html_path = out_dir / "summary.json", out_dir / "report.html"
    _write_atomic(json_path, _dump(summary_json(summary, include_sample=include_sample)))
    _write_atomic(html_path, render_html(summary, title=title))
    return json_path, html_path


def write_eval_report(out_dir: Path, summary: dict[str, Any], *, title: str) -> tuple[Path, Path]:
    """Write the eval ``summary.json`` and ``report.html`` into ``out_dir``, atomically."""
    out_dir = Path(out_dir)
    json_path, html_path = out_dir / "summary.json", out_dir / "report.html"
    _write_atomic(json_path, _dump(summary))
    _write_atomic(html_path, render_eval_html(summary, title=title))
    return json_path, html_path


# --------------------------------------------------------------------------------------
# HTML


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def _int(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def _dec(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _color(action: str) -> str:
    return ACTION_COLORS.get(action, OTHER_COLOR)


def _label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def _safe_url(url: str | None) -> str | None:
    if not url:
        return None
    lowered = url.strip().lower()
    return url.strip() if lowered.startswith(("https://", "http://")) else None


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * exponent >= value:
            return step * exponent
    return 10 * exponent


_CSS = """
:root{color-scheme:light;--fg:#1d2733;--muted:#5f6b7a;--line:#dde3ea;--bg:#f6f8fa;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
 "Noto Sans","PingFang SC","Microsoft YaHei",sans-serif;color:var(--fg);background:var(--bg)}
header{padding:24px 32px 8px}
h1{margin:0 0 4px;font-size:24px}
h2{margin:0 0 12px;font-size:18px}
h3{margin:0 0 8px;font-size:15px}
main{padding:8px 32px 40px;max-width:1400px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 20px;
 margin:0 0 20px}
.sub,.muted,figcaption,.note{color:var(--muted)}
.note{font-size:13px;margin:6px 0 0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px;
 background:none;border:0;padding:0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.card .v{font-size:24px;font-weight:600}
.card .k{color:var(--muted);font-size:13px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:20px}
figure{margin:0}
figcaption{font-size:13px;margin-top:4px}
svg{max-width:100%;height:auto;display:block}
svg text{font-size:12px;fill:#33404d}
svg .axis{stroke:#9aa5b1;stroke-width:1}
svg .grid{stroke:#e6eaef;stroke-width:1}
table{border-collapse:collapse;width:100%;font-size:13.5px}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f0f3f6;position:sticky;top:0}
td.num,th.num{text-align:right;white-space:nowrap}
.wrap{max-height:80vh;overflow:auto;border:1px solid var(--line);border-radius:6px}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;
 white-space:nowrap}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:13px;margin:4px 0 8px}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;
 vertical-align:-1px}
.src{display:block;font-size:12.5px;margin-top:3px}
.txt{white-space:pre-wrap;overflow-wrap:anywhere}
.none{color:var(--muted);font-style:italic}
.conv-start td{border-top:2px solid #b8c2cc}
ol.gaps{padding-left:22px;margin:0}
ol.gaps>li{margin:0 0 12px}
ol.gaps ul{margin:4px 0 0;padding-left:18px;color:var(--muted)}
td ul{margin:0;padding-left:16px}
.bar{display:inline-block;height:9px;background:#c62828;border-radius:2px;vertical-align:1px;
 margin-right:8px}
.filters{display:flex;gap:10px;align-items:center;margin:0 0 10px;flex-wrap:wrap}
.filters input{font:inherit;padding:5px 8px;min-width:280px;border:1px solid #b8c2cc;
 border-radius:5px}
.filters select{font:inherit;padding:5px 8px;border:1px solid #b8c2cc;border-radius:5px}
details{margin-top:10px}
summary{cursor:pointer;color:var(--muted)}
""" + "".join(
    f".a-{a}{{background:{c}}}\n" for a, c in (*ACTION_COLORS.items(), ("other", OTHER_COLOR))
)

_FILTER_JS = """
(function () {
  var box = document.getElementById("filters");
  var q = document.getElementById("filter-text");
  var act = document.getElementById("filter-action");
  var shown = document.getElementById("filter-shown");
  var table = document.getElementById("conversations");
  if (!box || !q || !act || !shown || !table) { return; }
  var rows = table.tBodies[0] ? table.tBodies[0].rows : [];
  box.hidden = false;
  function apply() {
    var text = q.value.toLowerCase(), action = act.value, count = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var ok = (!action || row.getAttribute("data-action") === action) &&
        (!text || row.textContent.toLowerCase().indexOf(text) !== -1);
      row.hidden = !ok;
      if (ok) { count++; }
    }
    shown.textContent = String(count);
  }
  q.addEventListener("input", apply);
  act.addEventListener("change", apply);
})();
"""


def _page(title: str, subtitle: str, body: str, script: str = "") -> str:
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        '<link rel="icon" href="data:,">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f'<header><h1>{_e(title)}</h1><p class="sub">{subtitle}</p></header>',
        "<main>",
        body,
        "</main>",
    ]
    if script:
        parts.append(f"<script>{script}</script>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _cards(items: list[tuple[str, str, str]]) -> str:
    """Headline cards: (value, label, tooltip)."""
    cards = "".join(
        f'<div class="card" title="{_e(tip)}"><div class="v">{_e(value)}</div>'
        f'<div class="k">{_e(label)}</div></div>'
        for value, label, tip in items
    )
    return f'<section class="cards" aria-label="headline figures">{cards}</section>'


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def _svg_open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{_e(title)}">'
        f"<title>{_e(title)}</title>"
    )


def _svg_empty(title: str, width: int = 640) -> str:
    return (
        _svg_open(width, 60, title)
        + f'<text x="{width / 2:.0f}" y="34" text-anchor="middle">no data</text></svg>'
    )


def _svg_hbars(
    items: list[tuple[str, float, str, str]],
    *,
    title: str,
    width: int = 640,
    scale: float | None = None,
) -> str:
    """Horizontal bars: (label, value, colour, note after the bar); ``scale`` is full width."""
    if not items:
        return _svg_empty(title, width)
    row, top, left, right = 28, 6, 150, 130
    height = top * 2 + row * len(items)
    top_value = scale or max(v for _, v, _, _ in items) or 1.0
    span = width - left - right
    out = [_svg_open(width, height, title)]
    out.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{height - top}"/>')
    for i, (label, value, color, note) in enumerate(items):
        y = top + i * row
        w = span * value / top_value
        out.append(
            f'<text x="{left - 8}" y="{y + row / 2:.1f}" dy=".35em" text-anchor="end">'
            f"{_e(_shorten(label, 22))}</text>"
            f'<rect x="{left}" y="{y + 5}" width="{w:.1f}" height="{row - 10}" rx="3" '
            f'fill="{color}"><title>{_e(label)}: {_e(note)}</title></rect>'
            f'<text x="{left + w + 6:.1f}" y="{y + row / 2:.1f}" dy=".35em">{_e(note)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _svg_columns(
    labels: list[str],
    counts: list[int],
    *,
    title: str,
    color: str,
    markers: Sequence[tuple[float, str]] = (),
    width: int = 640,
    x_title: str = "",
) -> str:
    """A histogram: one column per bin; markers at fractional bin positions."""
    if not counts or not sum(counts):
        return _svg_empty(title, width)
    left, right, top, bottom = 48, 12, 22, 52 if x_title else 38
    height = 230
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max(counts))
    slot = plot_w / len(counts)
    out = [_svg_open(width, height, title)]
    for k in range(5):
        value = top_value * k / 4
        y = top + plot_h - plot_h * k / 4
        out.append(
            f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}"/>'
            f'<text x="{left - 6}" y="{y:.1f}" dy=".35em" text-anchor="end">'
            f"{_e(f'{value:,.0f}' if top_value >= 4 else f'{value:g}')}</text>"
        )
    every = max(1, math.ceil(len(labels) / 12))
    for i, (label, count) in enumerate(zip(labels, counts, strict=True)):
        x = left + i * slot
        h = plot_h * count / top_value
        out.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(slot - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="{color}"><title>{_e(label)}: {count:,}</title></rect>'
        )
        if i % every == 0:
            out.append(
                f'<text x="{x + slot / 2:.1f}" y="{top + plot_h + 15}" text-anchor="middle">'
                f"{_e(label)}</text>"
            )
    out.append(
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
        f'y2="{top + plot_h}"/>'
    )
    for k, (position, label) in enumerate(markers):
        x = left + position * slot
        # labels alternate sides of their line, so two close markers stay readable
        side = f'x="{x + 3:.1f}"' if k % 2 else f'x="{x - 3:.1f}" text-anchor="end"'
        out.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{top + plot_h}" '
            f'stroke="#263238" stroke-width="1.5" stroke-dasharray="4 3"/>'
            f'<text {side} y="{top - 8}">{_e(label)}</text>'
        )
    if x_title:
        out.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">'
            f"{_e(x_title)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _svg_stacked(
    rows: list[tuple[str, dict[str, int], str]], order: list[str], *, title: str, width: int = 720
) -> str:
    """100% stacked horizontal bars: (label, counts by action, note)."""
    if not rows:
        return _svg_empty(title, width)
    row, top, left, right = 26, 6, 170, 190
    height = top * 2 + row * len(rows)
    span = width - left - right
    out = [_svg_open(width, height, title)]
    for i, (label, counts, note) in enumerate(rows):
        y = top + i * row
        total = sum(counts.values())
        out.append(
            f'<text x="{left - 8}" y="{y + row / 2:.1f}" dy=".35em" text-anchor="end">'
            f"<title>{_e(label)}</title>{_e(_shorten(label, 24))}</text>"
        )
        x = float(left)
        for action in order:
            count = counts.get(action, 0)
            if not count or not total:
                continue
            w = span * count / total
            out.append(
                f'<rect x="{x:.2f}" y="{y + 4}" width="{w:.2f}" height="{row - 8}" '
                f'fill="{_color(action)}"><title>{_e(label)} · {_e(_label(action))}: '
                f"{count:,} ({_e(_pct(count / total))})</title></rect>"
            )
            x += w
        out.append(
            f'<text x="{left + span + 8}" y="{y + row / 2:.1f}" dy=".35em">{_e(note)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _svg_lines(
    series: list[tuple[str, str, list[tuple[float, float]], str]],
    *,
    title: str,
    marker_x: float | None = None,
    marker_points: Sequence[tuple[float, str]] = (),
    width: int = 640,
    x_title: str = "",
) -> str:
    """Lines on [0,1] x [0,1]: (name, colour, points, dash)."""
    if not any(points for _, _, points, _ in series):
        return _svg_empty(title, width)
    left, right, top, bottom = 44, 16, 14, 44
    height = 300
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + plot_w * x

    def py(y: float) -> float:
        return top + plot_h * (1 - y)

    out = [_svg_open(width, height, title)]
    for k in range(5):
        v = k / 4
        out.append(
            f'<line class="grid" x1="{left}" y1="{py(v):.1f}" x2="{width - right}" '
            f'y2="{py(v):.1f}"/><text x="{left - 6}" y="{py(v):.1f}" dy=".35em" '
            f'text-anchor="end">{v:g}</text>'
            f'<text x="{px(v):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{v:g}</text>'
        )
    out.append(
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
        f'y2="{top + plot_h}"/><line class="axis" x1="{left}" y1="{top}" x2="{left}" '
        f'y2="{top + plot_h}"/>'
    )
    for name, color, points, dash in series:
        if not points:
            continue
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dashed}>'
            f"<title>{_e(name)}</title></polyline>"
        )
    if marker_x is not None:
        x = px(min(max(marker_x, 0.0), 1.0))
        out.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#263238" '
            f'stroke-width="1.5" stroke-dasharray="4 3"/>'
            f'<text x="{x + 4:.1f}" y="{top + 12}">current threshold {marker_x:.2f}</text>'
        )
        for y, color in marker_points:
            out.append(
                f'<circle cx="{x:.1f}" cy="{py(y):.1f}" r="5" fill="{color}" stroke="#fff" '
                f'stroke-width="1.5"><title>{y:.3f}</title></circle>'
            )
    if x_title:
        out.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">'
            f"{_e(x_title)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _legend(items: list[tuple[str, str]]) -> str:
    spans = "".join(f'<span><span class="sw {cls}"></span>{_e(text)}</span>' for cls, text in items)
    return f'<div class="legend">{spans}</div>'


def _action_legend(order: list[str]) -> str:
    return _legend([(f"a-{a}" if a in ACTION_COLORS else "a-other", _label(a)) for a in order])


def _pill(action: str) -> str:
    cls = f"a-{action}" if action in ACTION_COLORS else "a-other"
    return f'<span class="pill {cls}">{_e(_label(action))}</span>'


def _latency_label(low: float | None, high: float | None) -> str:
    def fmt(v: float) -> str:
        return f"{v / 1000:g}s" if v >= 1000 else f"{v:g}"

    if high is None:
        return f"≥{fmt(low or 0)}"
    return f"{fmt(low or 0)}–{fmt(high)}"


def _bin_position(edges: list[float | None], value: float | None) -> float | None:
    """Where ``value`` falls in bin units (bin i spans [i, i+1]), for chart markers."""
    if value is None:
        return None
    for i in range(len(edges) - 1):
        low, high = edges[i], edges[i + 1]
        if high is None:
            return i + 0.5
        if value < high or i == len(edges) - 2:
            low = low if low is not None else 0.0
            frac = (value - low) / (high - low) if high > low else 0.0
            return i + min(max(frac, 0.0), 1.0)
    return None


def render_html(summary: dict[str, Any], *, title: str) -> str:
    """The replay report as one self-contained HTML page (inline CSS, SVG; JS optional)."""
    actions: dict[str, dict[str, Any]] = summary.get("actions", {})
    order = list(actions)
    turns = summary.get("turns", 0)
    latency = summary.get("latency_ms", {})
    agreement = summary.get("agreement", {})
    handled = summary.get("handled", {})
    contained = summary.get("conversations_contained", {})
    fully = summary.get("conversations_fully_handled", {})

    def share_of(action: str) -> float | None:
        return actions.get(action, {}).get("share")

    cards = _cards(
        [
            (_int(summary.get("conversations")), "conversations", ""),
            (_int(turns), "customer turns", "one record per customer turn"),
            (_pct(handled.get("share")), "handled by the bot", "answered from FAQ or generated"),
            (_pct(share_of("answer_faq")), "answered from FAQ", ""),
            (_pct(share_of("generate")), "generated", ""),
            (_pct(share_of("clarify")), "clarifying question", ""),
            (_pct(share_of("dont_know")), "don't know", ""),
            (_pct(share_of("handoff")), "handed off", "includes silent turns"),
            (
                _pct(contained.get("share")),
                "conversations without handoff",
                "no turn of the conversation was handed off",
            ),
            (
                _pct(fully.get("share")),
                "conversations fully handled",
                "every turn answered from FAQ or generated",
            ),
            (_ms(latency.get("p50")), "latency p50", ""),
            (_ms(latency.get("p95")), "latency p95", f"max {_ms(latency.get('max'))}"),
            (_dec(agreement.get("mean")), "agreement with agents (mean)", "cosine similarity"),
        ]
    )

    mix = _svg_hbars(
        [
            (
                _label(a),
                float(actions[a]["count"]),
                _color(a),
                f"{actions[a]['count']:,} ({_pct(actions[a]['share'])})",
            )
            for a in order
        ]
        if turns
        else [],
        title="action mix",
    )
    lat_hist = latency.get("histogram", {"edges": [], "counts": []})
    lat_edges = lat_hist["edges"]
    lat_labels = [_latency_label(lat_edges[i], lat_edges[i + 1]) for i in range(len(lat_edges) - 1)]
    lat_markers = [
        (pos, label)
        for pos, label in (
            (_bin_position(lat_edges, latency.get("p50")), "p50"),
            (_bin_position(lat_edges, latency.get("p95")), "p95"),
        )
        if pos is not None
    ]
    lat_svg = _svg_columns(
        lat_labels,
        lat_hist["counts"],
        title="latency histogram",
        color="#1565c0",
        markers=lat_markers,
        x_title="milliseconds (bins widen to the right)",
    )
    agr_hist = agreement.get("histogram", {"edges": [], "counts": []})
    agr_edges = agr_hist["edges"]
    agr_labels = [
        "<0" if agr_edges[i] < 0 else f"{agr_edges[i]:.2f}" for i in range(len(agr_edges) - 1)
    ]
    agr_markers = [
        (pos, label)
        for pos, label in (
            (_bin_position(agr_edges, agreement.get("mean")), "mean"),
            (_bin_position(agr_edges, agreement.get("median")), "median"),
        )
        if pos is not None
    ]
    agr_svg = _svg_columns(
        agr_labels,
        agr_hist["counts"],
        title="agreement distribution",
        color="#00897b",
        markers=agr_markers,
        x_title="cosine similarity of bot and agent replies (bin start)",
    )
    by_action = agreement.get("by_action", {})
    agr_note = ", ".join(
        f"{_label(a)} {_dec(v['mean'])} (n={v['n']:,})" for a, v in by_action.items()
    )
    lat_note = ", ".join(
        f"{_label(a)} p50 {_ms(v['p50'])}" for a, v in latency.get("by_action", {}).items()
    )
    charts = (
        '<section><h2>What the bot did</h2><div class="grid">'
        + _figure(
            mix,
            f"Share of {_int(turns)} customer turns by the bot's action. "
            f"{_int(summary.get('silent_turns'))} handoff turns were silent "
            "(a human already had the conversation).",
        )
        + _figure(
            lat_svg,
            f"Latency: p50 {_e(_ms(latency.get('p50')))}, p95 {_e(_ms(latency.get('p95')))}, "
            f"max {_e(_ms(latency.get('max')))}"
            + ("" if latency.get("exact", True) else " (percentiles from 1% bins)")
            + (f". {_e(lat_note)}" if lat_note else ""),
        )
        + "</div></section>"
        + '<section><h2>Agreement with the human agents</h2><div class="grid">'
        + _figure(
            agr_svg,
            f"{_int(agreement.get('n'))} turns with both a bot and an agent reply: "
            f"mean {_dec(agreement.get('mean'))}, median {_dec(agreement.get('median'))}. "
            f"{_int(summary.get('turns_without_agent'))} turns had no agent reply."
            + (f" By action: {_e(agr_note)}." if agr_note else ""),
        )
        + _figure(
            _svg_hbars(
                [
                    (_label(a), max(v["mean"] or 0.0, 0.0), _color(a), f"{_dec(v['mean'])}")
                    for a, v in by_action.items()
                ],
                title="mean agreement by action",
                scale=1.0,
            ),
            "Mean agreement with the agent's reply by the bot's action (full width: 1).",
        )
        + "</div></section>"
    )
    return _page(
        title,
        f"Replay of {_int(summary.get('conversations'))} conversations, {_int(turns)} "
        "customer turns through the bot.",
        cards
        + charts
        + _groups_html(summary.get("groups") or {}, order)
        + _gaps_html(summary.get("gaps"))
        + _table_html(summary.get("sample") or {}, order),
        _FILTER_JS,
    )


def _groups_html(groups: dict[str, Any], order: list[str]) -> str:
    rows = groups.get("rows") or []
    if not groups.get("key") or not rows:
        return (
            "<section><h2>By group</h2><p class='muted'>No grouping key: the records carry "
            "no suitable <code>meta</code> field.</p></section>"
        )
    key = groups["key"]
    svg = _svg_stacked(
        [
            (
                r["name"],
                r["actions"],
                f"{r['turns']:,} turns · agr {_dec(r.get('agreement_mean'))}",
            )
            for r in rows
        ],
        order,
        title=f"action mix by {key}",
    )
    head = "".join(f'<th class="num">{_e(_label(a))}</th>' for a in order)
    body = "".join(
        f"<tr><td>{_e(r['name'])}</td><td class='num'>{r['turns']:,}</td>"
        f"<td class='num'>{r['conversations']:,}</td>"
        f"<td class='num'>{_pct(r.get('handled_share'))}</td>"
        f"<td class='num'>{_dec(r.get('agreement_mean'))}</td>"
        + "".join(f"<td class='num'>{r['actions'].get(a, 0):,}</td>" for a in order)
        + "</tr>"
        for r in rows
    )
    shown = len(rows) - (1 if rows and rows[-1].get("other") else 0)
    more = groups.get("total_groups", 0) - shown
    return (
        f"<section><h2>By {_e(key)}</h2>"
        + _action_legend(order)
        + _figure(
            svg,
            f"Action mix per {_e(key)} ({'picked automatically: ' if groups.get('auto') else ''}"
            f"the biggest {shown:,} by turns"
            + (f"; {more:,} more under “other”" if more > 0 else "")
            + "); on the right, turns and mean agreement with the agents.",
        )
        + "<details><summary>numbers</summary><div class='wrap'><table><thead><tr>"
        f"<th>{_e(key)}</th><th class='num'>turns</th><th class='num'>conversations</th>"
        "<th class='num'>handled</th><th class='num'>agreement</th>"
        + head
        + f"</tr></thead><tbody>{body}</tbody></table></div></details></section>"
    )


def _gaps_html(gaps: dict[str, Any] | None) -> str:
    if gaps is None:
        return ""
    top = gaps.get("top") or []
    if not top:
        return (
            "<section><h2>Knowledge gaps</h2><p class='muted'>No unanswered questions.</p>"
            "</section>"
        )
    biggest = max(c["size"] for c in top) or 1
    items = []
    for cluster in top:
        examples = "".join(f"<li class='txt'>{_e(x)}</li>" for x in cluster.get("examples", []))
        items.append(
            f"<li><span class='bar' style='width:{max(4, 160 * cluster['size'] / biggest):.0f}px'>"
            f"</span><strong>{cluster['size']:,}×</strong> "
            f"<span class='txt'>{_e(cluster['representative'])}</span>"
            + (f"<ul>{examples}</ul>" if examples else "")
            + "</li>"
        )
    shown = len(top)
    return (
        "<section><h2>Knowledge gaps</h2>"
        f"<p class='muted'>{gaps.get('questions', 0):,} questions the bot could not answer, in "
        f"{gaps.get('clusters', 0):,} clusters of similar questions"
        + (f" (the biggest {shown:,} shown)" if shown < gaps.get("clusters", 0) else "")
        + ", biggest first, each with the question closest to its centre and other examples."
        "</p><ol class='gaps'>" + "".join(items) + "</ol></section>"
    )


def _citations_html(citations: list[dict[str, Any]]) -> str:
    out = []
    for c in citations:
        label = f"[{c.get('n')}] " if c.get("n") is not None else ""
        name = c.get("title") or c.get("doc_id") or "source"
        url = _safe_url(c.get("url"))
        tip = f' title="{_e(c.get("doc_id"))}"' if c.get("doc_id") else ""
        if url:
            out.append(
                f'<a class="src" href="{_e(url)}" rel="noopener noreferrer"{tip}>'
                f"{_e(label)}{_e(name)}</a>"
            )
        else:
            out.append(f'<span class="src"{tip}>{_e(label)}{_e(name)}</span>')
    return "".join(out)


def _table_html(sample: dict[str, Any], order: list[str]) -> str:
    rows = sample.get("rows") or []
    if not isinstance(rows, list) or not rows:
        return (
            "<section><h2>Conversations</h2><p class='muted'>No rows in this summary.</p></section>"
        )
    options = "".join(f'<option value="{_e(a)}">{_e(_label(a))}</option>' for a in order)
    body = []
    previous = None
    for r in rows:
        start = r["conversation_id"] != previous
        previous = r["conversation_id"]
        bot_text = r.get("bot_text") or ""
        bot_cell = (
            f"<span class='txt'>{_e(bot_text)}</span>"
            if bot_text
            else "<span class='none'>(silent)</span>"
        )
        agent = r.get("agent")
        agent_cell = (
            "<span class='none'>(no agent reply)</span>"
            if agent is None
            else f"<span class='txt'>{_e(agent)}</span>"
        )
        turn = "" if r.get("turn") is None else f" · {r['turn']}"
        body.append(
            f'<tr data-action="{_e(r["action"])}"'
            + (' class="conv-start"' if start else "")
            + f"><td class='txt'>{_e(r['conversation_id'])}{_e(turn)}</td>"
            f"<td class='txt'>{_e(r.get('customer'))}</td>"
            f"<td>{bot_cell}{_citations_html(r.get('citations') or [])}</td>"
            f"<td>{_pill(r['action'])}</td>"
            f"<td class='num'>{_dec(r.get('confidence'))}</td>"
            f"<td>{agent_cell}</td>"
            f"<td class='num'>{_dec(r.get('agreement'))}</td></tr>"
        )
    limit = sample.get("limit_conversations")
    note = (
        f"Every turn of the first {sample.get('conversations', 0):,} conversations"
        + (f" (at most {limit:,})" if limit else "")
        + (
            f"; {sample['rows_dropped']:,} further turns left out"
            if sample.get("rows_dropped")
            else ""
        )
        + "."
    )
    return (
        "<section><h2>Conversations</h2>"
        f"<p class='muted'>{note}</p>"
        '<div class="filters" id="filters" hidden>'
        '<label>Filter <input id="filter-text" type="search" '
        'placeholder="text in any column"></label>'
        '<label>Action <select id="filter-action"><option value="">all</option>'
        f"{options}</select></label>"
        f'<span class="muted"><span id="filter-shown">{len(rows):,}</span> of {len(rows):,} '
        "turns</span></div>"
        '<div class="wrap"><table id="conversations"><thead><tr>'
        "<th>conversation · turn</th><th>customer</th><th>bot (sources)</th><th>action</th>"
        "<th class='num'>confidence</th><th>agent</th><th class='num'>agreement</th>"
        "</tr></thead><tbody>" + "".join(body) + "</tbody></table></div></section>"
    )


def render_eval_html(summary: dict[str, Any], *, title: str) -> str:
    """The eval report as one self-contained HTML page."""
    n = summary.get("n_queries", 0)
    point = summary.get("operating_point")
    cards = _cards(
        [
            (_int(n), "queries", f"{summary.get('n_out_of_scope', 0):,} out of scope"),
            (_pct(summary.get("accuracy")), "accuracy", "right entry, or declined when OOS"),
            (_pct(summary.get("in_scope_accuracy")), "in-scope accuracy", ""),
            (_pct(summary.get("oos_recall")), "OOS recall", "out-of-scope queries declined"),
            (_pct(summary.get("oos_precision")), "OOS precision", "declines that were OOS"),
            (_dec(summary.get("mcc"), 3), "MCC", "decline vs out of scope"),
            (_pct(summary.get("answered_share")), "answered", ""),
            (_ms(summary.get("latency_ms_p50")), "latency p50", ""),
        ]
    )
    curve = summary.get("threshold_curve") or []

    def points(key: str) -> list[tuple[float, float]]:
        return [(c["threshold"], c[key]) for c in curve if c.get(key) is not None]

    series = [
        ("in-scope accuracy", "#1565c0", points("in_scope_accuracy"), ""),
        ("OOS recall", "#c62828", points("oos_recall"), ""),
        ("answered share", "#78909c", points("answered_share"), "5 4"),
    ]
    marks = []
    if point:
        marks = [
            (point[k], color)
            for k, color in (("in_scope_accuracy", "#1565c0"), ("oos_recall", "#c62828"))
            if point.get(k) is not None
        ]
    curve_svg = _svg_lines(
        series,
        title="threshold curve",
        marker_x=point["threshold"] if point else None,
        marker_points=marks,
        x_title="decline when confidence is below",
    )
    caption = (
        "If the bot also declined every answer below a confidence threshold: in-scope "
        "accuracy falls and OOS recall rises as the threshold rises. "
        + (
            f"The dashed line marks the current operating point ({point['threshold']:.2f}, "
            f"{'given' if point['source'] == 'given' else 'the lowest confidence answered'})."
            if point
            else "The bot answered nothing, so there is no operating point."
        )
    )
    acts = summary.get("actions") or {}
    mix = _svg_hbars(
        [
            (_label(a), float(c), _color(a), f"{c:,} ({_pct(c / n if n else None)})")
            for a, c in acts.items()
        ],
        title="action mix",
    )
    charts = (
        '<section><h2>Threshold and actions</h2><div class="grid">'
        + _figure(
            _legend(
                [
                    ("a-generate", "in-scope accuracy"),
                    ("a-dont_know", "OOS recall"),
                    ("a-other", "answered share"),
                ]
            )
            + curve_svg,
            _e(caption),
        )
        + _figure(mix, "Actions over all queries.")
        + "</div></section>"
    )
    conf = summary.get("confusions") or {}
    top = conf.get("top") or []
    if top:
        biggest = max(c["count"] for c in top)
        rows = "".join(
            f"<tr><td class='txt'>{_e(c['expected'])}</td><td class='txt'>{_e(c['predicted'])}"
            f"</td><td class='num'><span class='bar' style='width:"
            f"{max(4, 80 * c['count'] / biggest):.0f}px'></span>{c['count']:,}</td>"
            + "<td><ul>"
            + "".join(f'<li class="txt">{_e(x)}</li>' for x in c["examples"])
            + "</ul></td></tr>"
            for c in top
        )
        confusion_html = (
            f"<p class='muted'>{conf.get('total', 0):,} in-scope queries answered with another "
            f"entry, in {conf.get('pairs', 0):,} expected → predicted pairs; the most frequent:"
            "</p><div class='wrap'><table><thead><tr><th>expected</th><th>predicted</th>"
            f"<th class='num'>count</th><th>examples</th></tr></thead><tbody>{rows}</tbody>"
            "</table></div>"
        )
    else:
        confusion_html = "<p class='muted'>No in-scope query was answered with another entry.</p>"

    def error_table(section: dict[str, Any], entry: str, heading: str, empty: str) -> str:
        items = section.get("items") or []
        if not items:
            return f"<h3>{_e(heading)}</h3><p class='muted'>{_e(empty)}</p>"
        rows = "".join(
            f"<tr><td class='txt'>{_e(i['query'])}</td><td class='txt'>{_e(i.get(entry))}</td>"
            f"<td>{_pill(i['action'])}</td><td class='num'>{_dec(i.get('confidence'))}</td></tr>"
            for i in items
        )
        more = section.get("count", 0) - len(items)
        return (
            f"<h3>{_e(heading)} ({section.get('count', 0):,})</h3>"
            + "<div class='wrap'><table><thead><tr><th>query</th>"
            f"<th>{'entry given' if entry == 'predicted' else 'expected entry'}</th>"
            "<th>action</th><th class='num'>confidence</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
            + (f"<p class='note'>{more:,} more not shown.</p>" if more > 0 else "")
        )

    errors = (
        "<section><h2>Out-of-scope errors</h2><div class='grid'><div>"
        + error_table(
            summary.get("oos_answered") or {},
            "predicted",
            "Out-of-scope queries answered",
            "None: every out-of-scope query was declined.",
        )
        + "</div><div>"
        + error_table(
            summary.get("in_scope_declined") or {},
            "expected",
            "In-scope queries declined",
            "None: every in-scope query was answered.",
        )
        + "</div></div><p class='note'>Most confident first.</p></section>"
    )
    return _page(
        title,
        f"{_int(n)} labelled queries: {summary.get('n_in_scope', 0):,} in scope, "
        f"{summary.get('n_out_of_scope', 0):,} out of scope.",
        cards + charts + f"<section><h2>Confusions</h2>{confusion_html}</section>" + errors,
    )


def eval_report_html(
    results: Iterable[dict[str, Any]], *, title: str, threshold: float | None = None
) -> str:
    """``render_eval_html(summarize_eval(results, threshold=threshold), title=title)``."""
    return render_eval_html(summarize_eval(results, threshold=threshold), title=title)
