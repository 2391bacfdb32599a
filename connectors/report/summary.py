"""The replay summary: one pass over ``replies.jsonl`` into counters, histograms and a
bounded sample of rows."""

from __future__ import annotations

import json
import math
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.report.common import (
    ACTIONS,
    AGREEMENT_EDGES,
    AGREEMENT_FINE,
    HANDLED,
    LATENCY_EDGES_MS,
    LATENCY_FINE,
    NONE_GROUP,
    SUMMARY_VERSION,
    StreamingQuantiles,
    display_bin,
    fraction,
    rounded,
)
from connectors.report.gaps import GapCluster, asks_for_person


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
            "handled_share": fraction(handled, self.turns),
            "agreement_mean": rounded(self.agreement_sum / self.agreement_n)
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


def as_float(value: Any) -> float | None:
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
    turns = silent = without_agent = asked_for_person = 0
    conversations = contained = fully_handled = 0
    latency = StreamingQuantiles(LATENCY_FINE, exact_limit)
    latency_hist = [0] * (len(LATENCY_EDGES_MS) - 1)
    latency_by_action: dict[str, StreamingQuantiles] = {}
    agreement = StreamingQuantiles(AGREEMENT_FINE, exact_limit)
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
        asked_for_person += asks_for_person(record)

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

        ms = as_float(bot.get("latency_ms"))
        if ms is not None:
            latency.add(ms)
            latency_hist[display_bin(LATENCY_EDGES_MS, ms)] += 1
            per_action = latency_by_action.get(action)
            if per_action is None:
                per_action = latency_by_action[action] = StreamingQuantiles(
                    LATENCY_FINE, exact_limit
                )
            per_action.add(ms)
        score = as_float(record.get("agreement"))
        if score is not None:
            score = min(max(score, -1.0), 1.0)
            agreement.add(score)
            agreement_hist[display_bin(AGREEMENT_EDGES, score)] += 1
            acc = agreement_by_action.setdefault(action, [0.0, 0])
            acc[0] += score
            acc[1] += 1
        confidence = as_float(bot.get("confidence"))
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
                        "confidence": rounded(confidence, 4),
                        "latency_ms": rounded(ms, 3),
                        "agreement": rounded(score, 4),
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
        "turns_per_conversation": rounded(turns / conversations, 3) if conversations else None,
        "actions": {
            a: {"count": actions[a], "share": fraction(actions[a], turns)}
            for a in order
            if a in ACTIONS or actions[a]
        },
        "handled": {"count": handled, "share": fraction(handled, turns)},
        "silent_turns": silent,
        # turns where the customer asked for a person: handoffs by choice, not knowledge gaps
        "asked_for_person": {"count": asked_for_person, "share": fraction(asked_for_person, turns)},
        "turns_without_agent": without_agent,
        "conversations_contained": {
            "count": contained,
            "share": fraction(contained, conversations),
        },
        "conversations_fully_handled": {
            "count": fully_handled,
            "share": fraction(fully_handled, conversations),
        },
        "confidence_mean": rounded(confidence_sum / confidence_n, 4) if confidence_n else None,
        "latency_ms": {
            "n": latency.n,
            "p50": rounded(latency.quantile(0.5), 3),
            "p95": rounded(latency.quantile(0.95), 3),
            "max": rounded(latency.max, 3) if latency.n else None,
            "mean": rounded(latency.mean, 3),
            "exact": latency.exact,
            "histogram": {"edges": list(LATENCY_EDGES_MS), "counts": latency_hist},
            "by_action": {
                a: {
                    "n": latency_by_action[a].n,
                    "p50": rounded(latency_by_action[a].quantile(0.5), 3),
                    "p95": rounded(latency_by_action[a].quantile(0.95), 3),
                }
                for a in order
                if a in latency_by_action
            },
        },
        "agreement": {
            "n": agreement.n,
            "mean": rounded(agreement.mean, 4),
            "median": rounded(agreement.quantile(0.5), 4),
            "exact": agreement.exact,
            "histogram": {"edges": list(AGREEMENT_EDGES), "counts": agreement_hist},
            "by_action": {
                a: {
                    "n": agreement_by_action[a][1],
                    "mean": rounded(agreement_by_action[a][0] / agreement_by_action[a][1], 4),
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
