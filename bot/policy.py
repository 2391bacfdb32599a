"""The answer policy: which path a message takes, from the retrieval evidence.

The confidence model (calibrated on the store's own knowledge, see
``bot.confidence``) gives P(the top hit answers the question) with three cuts:

- at or above ``threshold``: answer. An FAQ hit returns its canonical answer (no model
  call); any other hit (a policy page, a product) gets an answer composed from the top
  passages. When the question has a word the store's knowledge never uses and that word
  carries the question ("bitcoin" in "can I pay with bitcoin"), the bar is the stricter
  ``high`` cut: a near miss on a topic the store does not cover must not be answered with
  a neighbouring entry. A word carries the question when leaving it out moves the
  question's embedding further than the closest wordings of one question are apart in this
  store (the 90th percentile of their similarity, calibrated); "wore" in "can I return
  shoes I already wore outside?" does not, so it is not held against the question. A store
  with one question per entry gives neither that similarity nor a strict cut to measure,
  and there the rule is off.
- between ``low`` and ``threshold``: a clarifying question naming the closest topics.
- below ``low``: don't know; after ``max_failures`` such turns in a row, handoff.

An explicit request for a person always hands off.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from bot.confidence import ConfidenceModel
from knowledge.evidence import READABLE
from knowledge.retriever import Hit, Retrieval
from knowledge.text import CJK_RUN, jieba_words, tokenize

# a Latin word, or one run of CJK characters (jieba splits it further)
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*|[\u3400-\u4dbf\u4e00-\u9fff]+")

HANDOFF_PATTERNS = re.compile(
    r"(\b(talk|speak|chat)\s+(to|with)\s+(a\s+|an\s+|the\s+|some\s*one\s*)?"
    r"(human|person|agent|representative|rep|someone|real\s+person|operator|staff)\b"
    r"|\b(human|live|real)\s+(agent|person|support|help)\b"
    r"|\bcustomer\s+service\s+(agent|representative)\b"
    r"|\b(get|give)\s+me\s+(a\s+)?(human|person|agent|representative)\b"
    r"|^\s*(agent|human|representative|operator)\s*[.!?]*\s*$"
    r"|转人工|人工客服|人工服务|找人工|真人客服|转接人工|要人工|接人工)",
    re.IGNORECASE,
)


def wants_human(text: str) -> bool:
    """An explicit request for a person ("talk to a human", "转人工")."""
    return bool(HANDOFF_PATTERNS.search(text))


@dataclass
class Decision:
    action: str  # answer_faq | generate | clarify | dont_know | handoff
    confidence: float
    hits: list[Hit] = field(default_factory=list)
    unknown_terms: list[str] = field(default_factory=list)
    reason: str = ""


class Policy:
    """Turns (retrieval, confidence) into a Decision. Stateless; the engine keeps counts."""

    def __init__(
        self,
        model: ConfidenceModel,
        *,
        index: Any,
        max_failures: int = 2,
        embed: Callable[[str], np.ndarray] | None = None,
    ) -> None:
        self.model = model
        self.index = index
        self.max_failures = max_failures
        #: embeds a text (the retriever's embedder); without it every unknown word counts
        self.embed = embed

    @cached_property
    def _vocabulary(self) -> list[str]:
        return sorted(self.index.token_df)

    def is_known(self, token: str) -> bool:
        """In the store's vocabulary, or a near form of a word in it ("broke" / "broken",
        "refnd" is not caught: only shared beginnings of at least 4 characters count)."""
        if token in self.index.token_df or token.isdigit():
            return True
        if len(token) < 5 or not token.isascii():
            return False
        stem = token[: max(4, len(token) - 2)]
        vocabulary = self._vocabulary
        i = bisect.bisect_left(vocabulary, stem)
        return i < len(vocabulary) and vocabulary[i].startswith(stem)

    def unknown_terms(self, text: str) -> list[str]:
        """The customer's words that the store's knowledge never uses.

        A Latin word counts when none of its tokens is known. Chinese has no spaces, so a
        run of CJK characters is judged word by word as jieba cuts it: a word of two or
        more characters is unknown when neither it nor every one of its character bigrams
        occurs in the store's text ("比特币" in "可以用比特币付款吗"; one-character words
        and particles say too little to judge)."""
        unknown = []
        for word in dict.fromkeys(WORD.findall(text)):
            if CJK_RUN.match(word):
                unknown.extend(w for w in self._cjk_words(word) if w not in unknown)
                continue
            tokens = tokenize(word)
            if tokens and not any(self.is_known(t) for t in tokens):
                unknown.append(word)
        return unknown

    def _cjk_words(self, run: str) -> list[str]:
        """The words of a CJK run the store's text never uses (see ``unknown_terms``)."""
        known = self.index.token_df
        found = []
        for word in jieba_words(run):
            if len(word) < 2 or word in known:
                continue
            if all(word[i : i + 2] in known for i in range(len(word) - 1)):
                continue  # cut otherwise in the store's text, but every pair is there
            found.append(word)
        return found

    def carrying(self, retrieval: Retrieval, unknown: list[str]) -> list[str]:
        """The unknown words without which the question would be another one."""
        # similarity above which two texts ask the same question (see the module doc)
        same_question = self.model.stats.get("paraphrase_close")
        if same_question is None:
            # the store gave no second wordings to measure "the same question" or a strict
            # bar on (one question per entry): its vocabulary is too thin to call a word
            # foreign to it (on CLINC150 with one question per intent, 22% of in-scope test
            # questions had such a word), so the rule is off
            return []
        if not unknown or self.embed is None or retrieval.vector is None:
            return unknown
        if retrieval.coverage < READABLE:  # the model does not read it: no judgement to make
            return unknown
        kept = []
        for word in unknown:
            rest = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", " ", retrieval.query).strip()
            if not WORD.search(rest):
                kept.append(word)
                continue
            if float(self.embed(rest) @ retrieval.vector) < same_question:
                kept.append(word)
        return kept

    def decide(self, retrieval: Retrieval, *, failures: int = 0) -> Decision:
        hits = retrieval.hits
        confidence = self.model.score(
            self.index, hits, retrieval.tokens, retrieval.coverage, retrieval.vector
        )
        terms = self.unknown_terms(retrieval.query)
        if not hits:
            return self._fail(
                confidence, failures, self.carrying(retrieval, terms), "nothing retrieved"
            )
        model = self.model.for_hit(hits[0], retrieval.coverage)  # the cuts of this kind
        # above the strict bar no unknown word changes the decision: it is not weighed
        # (weighing one embeds the question once more, on the FAQ path's clock)
        strict = confidence >= max(model.high, model.threshold)
        unknown = terms if strict else self.carrying(retrieval, terms)
        bar = model.high if unknown else model.threshold
        if confidence >= bar:
            action = "answer_faq" if hits[0].kind == "faq" else "generate"
            return Decision(action, confidence, hits, unknown, "confident")
        # a word the store never uses weighs as much as it carries, when the embedding model
        # reads the question (``carrying``); when it does not (Chinese under the bundled
        # English model), any such word raises the bar to answer, but the customer is still
        # asked whether the top entry is what they mean rather than told nothing
        unread = retrieval.coverage < READABLE
        if confidence >= model.low and (not unknown or unread):
            return Decision("clarify", confidence, hits, unknown, "between low and threshold")
        reason = "unknown terms" if unknown and confidence >= model.threshold else "low"
        return self._fail(confidence, failures, unknown, reason)

    def _fail(self, confidence: float, failures: int, unknown: list[str], reason: str) -> Decision:
        if failures + 1 >= self.max_failures:
            return Decision("handoff", confidence, [], unknown, f"{reason}; repeated failure")
        return Decision("dont_know", confidence, [], unknown, reason)
