"""Keeping generated answers to what the sources say.

A small local model sometimes ignores its sources ("No, we don't repair zippers" above a
warranty page that says zipper repairs are free). Each generated sentence is checked before
it reaches the customer:

- its meaning must be close to some source sentence (cosine at least the store's paraphrase
  floor: how similar two wordings of the same question are in this store's own FAQ, from the
  calibration);
- what it says must be said *there*: every number in it must appear in that sentence or its
  neighbours, and the share of its words found there must be at least the store's lexical
  floor (how many words two wordings of one FAQ question share, from the same calibration),
  so a long sentence that strings real phrases together with invented ones fails;
- a "yes" or "no" verdict must be the one every source sentence close to the *question*
  gives ("No, you can't change the address" fails above "You can edit your shipping address
  for 60 minutes after placing your order" and "Once an order has shipped, we can't change
  the address");
- an item of a list must be an item of a source list whose intro says the same (yes or no);
- it must not negate what its closest source sentence says or the other way round
  (embeddings barely see "not"; a negation mismatch is the commonest way a small model
  contradicts its source).
A sentence that says yes to one case and no to another ("PO boxes are accepted for standard
shipping only, not for express shipping") supports a yes about its yes case and a no about
its no case: a claim leans to the side whose distinctive words it shares, so "accepted for
standard shipping only" and "not accepted for express" pass, and "We do not ship to PO
boxes" (a no that names no case, about what the sentence accepts for one) fails. The
first unsupported sentence ends the answer; when no sentence survives, the answer is the
source sentences closest to the question, quoted (with the list a quoted sentence introduces).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from knowledge.embedders.base import Embedder
from knowledge.retriever import Hit
from knowledge.text import tokenize

SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
CITATION = re.compile(r"\s*\[\d{1,2}\]")
NEGATION = re.compile(
    r"\b(no|not|never|none|cannot|can't|cant|don't|dont|doesn't|won't|isn't|aren't|"
    r"unable|without)\b|n't\b|不|没|无|非",
    re.IGNORECASE,
)
CLAUSE_BREAK = re.compile(r"\s*[,;:，；：]\s*|\s+(?:but|however|whereas|while)\s+", re.I)
#: a clause that states a condition of the next one rather than a claim of its own
SUBORDINATE = re.compile(
    r"^(?:if|when|whenever|once|unless|after|before|because|since|until|although|though|as)\b",
    re.I,
)
PREPOSITION = re.compile(
    r"\b(for|to|on|in|at|with|from|by|within|via|over|under|after|before|during|outside)\b",
    re.I,
)
#: a clause without a head of its own: "not for express shipping", "never on weekends"
FRAGMENT = re.compile(
    r"^(?:and\s+|or\s+|but\s+)?(?:not|never|no|only|just)\s+(?:even\s+)?" + PREPOSITION.pattern,
    re.I,
)
MIN_WORDS = 4  # shorter sentences ("Yes." "Sure!") carry no claim to check
VERDICT = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
#: the lexical floor for a store without a calibration: a quarter of the words
FALLBACK_LEXICAL_FLOOR = 0.25
#: list items quoted after a sentence that introduces them ("The warranty doesn't cover:")
MAX_LIST_ITEMS = 8


def clauses(sentence: str) -> list[str]:
    """The clauses of a sentence worth checking on their own (none when it has one)."""
    parts = [p.strip() for p in CLAUSE_BREAK.split(sentence) if p and p.strip()]
    if len(parts) < 2:
        return []
    return [p for p in parts if len(p.split()) >= 2]


@dataclass
class Clause:
    """A clause that makes a claim of its own: its text (a fragment with the head it
    borrows), whether it says no, and its content words."""

    text: str
    negated: bool
    words: set[str]


def polar_clauses(sentence: str) -> list[Clause]:
    """The clauses of ``sentence`` that make a claim of their own. A condition ("if you
    choose express", "once it has shipped") joins the clause it conditions; a fragment
    ("..., not for express shipping") borrows the head of the clause before it ("PO boxes
    are accepted"), so both clauses speak of the same thing."""
    parts = [p.strip() for p in CLAUSE_BREAK.split(sentence) if p and p.strip()]
    merged: list[str] = []
    for part in parts:
        if merged and SUBORDINATE.match(merged[-1]) and not FRAGMENT.match(part):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    if len(merged) > 1 and SUBORDINATE.match(merged[-1]):
        merged[-2:] = [f"{merged[-2]} {merged[-1]}"]
    polar: list[Clause] = []
    for i, part in enumerate(merged):
        text = part
        fragment = FRAGMENT.match(part)
        if fragment and i:
            previous = merged[i - 1]
            at = re.search(rf"\b{fragment.group(1)}\b", previous, re.I)
            at = at or PREPOSITION.search(previous)
            text = f"{previous[: at.start()] if at else previous} {part}"
        polar.append(Clause(text, bool(NEGATION.search(part)), _content(text)))
    return polar


def leanings(claim: str, sentence: str) -> list[bool | None] | None:
    """For each clause of ``claim``: whether it agrees with ``sentence`` (None: undecided),
    where that sentence says yes to one case and no to another; None when it does not.

    A clause of the claim leans to the side of the sentence (its yes clauses or its no
    clauses) whose distinctive words it shares more of, and must have that side's polarity.
    A no that names no case at all ("We do not ship to PO boxes") denies what the sentence
    accepts for some case: it disagrees; a yes that names none is true of that case.
    """
    source = polar_clauses(sentence)
    if len({c.negated for c in source}) < 2:
        return None
    no = set().union(*(c.words for c in source if c.negated))
    yes = set().union(*(c.words for c in source if not c.negated))
    no, yes = no - yes, yes - no
    verdicts: list[bool | None] = []
    for clause in polar_clauses(claim):
        leans_no, leans_yes = len(clause.words & no), len(clause.words & yes)
        if leans_no == leans_yes:
            verdicts.append(not clause.negated if not leans_no else None)
        else:
            verdicts.append(clause.negated == (leans_no > leans_yes))
    return verdicts


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s and s.strip()]


def complete_sentences(text: str) -> tuple[list[str], str]:
    """The finished sentences of streamed text, and the unfinished tail (possibly empty)."""
    parts = SENTENCE_END.split(text)
    return [p.strip() for p in parts[:-1] if p and p.strip()], parts[-1]


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUMBER.findall(text)}


