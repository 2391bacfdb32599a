"""How sure is retrieval that its top hit answers the question? Calibrated per store.

One similarity threshold tells in-scope from out-of-scope questions poorly, so the confidence
weighs several pieces of evidence: the top hit's dense score and its margin to the next
document, the fused score and its margin, how much of the query the hit's keys share
lexically, how many of an FAQ entry's variants agree, and how much of the query the embedding
model understands. A logistic model over these is fitted on questions taken from the store's
own knowledge, never on test queries:

- leave-one-out: each sampled FAQ variant is held out and asked: an in-scope question (its
  entry is still there), whether or not the top hit is that entry;
- leave-entry-out: a variant is asked with its whole entry removed, so no right answer exists
  (the nearest thing to an in-domain out-of-scope question the store's data can give);
- an entry with a single question (most real FAQ pages) has no second wording to hold out:
  its question is asked with that question's own key removed, so only the entry's answer
  can find it (a conservative stand-in for a customer's rewording);
- for such stores (fewer than MIN_SAMPLES second wordings), also background questions
  (``knowledge/data/background_questions.txt``: everyday off-topic
  messages, the weather, a joke, a recipe, in English and Chinese, written for shopbot and
  the same for every store) are asked against the store: how well its knowledge seems to
  match questions it cannot answer. Leave-entry-out questions alone are harder than most
  real out-of-scope messages, and with answer-matches as the only in-scope side they
  would set the bar above nearly every customer question.

When a store has too few held-out wordings to learn all the features from (one question
per entry), the model uses only the two that transfer from answer-matches to customer
questions: the dense and the fused score of the top hit.

The model learns to tell the first kind from the second: that is the decision the policy
makes (answer, or say it does not know). An in-scope question whose top hit is wrong is
wrong whether the bot answers or declines, so it is not counted as out of scope; whether top
hits are right sets the stricter ``high`` cut instead.

One more piece of evidence is the share of the query's words that appear nowhere in the
store's knowledge ("bitcoin" in a store that never mentions it): in leave-entry-out questions
the words only the removed entry used are unknown in just that way.

The acceptance threshold maximises the Matthews correlation between "accept" and "in scope"
on those questions. Model and threshold are stored with the index.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

FEATURES = (
    "dense",
    "dense_margin",
    "fused",
    "fused_margin",
    "lexical_overlap",
    "support",
    "coverage",
    "unknown_words",
    "rank_agreement",
)
#: bump when the features or the fitting change, so stored calibrations are redone
VERSION = 8
#: the features a store with few held-out wordings is fitted on (see the module docstring)
ROBUST_FEATURES = ("dense", "fused")
#: the same for questions the embedding model does not read, whose dense score is nothing
#: (and whose fused score is the lexical weight itself: BM25 is scaled by the query's best)
LEXICAL_FEATURES = ("lexical_overlap", "fused_margin")
#: model coverage below which a question counts as unread by the embedding model
READABLE = 0.5
BACKGROUND_FILE = Path(__file__).parent / "data" / "background_questions.txt"
MIN_SAMPLES = 40
MAX_HELD_OUT = 1500
MAX_ENTRIES_OUT = 600
#: questions asked per left-out entry: there are far fewer entries than variants, and
#: one question each left the "no right answer" side ten times smaller than the other
ENTRY_QUESTIONS = 3


def hit_features(
    index: Any,
    hits: Sequence[Any],
    tokens: Sequence[str],
    coverage: float,
    *,
    exclude: frozenset[int] = frozenset(),
) -> np.ndarray:
    """The evidence vector for the top hit of one query (zeros when there is no hit).

    ``exclude``: key rows held out of the index for calibration; they must not count.
    """
    if not hits:
        return np.zeros(len(FEATURES), dtype=np.float64)
    top = hits[0]
    second = next((h for h in hits[1:] if h.doc_id != top.doc_id), None)
    query_tokens = set(tokens)
    df = index.token_df
    held_out = Counter(t for row in exclude for t in set(index.key_tokens[row]))
    unknown = sum(1 for t in query_tokens if df.get(t, 0) - held_out.get(t, 0) <= 0)
    overlap = 0.0
    if query_tokens:
        for row in index.key_rows(index.chunk_pos[top.chunk_id]).tolist():
            if row not in exclude:
                shared = len(query_tokens.intersection(index.key_tokens[row]))
                overlap = max(overlap, shared / len(query_tokens))
    return np.array(
        [
            top.dense_score,
            top.dense_score - (second.dense_score if second else 0.0),
            top.score,
            top.score - (second.score if second else 0.0),
            overlap,
            math.log1p(top.support),
            coverage,
            unknown / len(query_tokens) if query_tokens else 0.0,
            # both retrievers put it first (1), or how far down BM25 has it (1/rank, 0 = absent)
            1.0 / top.lexical_rank if top.lexical_rank else 0.0,
        ],
        dtype=np.float64,
    )


class ConfidenceModel:
    """Logistic model over FEATURES plus the acceptance threshold."""

    def __init__(
        self,
        *,
        weights: Sequence[float],
        bias: float,
        mean: Sequence[float],
        scale: Sequence[float],
        threshold: float,
        high: float | None = None,
        low: float | None = None,
        method: str = "leave-one-out",
        stats: dict[str, Any] | None = None,
        unreadable: ConfidenceModel | None = None,
    ) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.bias = float(bias)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.threshold = float(threshold)
        #: above this, answers were right at least 90% of the time in calibration
        self.high = float(high if high is not None else max(threshold, 0.9))
        #: below this, fewer than 10% of in-scope questions fall: not worth a clarifying question
        self.low = float(low if low is not None else threshold / 2)
        self.method = method
        self.stats = stats or {}
        #: the model for questions the embedding model does not read (coverage below
        #: READABLE), when the store was calibrated on lexical evidence for them apart
        self.unreadable = unreadable

    def for_coverage(self, coverage: float) -> ConfidenceModel:
        """The model (and so the cuts) that judges a question of this model coverage."""
        if self.unreadable is not None and coverage < READABLE:
            return self.unreadable
        return self

    def probability(self, features: np.ndarray) -> np.ndarray | float:
        z = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def score(
        self, index: Any, hits: Sequence[Any], tokens: Sequence[str], coverage: float
    ) -> float:
        if not hits:
            return 0.0
        model = self.for_coverage(coverage)
        return float(model.probability(hit_features(index, hits, tokens, coverage)))

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "weights": [round(float(w), 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "mean": [round(float(m), 6) for m in self.mean],
            "scale": [round(float(s), 6) for s in self.scale],
            "threshold": round(self.threshold, 6),
            "high": round(self.high, 6),
            "low": round(self.low, 6),
            "method": self.method,
            "stats": self.stats,
            "unreadable": self.unreadable.to_json() if self.unreadable is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConfidenceModel:
        if list(data.get("features", [])) != list(FEATURES):
            return cls.fallback()  # calibrated by another shopbot version
        return cls(
            weights=data["weights"],
            bias=data["bias"],
            mean=data["mean"],
            scale=data["scale"],
            threshold=data["threshold"],
            high=data.get("high"),
            low=data.get("low"),
            method=data.get("method", "leave-one-out"),
            stats=data.get("stats"),
            unreadable=cls.from_json(data["unreadable"]) if data.get("unreadable") else None,
        )

    @classmethod
    def fallback(cls) -> ConfidenceModel:
        """For stores too small to learn from: trust the dense score and the lexical overlap
        (probability 0.5 at cosine 0.6 with half the query's words shared)."""
        weights = np.zeros(len(FEATURES))
        weights[FEATURES.index("dense")] = 10.0
        weights[FEATURES.index("lexical_overlap")] = 4.0
        return cls(
            weights=weights,
            bias=-8.0,
            mean=np.zeros(len(FEATURES)),
            scale=np.ones(len(FEATURES)),
            threshold=0.5,
            method="fallback",
        )


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, steps: int = 50
) -> tuple[np.ndarray, float]:
    """Class-balanced, L2-regularised logistic regression by Newton's method."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    positives = max(y.sum(), 1.0)
    negatives = max(n - y.sum(), 1.0)
    sample_weight = np.where(y == 1, n / (2 * positives), n / (2 * negatives))
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0  # the bias is not regularised
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        gradient = xb.T @ (sample_weight * (p - y)) + reg * w
        hessian = (xb * (sample_weight * p * (1 - p))[:, None]).T @ xb + np.diag(reg)
        step = np.linalg.solve(hessian + 1e-9 * np.eye(d + 1), gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def best_threshold(probability: np.ndarray, label: np.ndarray) -> tuple[float, float]:
    """The cut on ``probability`` that maximises MCC of (accept) vs (label); and that MCC."""
    best = (0.5, -1.0)
    for cut in np.unique(np.round(probability, 4)):
        accept = probability >= cut
        mcc = matthews(accept, label.astype(bool))
        if mcc > best[1]:
            best = (float(cut), mcc)
    return best


def youden_threshold(probability: np.ndarray, label: np.ndarray) -> float:
    """The cut that maximises Youden's J (share of in-scope accepted minus share of
    out-of-scope accepted): unlike MCC, independent of how many of each were asked."""
    positive, negative = label == 1, label == 0
    best = (0.5, -2.0)
    for cut in np.unique(np.round(probability, 4)):
        accept = probability >= cut
        j = float(accept[positive].mean() - accept[negative].mean())
        if j > best[1]:
            best = (float(cut), j)
    return best[0]


def precision_cut(probability: np.ndarray, label: np.ndarray, target: float) -> float:
    """The lowest cut above which at least ``target`` of accepted answers are right."""
    for cut in np.unique(np.round(probability, 4)):
        accepted = probability >= cut
        if accepted.any() and label[accepted].mean() >= target:
            return float(cut)
    return 1.0


def recall_cut(probability: np.ndarray, label: np.ndarray, target: float) -> float:
    """The highest cut that still keeps ``target`` of the right answers above it."""
    right = np.sort(probability[label == 1])
    if not len(right):
        return 0.0
    return float(right[int(np.floor((1 - target) * len(right)))])


def matthews(predicted: np.ndarray, actual: np.ndarray) -> float:
    tp = float(np.sum(predicted & actual))
    tn = float(np.sum(~predicted & ~actual))
    fp = float(np.sum(predicted & ~actual))
    fn = float(np.sum(~predicted & actual))
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / denominator if denominator else 0.0


@lru_cache(maxsize=1)
def background_questions() -> tuple[str, ...]:
    """The off-topic questions every store is calibrated against (see the module docstring)."""
    lines = BACKGROUND_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def calibration_set(
    retriever: Any, *, seed: int = 0, background: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(features, in scope, top hit right, held-out wordings) for questions taken out of the
    index itself, plus, for stores with few second wordings, the background questions
    (``background``; the shipped set by default). The last value counts the in-scope
    questions that are second wordings."""
    from knowledge.calibration import heldout_rows

    index = retriever.index
    rng = np.random.default_rng(seed)
    rows = heldout_rows(index)
    if len(rows) > MAX_HELD_OUT:
        rows = np.sort(rng.choice(rows, MAX_HELD_OUT, replace=False))
    features, labels, rights = [], [], []

    def ask(row: int, exclude: np.ndarray) -> tuple[list[Any], np.ndarray]:
        hits = retriever.search(
            index.vectors[row],
            list(index.key_tokens[row]),
            query_coverage=float(index.key_coverage[row]),
            k=5,
            exclude_rows=exclude,
        )
        evidence = hit_features(
            index,
            hits,
            index.key_tokens[row],
            float(index.key_coverage[row]),
            exclude=frozenset(exclude.tolist()),
        )
        return hits, evidence

    def in_scope(row: int, exclude: np.ndarray) -> None:
        hits, evidence = ask(row, exclude)
        right = bool(hits) and index.chunk_pos[hits[0].chunk_id] == index.key_chunk[row]
        features.append(evidence)
        labels.append(1.0)
        rights.append(1.0 if right else 0.0)

    for row in rows.tolist():
        in_scope(row, np.array([row]))
    held_out = len(labels)

    kinds = np.asarray(index.key_kind)
    questions_of = {}
    for row in np.flatnonzero(kinds == "question").tolist():
        questions_of.setdefault(int(index.key_chunk[row]), []).append(row)
    # entries with one question: asked without their question key (found by their answer)
    single = [own[0] for own in questions_of.values() if len(own) == 1]
    if len(single) > MAX_HELD_OUT:
        single = rng.choice(single, MAX_HELD_OUT, replace=False).tolist()
    for row in sorted(single):
        if len(index.key_rows(int(index.key_chunk[row]))) > 1:  # the entry has another key
            in_scope(row, np.array([row]))

    entries = np.array(sorted(questions_of), dtype=np.int64)
    if len(entries) > MAX_ENTRIES_OUT:
        entries = rng.choice(entries, MAX_ENTRIES_OUT, replace=False)
    for pos in entries.tolist():
        own = index.key_rows(pos)
        questions = questions_of[pos]
        picked = rng.choice(questions, min(ENTRY_QUESTIONS, len(questions)), replace=False)
        for row in picked.tolist():
            _, evidence = ask(int(row), own)
            features.append(evidence)
            labels.append(0.0)
            rights.append(0.0)
    if held_out >= MIN_SAMPLES:  # enough second wordings: the store's own data suffices
        background = ()
    for text in background_questions() if background is None else background:
        found = retriever.query(text, k=5)
        features.append(hit_features(index, found.hits, found.tokens, found.coverage))
        labels.append(0.0)
        rights.append(0.0)
    x = np.array(features).reshape(-1, len(FEATURES))
    return x, np.array(labels), np.array(rights), held_out


