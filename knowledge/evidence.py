"""The evidence a confidence is computed from, and the questions a store is calibrated on.

Retrieval's side of the answer policy (``../shared/DESIGN.md``, "Where the answer policy
lives"): for the top hit of one query, :func:`hit_features` measures its dense score and the
margin to the next document, the fused score and its margin, how much of the query the hit's
keys share lexically, how many of an FAQ entry's variants agree, how much of the query the
embedding model understands, the share of its words the store never uses, where BM25
ranks it, and how typical the query is of the entry's own wordings (its closeness to their
centroid against theirs, :class:`knowledge.index.Wordings`). :func:`calibration_set`
asks questions taken from the store's own knowledge, never test queries, and returns their
evidence with what is known about each:

- leave-one-out: each sampled FAQ variant is held out and asked: an in-scope question (its
  entry is still there), whether or not the top hit is that entry;
- leave-entry-out: a variant is asked with its whole entry removed, so no right answer exists
  (the nearest thing to an in-domain out-of-scope question the store's data can give);
- an entry with a single question (most real FAQ pages) has no second wording to hold out:
  its question is asked with that question's own key removed, so only the entry's answer
  can find it (a conservative stand-in for a customer's rewording);
- for stores with fewer than MIN_SAMPLES second wordings, also background questions
  (``knowledge/data/background_questions.txt``: everyday off-topic messages, the weather, a
  joke, a recipe, in English and Chinese, written for shopbot and the same for every store)
  are asked against the store: how well its knowledge seems to match questions it cannot
  answer. Leave-entry-out questions alone are harder than most real out-of-scope messages,
  and with answer-matches as the only in-scope side they would set the bar above nearly
  every customer question.

The model fitted on them, its cuts and how the bot uses them are the bot's:
:mod:`bot.confidence` and :mod:`bot.policy`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.text import tokenize

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
    "typicality",
)
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
    vector: np.ndarray | None = None,
    exclude: frozenset[int] = frozenset(),
    excluded_df: Counter[str] | None = None,
) -> np.ndarray:
    """The evidence vector for the top hit of one query (zeros when there is no hit).

    ``vector``: the query's embedding (how typical the query is of the top entry's own
    wordings is measured on it; without it, or for a question the model does not read, 0).
    ``exclude``: key rows held out of the index for calibration; they must not count.
    ``excluded_df``: their document frequencies, when the caller has counted them already.
    """
    if not hits:
        return np.zeros(len(FEATURES), dtype=np.float64)
    top = hits[0]
    second = next((h for h in hits[1:] if h.doc_id != top.doc_id), None)
    query_tokens = set(tokens)
    df = index.token_df
    held_out = (
        excluded_df
        if excluded_df is not None
        else Counter(t for row in exclude for t in set(index.key_tokens[row]))
    )
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
            index.wordings.typicality(index, index.chunk_pos[top.chunk_id], vector, exclude)
            if vector is not None and coverage >= READABLE
            else 0.0,
        ],
        dtype=np.float64,
    )


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
            vector=index.vectors[row],
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
        features.append(
            hit_features(index, found.hits, found.tokens, found.coverage, vector=found.vector)
        )
        labels.append(0.0)
        rights.append(0.0)
    x = np.array(features).reshape(-1, len(FEATURES))
    return x, np.array(labels), np.array(rights), held_out


def passage_calibration_set(
    retriever: Any, *, seed: int = 0, background: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, in scope, top hit right) for the store seen as passages only: every FAQ
    question key is left out, so questions are found by answers, pages and products, as a
    customer's question is when a policy page or a product answers it.

    For a sample of entries, a few of their questions are asked twice: with the entry's
    answer in the index (in scope) and without it (no right answer). The background
    questions are asked against the same passages. Empty when the store's FAQ has no
    answers to find questions by.
    """
    index = retriever.index
    rng = np.random.default_rng(seed + 1)
    kinds = np.asarray(index.key_kind)
    question_rows = np.flatnonzero(kinds == "question")
    answers = {int(index.key_chunk[row]): row for row in np.flatnonzero(kinds == "answer").tolist()}
    questions_of: dict[int, list[int]] = {}
    for row in question_rows.tolist():
        if int(index.key_chunk[row]) in answers:
            questions_of.setdefault(int(index.key_chunk[row]), []).append(row)
    empty = np.zeros((0, len(FEATURES))), np.zeros(0), np.zeros(0)
    if len(questions_of) < 5:
        return empty
    entries = np.array(sorted(questions_of), dtype=np.int64)
    if len(entries) > MAX_ENTRIES_OUT:
        entries = rng.choice(entries, MAX_ENTRIES_OUT, replace=False)
    features, labels, rights = [], [], []
    left_out = frozenset(question_rows.tolist())
    questions_df = Counter(t for row in question_rows.tolist() for t in set(index.key_tokens[row]))
    for pos in entries.tolist():
        questions = questions_of[pos]
        picked = rng.choice(questions, min(ENTRY_QUESTIONS, len(questions)), replace=False)
        for row in picked.tolist():
            without_answer = np.append(question_rows, answers[pos])
            for label, exclude in ((1.0, question_rows), (0.0, without_answer)):
                hits = retriever.search(
                    index.vectors[row],
                    list(index.key_tokens[row]),
                    query_coverage=float(index.key_coverage[row]),
                    k=5,
                    exclude_rows=exclude,
                )
                own = Counter(set(index.key_tokens[answers[pos]])) if not label else Counter()
                features.append(
                    hit_features(
                        index,
                        hits,
                        index.key_tokens[row],
                        float(index.key_coverage[row]),
                        exclude=left_out if label else left_out | {answers[pos]},
                        excluded_df=questions_df + own,
                    )
                )
                labels.append(label)
                right = label and bool(hits) and index.chunk_pos[hits[0].chunk_id] == pos
                rights.append(1.0 if right else 0.0)
    for text in background_questions() if background is None else background:
        cover = float(retriever.embedder.coverage([text])[0])
        vector = retriever.embedder.embed_query(text) if cover > 0 else None
        tokens = tokenize(text)
        hits = retriever.search(
            vector, tokens, query_coverage=cover, k=5, exclude_rows=question_rows
        )
        features.append(
            hit_features(
                index,
                hits,
                tokens,
                cover,
                exclude=left_out,
                excluded_df=questions_df,
            )
        )
        labels.append(0.0)
        rights.append(0.0)
    x = np.array(features).reshape(-1, len(FEATURES))
    return x, np.array(labels), np.array(rights)