def opens_list(sentence: str) -> bool:
    """Whether ``sentence`` introduces a list ("The warranty doesn't cover:")."""
    return sentence.rstrip().endswith((":", "："))


def separator(previous: str, sentence: str) -> str:
    """What goes between two sentences of one text: a line break next to a list item."""
    return "\n" if LIST_ITEM.match(sentence) or LIST_ITEM.match(previous) else " "


def join_sentences(sentences: Sequence[str]) -> str:
    """Sentences as one text: list items on lines of their own, the rest joined by spaces."""
    text = sentences[0] if sentences else ""
    for previous, sentence in itertools.pairwise(sentences):
        text += separator(previous, sentence) + sentence
    return text


def _list_intros(texts: list[str], source: list[int]) -> list[int | None]:
    """For each sentence, the sentence ending with a colon whose list it is an item of."""
    intros: list[int | None] = []
    current: int | None = None
    for i, text in enumerate(texts):
        if current is not None and (source[current] != source[i] or not LIST_ITEM.match(text)):
            current = None
        intros.append(current)
        if opens_list(text):
            current = i
    return intros


def _content(text: str) -> set[str]:
    """The words a claim is made of: stems, without stop words and negations (the negation
    rule judges those)."""
    return set(tokenize(NEGATION.sub(" ", text)))


@dataclass
class SourceSentences:
    texts: list[str]
    source: list[int]  # index of the hit each sentence comes from
    vectors: np.ndarray
    numbers: set[str]
    #: for a list item, the sentence that introduces its list ("The warranty doesn't cover:")
    intro: list[int | None] = field(default_factory=list)
    #: what the source sentences closest to the question say: True yes, False no, None when
    #: there was no question or they disagree (then no yes-or-no verdict is supported)
    verdict: bool | None = None
    asked: bool = False  # prepared for a question: verdicts are checked

    def negated(self, i: int, clause: str | None = None) -> bool:
        """Whether sentence ``i`` (or its ``clause``) says no, counting its list's intro."""
        said = bool(NEGATION.search(self.texts[i] if clause is None else clause))
        intro = self.intro[i] if self.intro else None
        return said != bool(NEGATION.search(self.texts[intro])) if intro is not None else said

    def window(self, i: int) -> list[int]:
        """Sentence ``i`` and its neighbours in the same source."""
        return [
            j
            for j in (i - 1, i, i + 1)
            if 0 <= j < len(self.texts) and self.source[j] == self.source[i]
        ]


