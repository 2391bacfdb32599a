"""``shopbot eval``: how a bot built from an FAQ file answers a labelled query set.

A query counts correct when the reply answers with the expected entry (its first citation),
or, for a query with no expected entry, when the bot declines (don't know, clarify or
handoff). Nothing is tuned on the queries: the bot is calibrated on the FAQ file alone.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.engine import Bot
from bot.sessions import MemorySessionStore
from bot.types import IncomingMessage
from connectors.config import ShopbotConfig
from knowledge.config import SourceConfig
from knowledge.errors import LoadError
from knowledge.loaders.common import read_text

ANSWERED = ("answer_faq", "generate", "recommend")


@dataclass
class Query:
    text: str
    expected: str | None  # an FAQ id, or None when the bot should decline
    line: int


def load_queries(path: Path) -> list[Query]:
    """``query,expected_id`` CSV; an empty ``expected_id`` means out of scope."""
    text = read_text(path, named_by="the path given to --queries")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "query" not in header or "expected_id" not in header:
        raise LoadError(path, "the header must be query,expected_id", line=1)
    queries = []
    for row in reader:
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        if not row["query"]:
            raise LoadError(path, "empty query", line=reader.line_num)
        queries.append(Query(row["query"], row["expected_id"] or None, reader.line_num))
    if not queries:
        raise LoadError(path, "no queries")
    return queries


def evaluate(
    bot: Bot,
    queries: list[Query],
    *,
    progress: Callable[[int], None] | None = None,
    results: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Answer each query in a session of its own and score the replies.

    ``results``, when given, receives one record per query for the report
    (query, expected, predicted entry or None when the bot declined, action, confidence).
    """
    correct, latencies = [], []
    declined, out_of_scope = [], []
    actions: dict[str, int] = {}
    by_action: dict[str, list[float]] = {}
    for n, query in enumerate(queries):
        started = time.perf_counter()
        reply = bot.reply(IncomingMessage(query.text, session_id=f"eval-{n}", channel="eval"))
        latencies.append((time.perf_counter() - started) * 1000)
        actions[reply.action] = actions.get(reply.action, 0) + 1
        by_action.setdefault(reply.action, []).append(latencies[-1])
        answered = reply.action in ANSWERED and bool(reply.citations)
        if query.expected is None:
            correct.append(not answered)
        else:
            correct.append(answered and reply.citations[0].doc_id == f"faq:{query.expected}")
        declined.append(not answered)
        out_of_scope.append(query.expected is None)
        if results is not None:
            predicted = reply.citations[0].doc_id if answered else None
            results.append(
                {
                    "query": query.text,
                    "expected": query.expected,
                    "predicted": predicted.removeprefix("faq:") if predicted else None,
                    "action": reply.action,
                    "confidence": round(float(reply.confidence), 4),
                    "latency_ms": round(latencies[-1], 3),
                }
            )
        if progress:
            progress(1)
    per_action = {
        action: {
            "n": len(values),
            "latency_ms_p50": float(np.percentile(values, 50)),
            "latency_ms_p95": float(np.percentile(values, 95)),
        }
        for action, values in by_action.items()
    }
    return metrics(correct, declined, out_of_scope, latencies) | {
        "actions": actions,
        "per_action": per_action,
    }


def metrics(
    correct: list[bool], declined: list[bool], out_of_scope: list[bool], latencies: list[float]
) -> dict[str, Any]:
    c, d, o = (np.asarray(x, dtype=bool) for x in (correct, declined, out_of_scope))
    tp = float(np.sum(d & o))  # declined an out-of-scope query
    fp = float(np.sum(d & ~o))
    fn = float(np.sum(~d & o))
    tn = float(np.sum(~d & ~o))
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "accuracy": float(c.mean()),
        "in_scope_accuracy": float(c[~o].mean()) if (~o).any() else None,
        "oos_recall": tp / (tp + fn) if o.any() else None,
        "oos_precision": tp / (tp + fp) if tp + fp else None,
        "mcc": (tp * tn - fp * fn) / denominator if denominator else 0.0,
        "latency_ms_p50": float(np.percentile(latencies, 50)),
        "latency_ms_p95": float(np.percentile(latencies, 95)),
        "n_queries": len(correct),
        "n_out_of_scope": int(o.sum()),
    }


def build_eval_bot(config: ShopbotConfig, faq: Path, workdir: Path | None = None) -> Bot:
    """A bot on a temporary knowledge base holding only ``faq``, otherwise as configured."""
    from connectors.app import build_knowledge

    workdir = workdir or Path(tempfile.mkdtemp(prefix="shopbot-eval-"))
    config = config.model_copy(deep=True)
    config.knowledge.sources = [SourceConfig(type="faq", path=str(faq.resolve()))]
    config.knowledge.index_dir = str(workdir / "index")
    config.embedder.cache_dir = str(config.model_cache_dir)
    kb = build_knowledge(config)
    kb.update()
    return Bot(kb, sessions=MemorySessionStore(), config=config.bot, store_name=config.store.name)