def _fit(
    x: np.ndarray, y: np.ndarray, right: np.ndarray, features: Sequence[str], method: str
) -> tuple[ConfidenceModel, float]:
    """A logistic model over ``features`` (the others weigh nothing), with its cuts."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    used = [FEATURES.index(name) for name in features]
    weights = np.zeros(len(FEATURES))
    weights[used], bias = fit_logistic(((x - mean) / scale)[:, used], y)
    model = ConfidenceModel(
        weights=weights, bias=bias, mean=mean, scale=scale, threshold=0.5, method=method
    )
    probability = np.asarray(model.probability(x))
    model.threshold, mcc = best_threshold(probability, y)
    if method == "answer-match":
        # here the mix of in-scope and out-of-scope questions is set by how many background
        # questions ship, not by the store: a cut that maximises MCC moves with that mix
        # (seen: 0.44 vs 0.66 on one store with and without 20 background questions), one
        # that maximises Youden's J (recall of in-scope minus false accepts) does not
        model.threshold = youden_threshold(probability, y)
        # whether an answer-match found its entry says little about a customer's rewording
        # (the answer is all there is to find): the strict bar is 90% of accepted questions
        # in scope, not 90% right
        right = y
    model.high = max(model.threshold, precision_cut(probability, right, 0.9))
    model.low = min(model.threshold, recall_cut(probability, y, 0.90))
    if model.low >= model.threshold:  # a threshold that low leaves no room to ask: widen to 95%
        model.low = min(model.threshold, recall_cut(probability, y, 0.95))
    model.stats = {"samples": len(y), "in_scope": int(y.sum()), "mcc": round(mcc, 4)}
    return model, mcc


def _fit_or_none(
    x: np.ndarray, y: np.ndarray, right: np.ndarray, features: Sequence[str]
) -> tuple[ConfidenceModel | None, float]:
    if y.sum() < 5 or (len(y) - y.sum()) < 5:
        return None, 0.0
    return _fit(x, y, right, features, "answer-match")


def calibrate_confidence(retriever: Any, *, seed: int = 0) -> ConfidenceModel:
    """Fit the confidence model and its threshold on the retriever's own index."""
    x, y, right, held_out = calibration_set(retriever, seed=seed)
    if y.sum() < 5 or (len(y) - y.sum()) < 5 or len(y) < MIN_SAMPLES:
        model = ConfidenceModel.fallback()
        model.stats = {"samples": len(y)}
        return model
    if held_out >= MIN_SAMPLES:
        model, mcc = _fit(x, y, right, list(FEATURES), "leave-one-out")
    else:
        # too few second wordings to learn every feature: the few that transfer (module
        # docstring), fitted apart for questions the embedding model reads and those it
        # does not (a Chinese store under the bundled English model is matched by BM25)
        readable_rows = x[:, FEATURES.index("coverage")] >= READABLE
        model, mcc = _fit_or_none(
            x[readable_rows], y[readable_rows], right[readable_rows], ROBUST_FEATURES
        )
        lexical, lexical_mcc = _fit_or_none(
            x[~readable_rows], y[~readable_rows], right[~readable_rows], LEXICAL_FEATURES
        )
        if model is None:
            model, mcc, lexical = lexical, lexical_mcc, None
        if model is None:
            fallback = ConfidenceModel.fallback()
            fallback.stats = {"samples": len(y)}
            return fallback
        model.unreadable = lexical
    used = [i for i, w in enumerate(model.weights) if w != 0]
    dense = x[:, FEATURES.index("dense")]
    overlap = x[:, FEATURES.index("lexical_overlap")]
    # second wordings only: an answer-match says nothing about how alike two wordings are
    readable = (right == 1) & (x[:, FEATURES.index("coverage")] >= 0.5)
    readable[held_out:] = False
    model.stats = {
        # how similar two wordings of one question are in this store (10th percentile):
        # the grounding check's bar for "says the same as a source sentence"
        "paraphrase_floor": round(float(np.percentile(dense[readable], 10)), 4)
        if readable.sum() >= 10
        else None,
        # how many of its words a second wording of one question shares (the median, not a
        # low percentile: a generated sentence rejected for it is quoted from its source
        # instead, while one accepted wrongly tells the customer something the store never
        # said): the grounding check's bar for "says what that source sentence says"
        "lexical_floor": round(float(np.percentile(overlap[readable], 50)), 4)
        if readable.sum() >= 10
        else None,
        # how alike the closest wordings of one question are (90th percentile): the policy's
        # bar for "without a word the store never uses, the question is the same question"
        "paraphrase_close": round(float(np.percentile(dense[readable], 90)), 4)
        if readable.sum() >= 10
        else None,
        "samples": len(y),
        "held_out_wordings": held_out,
        "features": [FEATURES[i] for i in used],
        "in_scope": int(y.sum()),
        "right": int(right.sum()),
        "calibration_mcc": round(mcc, 4),
    }
    return model