class GroundingChecker:
    """Checks generated sentences against the sources they were written from.

    ``floor``: the cosine a claim needs to its closest source sentence; ``lexical_floor``:
    the share of its words that must be found in that sentence and its neighbours.
    """

    def __init__(
        self, embedder: Embedder, *, floor: float, lexical_floor: float = FALLBACK_LEXICAL_FLOOR
    ) -> None:
        self.embedder = embedder
        self.floor = floor
        self.lexical_floor = lexical_floor

    def prepare(self, hits: Sequence[Hit], question: str | None = None) -> SourceSentences:
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
        facts = SourceSentences(texts, source, vectors, numbers, intro=_list_intros(texts, source))
        if question and texts:
            query = self.embedder.embed_query(question)
            similarity = vectors @ query
            # every sentence that says what the question asks (by the store's paraphrase
            # floor), or else the closest one, must give the same answer
            near = np.flatnonzero(similarity >= self.floor).tolist() or [int(np.argmax(similarity))]
            says = {not facts.negated(i, self._closest_clause(texts[i], query)) for i in near}
            facts.verdict = says.pop() if len(says) == 1 else None
            facts.asked = True
        return facts

    def supported(
        self, sentence: str, sources: SourceSentences, *, intro: str | None = None
    ) -> bool:
        """Whether the sources support ``sentence``; ``intro`` is the answer's sentence that
        introduced the list ``sentence`` is an item of ("It doesn't cover:")."""
        claim = CITATION.sub("", sentence).strip()
        verdict = VERDICT.match(claim)
        if verdict and sources.asked and (verdict.group(1).lower() == "yes") != sources.verdict:
            return False  # a verdict the sources do not give, or give both ways
        numbers = _numbers(claim)
        if not numbers <= sources.numbers:
            return False
        if len(claim.split()) < MIN_WORDS or not len(sources.texts):
            return True
        query = self.embedder.embed_query(claim)
        similarities = sources.vectors @ query
        best = int(np.argmax(similarities))
        if float(similarities[best]) < self.floor:  # the bar is met by a whole sentence
            return False
        # what it says is said there, not somewhere else in the prompt
        window = " ".join(sources.texts[j] for j in sources.window(best))
        if not numbers <= _numbers(window):
            return False
        words = _content(claim)
        if words and len(words & _content(window)) / len(words) < self.lexical_floor:
            return False
        negated = bool(NEGATION.search(claim))
        if intro is not None and LIST_ITEM.match(claim):
            # an item of the answer's list ("It doesn't cover: - tears") must be an item of
            # a source's list that says the same (yes or no) of its items
            listed = sources.intro[best] if sources.intro else None
            if listed is None:
                return False
            if bool(NEGATION.search(intro)) != bool(NEGATION.search(sources.texts[listed])):
                return False
            negated = negated != bool(NEGATION.search(intro))
        sentence = sources.texts[best]
        verdicts = None
        if intro is None and not (sources.intro and sources.intro[best] is not None):
            verdicts = leanings(claim, sentence)
        if verdicts is None:
            return negated == sources.negated(best)
        # a sentence that says yes to one case and no to another: the claim's no must be
        # about the case the source denies ("not for express"), its yes about the other; a
        # clause the words leave undecided agrees with the source clause it is closest to
        # (embedded only here: such sentences are few)
        if None in verdicts:
            source = polar_clauses(sentence)
            vectors = self.embedder.embed_documents([c.text for c in source])
            for n, clause in enumerate(polar_clauses(claim)):
                if verdicts[n] is None:
                    near = vectors @ self.embedder.embed_query(clause.text)
                    verdicts[n] = clause.negated == source[int(np.argmax(near))].negated
        return all(verdicts)

    def _closest_clause(self, sentence: str, query: np.ndarray) -> str:
        """The clause of ``sentence`` closest to ``query`` (the sentence when it has one)."""
        parts = clauses(sentence)
        if not parts:
            return sentence
        return parts[int(np.argmax(self.embedder.embed_documents(parts) @ query))]

    def extract(
        self, question: str, sources: SourceSentences, *, max_sentences: int = 2
    ) -> tuple[str, list[int]]:
        """The source sentences closest to the question, in source order, and their hits."""
        if not sources.texts:
            return "", []
        scores = sources.vectors @ self.embedder.embed_query(question)
        best = sorted(np.argsort(-scores)[:max_sentences].tolist())
        picked: list[int] = []
        for i in best:
            picked += self._with_list(i, sources)
        picked = list(dict.fromkeys(picked))
        text = join_sentences([sources.texts[i] for i in picked])
        return text, sorted({sources.source[i] for i in picked})

    @staticmethod
    def _with_list(i: int, sources: SourceSentences) -> list[int]:
        """Sentence ``i`` with the list it introduces or belongs to, so a quoted list item
        keeps its siblings and its intro ("The warranty doesn't cover:")."""
        texts, source = sources.texts, sources.source

        def item(j: int) -> bool:
            return (
                0 <= j < len(texts) and source[j] == source[i] and bool(LIST_ITEM.match(texts[j]))
            )

        if not item(i) and not opens_list(texts[i]):
            return [i]
        first = i
        while item(first - 1) and item(first):
            first -= 1
        if item(first) and sources.intro[first] is not None:
            first = sources.intro[first]
        last = i
        while item(last + 1) and last - first < MAX_LIST_ITEMS:
            last += 1
        return list(range(first, last + 1))
