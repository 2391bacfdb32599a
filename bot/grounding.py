"""Keeping generated answers to what the sources say.

A small local model sometimes ignores its sources ("No, we don't repair zippers" above a
warranty page that says zipper repairs are free). Each generated sentence is checked before
it reaches the customer: every number in it must appear in the sources, and its meaning must
be close to some source sentence (cosine at least the store's paraphrase floor: how similar
two wordings of the same question are in this store's own FAQ, from the calibration), and
it must not negate what that sentence says or the other way round (embeddings barely see
"not"; a negation mismatch is the commonest way a small model contradicts its source).
A sentence that says yes to one thing and no to another is judged by its clause closest to
the claim, so "accepted for standard shipping only" is supported by "accepted for standard
shipping only, not for express shipping". The
first unsupported sentence ends the answer; when no sentence survives, the answer is the
source sentences closest to the question, quoted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from knowledge.embedders.base import Embedder
from knowledge.retriever import Hit

SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
CITATION = re.compile(r"\s*\[\d{1,2}\]")
NEGATION = re.compile(
    r"\b(no|not|never|none|cannot|can't|cant|don't|dont|doesn't|won't|isn't|aren't|"
    r"unable|without)\b|n't\b|不|没|无|非",
    re.IGNORECASE,
)
CLAUSE_BREAK = re.compile(r"\s*[,;:，；：]\s*|\s+(?:but|however|whereas|while)\s+", re.I)
MIN_WORDS = 4  # shorter sentences ("Yes." "Sure!") carry no claim to check


def clauses(sentence: str) -> list[str]:
    """The clauses of a sentence worth checking on their own (none when it has one)."""
    parts = [p.strip() for p in CLAUSE_BREAK.split(sentence) if p and p.strip()]
    if len(parts) < 2:
        return []
    return [p for p in parts if len(p.split()) >= 2]


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s and s.strip()]


def complete_sentences(text: str) -> tuple[list[str], str]:
    """The finished sentences of streamed text, and the unfinished tail (possibly empty)."""
    parts = SENTENCE_END.split(text)
    return [p.strip() for p in parts[:-1] if p and p.strip()], parts[-1]


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUMBER.findall(text)}


@dataclass
class SourceSentences:
    texts: list[str]
    source: list[int]  # index of the hit each sentence comes from
    vectors: np.ndarray
    numbers: set[str]


class GroundingChecker:
    """Checks generated sentences against the sources they were written from."""

    def __init__(self, embedder: Embedder, *, floor: float) -> None:
        self.embedder = embedder
        self.floor = floor

    def prepare(self, hits: Sequence[Hit]) -> SourceSentences:
        texts, source = [], []
        for n, hit in enumerate(hits):
            for sentence in split_sentences(hit.text):
                texts.append(sentence)
                source.append(n)
        vectors = (
            self.embedder.embed_documents(texts)
            if texts
            else np.zeros((0, self.embedder.dim), np.float32)
        )
        numbers = set().union(*(_numbers(h.text) for h in hits)) if hits else set()
        return SourceSentences(texts, source, vectors, numbers)

    def supported(self, sentence: str, sources: SourceSentences) -> bool:
        claim = CITATION.sub("", sentence).strip()
        if not _numbers(claim) <= sources.numbers:
            return False
        if len(claim.split()) < MIN_WORDS or not len(sources.texts):
            return True
        query = self.embedder.embed_query(claim)
        similarities = sources.vectors @ query
        best = int(np.argmax(similarities))
        if float(similarities[best]) < self.floor:  # the bar is met by a whole sentence
            return False
        negated = bool(NEGATION.search(claim))
        sentence = sources.texts[best]
        if negated == bool(NEGATION.search(sentence)):
            return True
        # a sentence that says yes to one thing and no to another: the claim must agree
        # with the clause of that sentence it is closest to
        # (embedded only here: a negation mismatch is rare)
        parts = clauses(sentence)
        if not parts:
            return False
        closest = parts[int(np.argmax(self.embedder.embed_documents(parts) @ query))]
        return negated == bool(NEGATION.search(closest))

    def extract(
        self, question: str, sources: SourceSentences, *, max_sentences: int = 2
    ) -> tuple[str, list[int]]:
        """The source sentences closest to the question, in source order, and their hits."""
        if not sources.texts:
            return "", []
        scores = sources.vectors @ self.embedder.embed_query(question)
        best = sorted(np.argsort(-scores)[:max_sentences].tolist())
        text = " ".join(sources.texts[i] for i in best)
        return text, sorted({sources.source[i] for i in best})
