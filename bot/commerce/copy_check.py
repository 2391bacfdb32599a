"""Keeping generated product copy to the product's own facts.

Every claim the copy makes is looked up in its source (the product's facts, or for a review
summary its reviews), and each lookup is recorded as a :class:`Check`:

- a number, with its unit when it has one ("395 g", "20,000 mm", "3-layer", "two pockets"),
  must be in the source with the same unit; a price ("$249", "249 USD") must be one of the
  source's prices, in its currency; a percentage is a number with the unit "%";
- a material, certification, feature, colour or part from a vocabulary (:mod:`copy_terms`)
  must be in the source, and said the same way: "waterproof" fails above ``waterproof: no``,
  and so does "not waterproof" above a waterproof shell;
- a superlative or claim of rank ("best-selling", "lightest", "the most popular") must be in
  the source as written;
- a capitalised term (a brand, a technology, a place) must be in the source. A capitalised
  word that opens a sentence is checked only when it looks like a name (capitals inside it,
  digits); common words open sentences too, and a brand there is rarer than after one;
- the text as a whole: not empty, long enough, not repetitive, about the product (it names
  it, and does not talk about the task instead), in the requested language.

The checker has no model: it is quick, deterministic and explainable, and it is strict
(a claim it cannot find is a claim it rejects). It does not judge meaning, so a sentence that
recombines true facts wrongly ("395 g in size XL" when 395 g is size M) passes.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property

from bot.commerce.copy_numbers import (
    CURRENCY_CODES,
    Number,
    numbers_in,
    same_currency,
)
from bot.commerce.copy_terms import (
    NEUTRAL_NAMES,
    NOT_SUPERLATIVE,
    SPELLINGS,
    SUPERLATIVE_TERMS,
    TERMS,
    UNIT_ALIASES,
)
from knowledge.text import CJK_RUN, detect_language, tokenize

WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9]*(?:['’][A-Za-z]+)?(?:[-&+][A-Za-z0-9]+)*")
SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")
#: what may stand before a word that opens a sentence (or a list item, a heading, a quote)
OPENERS = set('.!?:;。！？：；\n•*"“‘(-–—>|')
NEGATIONS = {"not", "no", "non", "never", "without", "isn't", "isnt", "aren't", "nor", "zero"}
#: "waterproof: no" (an attribute line), "waterproof? no"
SAID_NO = re.compile(r"^\s*[:=?]\s*(?:no|false|none|n)\b")
#: "the most popular", "most comfortable" (not "most days"): group 1 is looked up
MOST = re.compile(
    r"\b(?:(?:the|our|its|their|your)\s+((?:most|least)\s+[a-z]+)|((?:most|least)\s+[a-z]+"
    r"(?:ive|able|ible|ful|ous|ant|ent|ar|ic|al|ing)))\b"
)
EST = re.compile(r"\b[a-z]{2,}est\b")
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
HASHTAG = re.compile(r"#(\w+)")
MIN_WORDS = 5
#: a text that says the same three words this often repeats itself
REPEATED_TRIGRAM = 3
#: the words a review summary is made of whatever the product: not evidence of anything
SUMMARY_WORDS = frozenset(
    tokenize(
        "review reviews reviewer reviewers customer customers buyer buyers product products "
        "item also some feedback positive negative complaint complaints praise praised like "
        "likes liked dislike dislikes overall however although but more many most few other "
        "others say says said find found would recommend recommended"
    )
)


def normalise(text: str) -> str:
    """Lower case, full-width forms folded, hyphens and underscores as spaces, one spelling
    per word: the form terms are looked up in."""
    text = HASHTAG.sub(lambda m: " " + CAMEL.sub(" ", m.group(1)) + " ", text)
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = re.sub(r"[-‑–_]+", " ", text)
    text = re.sub(r"[a-z]+", lambda m: SPELLINGS.get(m.group(), m.group()), text)
    return re.sub(r"[ \t]+", " ", text)


def _term_pattern(terms: Iterable[str]) -> re.Pattern[str]:
    latin = [t for t in terms if not CJK_RUN.search(t)]
    cjk = [t for t in terms if CJK_RUN.search(t)]
    alternatives = [r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, latin)) + r")(?![a-z0-9])"]
    if cjk:
        alternatives.append("|".join(map(re.escape, cjk)))
    return re.compile("|".join(alternatives))


_KIND_OF = {t: kind for kind, terms in TERMS.items() for t in terms}
_KIND_OF.update(dict.fromkeys(SUPERLATIVE_TERMS, "superlative"))
#: a part's plural is the part ("zips" -> "zip", "pockets" -> "pocket")
_CANONICAL = {f"{t}{'es' if t.endswith(('s', 'x', 'ch', 'sh')) else 's'}": t for t in TERMS["part"]}
TERM = _term_pattern(sorted([*_KIND_OF, *_CANONICAL], key=lambda t: (-len(t), t)))
#: copy that talks about the task or the check instead of the product
META = re.compile(
    r"\b(?:the|this|that|these|my|your|above) (?:text|facts|prompt|task|instructions?|source)\b|"
    r"\bas an ai\b|\bi (?:cannot|can't|am unable|apologi[sz]e)\b|\bnot in the (?:source|facts)\b|"
    r"\b(?:rewritten|revised|new) (?:text|version)\b|\bsource does not\b|"
    r"\b(?:this|the) (?:ad|advert|post|tweet|description|summary) (?:is|was|highlights|will)\b|"
    r"\bi'm (?:glad|happy|sorry)\b|\bi hope\b|\blet me know\b|\bi'd (?:like|be happy)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Check:
    """One claim looked up: what kind it is, as written, whether the source has it, and
    where (or why not). ``sentence`` is the sentence of the copy it is in (None: the text)."""

    kind: str
    claim: str
    ok: bool
    note: str
    sentence: int | None = None

    def to_json(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Report:
    """The checks of one text, sentence by sentence."""

    sentences: list[str]
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def supported(self) -> list[str]:
        """The sentences none of whose claims failed, each once."""
        bad = {c.sentence for c in self.failures}
        kept = [s for i, s in enumerate(self.sentences) if i not in bad]
        return list(dict.fromkeys(kept))


@dataclass(frozen=True)
class Source:
    """What copy may state: the source text and the prices it may quote (besides the ones
    written in the text) in ``currency``."""

    text: str
    prices: tuple[float, ...] = ()
    currency: str = ""

    @cached_property
    def normalised(self) -> str:
        return normalise(self.text)

    @cached_property
    def segments(self) -> list[str]:
        """The text in short pieces (lines, attribute pairs, sentences) to quote as evidence."""
        parts = re.split(r"\n|;\s|(?<=[.!?。])\s+", self.text)
        return [p.strip() for p in parts if p.strip()]

    @cached_property
    def numbers(self) -> list[Number]:
        return numbers_in(self.text)

    @cached_property
    def price_values(self) -> set[float]:
        found = {n.value for n in self.numbers if n.currency}
        return found | {round(p, 2) for p in self.prices}

    @cached_property
    def currencies(self) -> set[str]:
        found = {n.currency for n in self.numbers if n.currency}
        return found | ({self.currency} if self.currency else set())

    @cached_property
    def terms(self) -> dict[str, set[bool]]:
        """term -> how the source says it: True (affirmed), False (denied)."""
        said: dict[str, set[bool]] = {}
        for term, negated in _terms(self.normalised):
            said.setdefault(term, set()).add(not negated)
        return said

    @cached_property
    def words(self) -> set[str]:
        return set(tokenize(self.text))

    def has_phrase(self, phrase: str) -> bool:
        phrase = normalise(phrase).strip()
        if CJK_RUN.search(phrase):
            return phrase in self.normalised
        pattern = r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])"
        return re.search(pattern, self.normalised) is not None

    def number_evidence(self, value: float, *, price: bool = False) -> str:
        for number in self.numbers:
            if number.value == value and (number.currency or not price):
                return self.evidence(number.text)
        return ""

    def evidence(self, needle: str) -> str:
        """The first piece of the source holding ``needle`` (case-insensitive), shortened."""
        low = normalise(needle).strip()
        for segment in self.segments:
            if low and low in normalise(segment):
                return segment if len(segment) <= 90 else segment[:87] + "…"
        return ""


def _terms(normalised: str) -> list[tuple[str, bool]]:
    """(term, negated) for every vocabulary term in a normalised text."""
    out = []
    for match in TERM.finditer(normalised):
        before = normalised[max(0, match.start() - 40) : match.start()].split()[-3:]
        negated = any(w.strip(",.;:()") in NEGATIONS or w.endswith("n't") for w in before)
        negated = negated or bool(SAID_NO.match(normalised[match.end() : match.end() + 12]))
        term = _CANONICAL.get(match.group(), match.group())
        out.append((term, negated))
    return out


def count_words(text: str) -> int:
    """Words, counting two CJK characters as one (about what a Chinese word is)."""
    cjk = sum(len(m) for m in CJK_RUN.findall(text))
    return len(re.findall(r"[^\W\d_]+|\d+", CJK_RUN.sub(" ", text))) + cjk // 2


def repeats(text: str) -> bool:
    """Whether ``text`` loops: a run of three words said three times or more, one
    character eight times in a row, or a short piece six times in a row."""
    words = normalise(text).split()
    grams = Counter(zip(words, words[1:], words[2:], strict=False))
    if grams and grams.most_common(1)[0][1] >= REPEATED_TRIGRAM:
        return True
    return bool(re.search(r"(\S)\1{7,}|(\S{1,4}\s*)\2{5,}", text))


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s and s.strip()]


class CopyChecker:
    """Checks copy against its :class:`Source`; see the module docstring for the rules."""

    def __init__(self, *, min_words: int = MIN_WORDS) -> None:
        if min_words < 0:
            raise ValueError(f"min_words must be 0 or more, got {min_words}")
        self.min_words = min_words

    def check(
        self,
        text: str,
        source: Source,
        *,
        language: str | None = None,
        subject: str | None = None,
        support: float | None = None,
    ) -> Report:
        """Check ``text`` against ``source``; with ``subject`` (the product's title and
        category), the text must also name the product by one of its words; with
        ``support``, at least that share of its words (summary words aside) must be the
        source's (a review summary that could be any product's says too little)."""
        report = Report(split_sentences(text))
        for n, sentence in enumerate(report.sentences):
            report.checks += self._numbers(sentence, source, n)
            terms = self._terms(sentence, source, n)
            report.checks += terms
            seen = {c.claim.removeprefix("not ") for c in terms}
            report.checks += [
                c for c in self._names(sentence, source, n) if normalise(c.claim) not in seen
            ]
        report.checks += self._quality(text, report.sentences, language)
        if subject and text.strip() and not set(tokenize(subject)) & set(tokenize(text)):
            report.checks.append(Check("quality", subject, False, "does not name the product"))
        if support is not None:
            report.checks += self._support(text, source, support)
        return report

    # ------------------------------------------------------------------ numbers and prices
    def _numbers(self, sentence: str, source: Source, n: int) -> list[Check]:
        checks = []
        for number in numbers_in(sentence):
            if number.currency:
                checks.append(self._price(number, source, n))
                continue
            units = {s.unit for s in source.numbers if s.value == number.value}
            shown = _shown(number.value)
            if not units:
                why = f"{shown} is not in the source"
                checks.append(Check("number", number.text, False, why, n))
                continue
            paired = {s.value for s in source.numbers if s.unit == number.unit}
            measured = number.unit in UNIT_ALIASES.values()
            if number.unit and (measured or paired) and number.unit not in units:
                had = ", ".join(sorted(f"{shown} {u}".strip() for u in units))
                why = f"the source has {had}, not {shown} {number.unit}"
                checks.append(Check("number", number.text, False, why, n))
                continue
            evidence = source.number_evidence(number.value)
            checks.append(Check("number", number.text, True, evidence, n))
        return checks

    def _price(self, number: Number, source: Source, n: int) -> Check:
        shown = f"{number.value:.2f}"
        if number.value not in source.price_values:
            known = ", ".join(f"{p:.2f}" for p in sorted(source.price_values)) or "none"
            return Check("price", number.text, False, f"not a price in the source ({known})", n)
        if source.currencies and not same_currency(number.currency, source.currencies):
            had = "/".join(sorted(source.currencies))
            why = f"in {number.currency}, the source in {had}"
            return Check("price", number.text, False, why, n)
        evidence = source.number_evidence(number.value, price=True) or f"price {shown}"
        return Check("price", number.text, True, evidence, n)

    # ------------------------------------------------------------------ vocabulary terms
    def _terms(self, sentence: str, source: Source, n: int) -> list[Check]:
        text = normalise(sentence)
        checks = []
        for term, negated in _terms(text):
            kind = _KIND_OF[term]
            said = source.terms.get(term, set())
            if kind == "superlative":
                ok = True in said
                why = source.evidence(term) if ok else "a claim of rank the source does not make"
            elif negated:
                ok = False in said
                why = (
                    source.evidence(term)
                    if ok
                    else "the source says it is"
                    if said
                    else "the source does not say so"
                )
                term = f"not {term}"
            else:
                ok = True in said
                why = (
                    source.evidence(term)
                    if ok
                    else "the source says it is not"
                    if said
                    else "not in the source"
                )
            checks.append(Check(kind, term, ok, why, n))
        phrases = [m.group(1) or m.group(2) for m in MOST.finditer(text)]
        for phrase in [*dict.fromkeys(phrases), *(m.group() for m in EST.finditer(text))]:
            if phrase in NOT_SUPERLATIVE or phrase in _KIND_OF:
                continue
            ok = source.has_phrase(phrase)
            why = source.evidence(phrase) if ok else "a superlative the source does not use"
            checks.append(Check("superlative", phrase, ok, why, n))
        return checks

    # ------------------------------------------------------------------ names
    def _names(self, sentence: str, source: Source, n: int) -> list[Check]:
        checks = []
        for match in WORD.finditer(sentence):
            word = match.group()
            if word == word.lower() or word.lower() in NEUTRAL_NAMES or word in CURRENCY_CODES:
                continue  # a currency is checked with its price
            head = sentence[: match.start()].rstrip()
            if head.endswith("#"):
                continue  # a hashtag: its words are checked as terms
            word = re.sub(r"['’]s$", "", word)
            looks_like_name = any(c.isupper() for c in word[1:]) or any(c.isdigit() for c in word)
            opens = not head or head[-1] in OPENERS or unicodedata.category(head[-1])[0] == "S"
            if opens and not looks_like_name:
                continue  # a sentence's first word: capitalised anyway
            if len(word) == 1 and word in "AIS":
                continue  # "A", "I", and the size "S" (sizes are in the facts anyway)
            forms = (word, word[:-1]) if len(word) > 3 and word.endswith("s") else (word,)
            ok = any(source.has_phrase(f) or source.has_phrase(f + "s") for f in forms)
            why = source.evidence(word) if ok else "a name the source does not mention"
            checks.append(Check("name", word, ok, why, n))
        return checks

    # ------------------------------------------------------------------ the text as a whole
    def _support(self, text: str, source: Source, floor: float) -> list[Check]:
        words = set(tokenize(text)) - SUMMARY_WORDS
        if len(words) < 3:
            return []
        share = len(words & source.words) / len(words)
        if share >= floor:
            return []
        why = f"says little the source says ({share:.0%} of its words are the source's)"
        return [Check("quality", text[:40], False, why)]

    def _quality(self, text: str, sentences: Sequence[str], language: str | None) -> list[Check]:
        checks = []
        size = count_words(text)
        if not text.strip():
            return [Check("quality", "", False, "empty")]
        if size < self.min_words:
            checks.append(Check("quality", text[:40], False, f"too short ({size} words)"))
        seen: set[str] = set()
        for sentence in sentences:
            key = normalise(sentence).strip(" .!?")
            if key in seen:
                checks.append(Check("quality", sentence[:60], False, "a sentence said twice"))
                break
            seen.add(key)
        if meta := META.search(text):
            checks.append(
                Check("quality", meta.group(), False, "speaks of the task, not the product")
            )
        if repeats(text):
            checks.append(Check("quality", text[:40], False, "repeats itself"))
        if language in ("en", "zh") and detect_language(text) != language:
            checks.append(
                Check("quality", text[:40], False, f"not in the requested language ({language})")
            )
        return checks


def _shown(value: float) -> str:
    return f"{value:g}" if value < 1e6 else f"{value:.0f}"
