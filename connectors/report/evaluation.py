"""The eval summary: ``shopbot eval`` results as the report shows them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from connectors.report.common import ACTIONS, SUMMARY_VERSION, rounded
from connectors.report.summary import as_float


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
        "accuracy": rounded(float(correct.mean())) if len(correct) else None,
        "in_scope_accuracy": rounded(float(correct[~oos].mean())) if (~oos).any() else None,
        "oos_recall": rounded(tp / (tp + fn)) if oos.any() else None,
        "oos_precision": rounded(tp / (tp + fp)) if tp + fp else None,
        "mcc": rounded((tp * tn - fp * fn) / denominator) if denominator else 0.0,
        "answered_share": rounded(float((~declined).mean())) if len(declined) else None,
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
        confidence.append(as_float(result.get("confidence")) or 0.0)
        ms = as_float(result.get("latency_ms"))
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
            "confidence": rounded(confidence[i], 4),
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
                "threshold": rounded(t, 4),
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
        "latency_ms_p50": rounded(float(np.percentile(latencies, 50)), 3) if latencies else None,
        "latency_ms_p95": rounded(float(np.percentile(latencies, 95)), 3) if latencies else None,
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
            "threshold": rounded(point_t, 4),
            "source": source,
            "in_scope_accuracy": current["in_scope_accuracy"],
            "oos_recall": current["oos_recall"],
            "accuracy": current["accuracy"],
        },
    }
