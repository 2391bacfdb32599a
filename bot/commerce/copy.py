"""Product copy written from the catalogue: descriptions, ads, social posts and review
summaries, each kept to the product's own facts.

:class:`CopyWriter` asks the generator for a text, tidies it (preambles, headings, length)
and checks every claim in it against the product (:mod:`bot.commerce.copy_check`). Copy
that passes is kept. Copy that fails is written again, the generator told what was wrong,
up to ``retries`` times (sampling, so a retry can differ). When no attempt passes, the
sentences that did pass are kept if they make a text of their own ("trimmed"); otherwise
the copy is built from the product's own words (``fallback``: its description's sentences
and its attributes, or for a review summary the reviews' most shared sentences). Nothing in
a fallback is invented, and every result records what was checked and what was rejected.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.commerce.copy_check import (
    Check,
    CopyChecker,
    Report,
    Source,
    count_words,
    split_sentences,
)
from bot.commerce.copy_fallback import extractive
from bot.commerce.copy_items import CopyItem
from bot.commerce.copy_prompts import TASKS, CopySettings, feedback, messages
from bot.generators.base import Generator, GeneratorError

__all__ = [
    "TASKS",
    "CopyItem",
    "CopyResult",
    "CopySettings",
    "CopyWriter",
    "Source",
    "statuses",
    "tidy",
]

log = logging.getLogger(__name__)
STATUSES = ("passed", "regenerated", "trimmed", "fallback")
PREAMBLE = re.compile(
    r"^\s*(?:sure|certainly|of course|absolutely|okay|ok|here(?:'s| is| are)|"
    r"below is)\b[^\n]{0,80}?[:!.]\s*(?:\n|$)",
    re.IGNORECASE,
)
LABEL = re.compile(
    r"^\s*(?:product description|description|ad copy|ad|advert|social media post|post|"
    r"caption|summary|review summary|headline|title)\s*[:：]\s*",
    re.IGNORECASE,
)
ENDS = (".", "!", "?", "。", "！", "？", "…")
HASHTAGS_KEPT = 3
#: share of a review summary's words that must be the reviews' (summary words aside): on
#: FewSum's train split, every human summary but one (0.33 of 84) is at 0.35 or above
SUMMARY_SUPPORT = 0.35


@dataclass
class CopyResult:
    """One item's copy: the text, how it was reached, and the evidence."""

    id: str
    title: str
    task: str
    text: str
    #: passed (first attempt), regenerated, trimmed (the passing sentences of an attempt)
    #: or fallback (built from the source's own words)
    status: str
    #: generator calls made
    attempts: int
    #: the claims of the kept text, each with where the source says it
    checks: list[dict[str, Any]] = field(default_factory=list)
    #: every attempt not kept as it was: its text and the reasons
    rejected: list[dict[str, Any]] = field(default_factory=list)
    model: str = ""
    seconds: float = 0.0
    source_hash: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "task": self.task,
            "status": self.status,
            "attempts": self.attempts,
            "text": self.text,
            "checks": self.checks,
            "rejected": self.rejected,
            "model": self.model,
            "seconds": round(self.seconds, 3),
            "source_hash": self.source_hash,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CopyResult:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


class CopyWriter:
    """Writes one task's copy for catalogue items with ``generator``, checked by ``checker``.

    ``retries``: how many times failed copy is written again (0: never); ``trim``: whether
    the passing sentences of a failed attempt may be kept; ``retry_temperature``: sampling
    temperature of the retries (the first attempt is greedy).
    """

    def __init__(
        self,
        generator: Generator,
        settings: CopySettings,
        *,
        checker: CopyChecker | None = None,
        trim: bool = True,
        retry_temperature: float = 0.7,
    ) -> None:
        if retry_temperature < 0:
            raise ValueError(f"retry_temperature must be >= 0, got {retry_temperature}")
        self.generator = generator
        self.settings = settings
        self.task = TASKS[settings.task]
        self.checker = checker or CopyChecker(min_words=self.task.min_words)
        self.trim = trim
        self.retry_temperature = retry_temperature

    @property
    def model(self) -> str:
        return getattr(self.generator, "name", type(self.generator).__name__)

    def write(self, item: CopyItem) -> CopyResult:
        started = time.perf_counter()
        settings = self.settings
        chat = messages(item, settings)
        rejected: list[dict[str, Any]] = []
        trimmed: tuple[int, str, Report, int] | None = None
        attempts = 0
        for attempt in range(1, settings.retries + 2):
            attempts = attempt
            try:
                raw = self.generator.generate(
                    chat,
                    max_new_tokens=settings.max_new_tokens,
                    temperature=0.0 if attempt == 1 else self.retry_temperature,
                )
            except GeneratorError as exc:
                log.warning("the generator failed on %s: %s", item.id, exc)
                rejected.append({"attempt": attempt, "text": "", "reasons": [_failed(exc)]})
                continue
            stats = getattr(self.generator, "last_stats", None)
            cut = stats is not None and stats.finish_reason == "length"
            text = tidy(raw, hashtags=self.task.hashtags, words=settings.words, cut=cut)
            report = self.check(text, item)
            if report.passed:
                status = "passed" if attempt == 1 else "regenerated"
                return self._result(item, text, status, attempts, report, rejected, started)
            rejected.append(
                {
                    "attempt": attempt,
                    "text": text,
                    "reasons": [_reason(c) for c in _unique(report.failures)],
                }
            )
            candidate = self._trimmed(report, item)
            if candidate and (trimmed is None or candidate[0] > trimmed[0]):
                trimmed = (*candidate, attempt)
            chat = [*messages(item, settings), *feedback(text, report.failures, settings)]
        if trimmed is not None:
            _, text, report, attempt = trimmed
            kept = set(split_sentences(text))
            for record in rejected:
                if record["attempt"] == attempt:
                    record["removed"] = [
                        s for s in split_sentences(record["text"]) if s not in kept
                    ]
            return self._result(item, text, "trimmed", attempts, report, rejected, started)
        text = extractive(item, settings)
        report = self.check(text, item)
        return self._result(item, text, "fallback", attempts, report, rejected, started)

    def check(self, text: str, item: CopyItem) -> Report:
        subject = None if self.task.reviews else f"{item.title} {item.category}"
        report = self.checker.check(
            text,
            item.source,
            language=self.settings.checked_language,
            subject=subject,
            support=SUMMARY_SUPPORT if self.task.reviews else None,
        )
        if text and not text.rstrip().endswith(ENDS) and not _ends_with_tags(text):
            report.checks.append(_unfinished(text))
        return report

    def _trimmed(self, report: Report, item: CopyItem) -> tuple[int, str, Report] | None:
        if not self.trim:
            return None
        kept = report.supported()
        if len(kept) == len(report.sentences):
            return None  # nothing to take out: the failure is the whole text's
        text = " ".join(kept)
        words = count_words(text)
        if words < max(self.task.min_words, self.settings.words // 3):
            return None
        again = self.check(text, item)
        return (words, text, again) if again.passed else None

    def _result(
        self,
        item: CopyItem,
        text: str,
        status: str,
        attempts: int,
        report: Report,
        rejected: list[dict[str, Any]],
        started: float,
    ) -> CopyResult:
        return CopyResult(
            id=item.id,
            title=item.title,
            task=self.settings.task,
            text=text,
            status=status,
            attempts=attempts,
            checks=[c.to_json() for c in _unique(report.checks)],
            rejected=rejected,
            model=self.model,
            seconds=time.perf_counter() - started,
            source_hash=item.hash,
        )


def tidy(raw: str, *, hashtags: bool, words: int, cut: bool = False) -> str:
    """The generated text as copy: no preamble ("Sure! Here's..."), labels, markdown or
    headings; at most about 1.5 times ``words`` long, cut at a sentence; an unfinished last
    sentence dropped when the model ran out of tokens (``cut``)."""
    text = raw.strip().replace("**", "").replace("__", "")
    text = PREAMBLE.sub("", text, count=1)
    lines = []
    for line in text.splitlines():
        line = LABEL.sub("", re.sub(r"^\s*(?:#{1,6}\s+|[-*•]\s+|\d{1,2}[.)]\s+)", "", line))
        line = line.strip().strip('"“”').strip()
        if line and not _heading(line):
            lines.append(line)
    tags: list[str] = []
    if hashtags:
        tags = list(dict.fromkeys(re.findall(r"#\w+", " ".join(lines))))[:HASHTAGS_KEPT]
    lines = [re.sub(r"#\w+", "", line).strip() if hashtags else line for line in lines]
    sentences = split_sentences("\n".join(line for line in lines if line))
    if cut and len(sentences) > 1 and not sentences[-1].endswith(ENDS):
        sentences.pop()
    kept: list[str] = []
    total = 0
    for sentence in sentences:
        size = count_words(sentence)
        if kept and total + size > words * 1.5:
            break
        kept.append(sentence)
        total += size
    return " ".join([*kept, *tags]).strip()


def _heading(line: str) -> bool:
    """A short line in Title Case without an ending: a heading, not copy."""
    if line.endswith(ENDS) or line.startswith("#"):
        return False
    words = re.findall(r"[A-Za-z][\w'’-]*", line)
    if not words or len(words) > 10 or len(words) < 2:
        return False
    return sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def _ends_with_tags(text: str) -> bool:
    return bool(re.search(r"#\w+\s*$", text))


def _unique(checks: Sequence[Check]) -> list[Check]:
    """Each claim once (a claim made in three sentences is one claim, checked once)."""
    seen: set[tuple[str, str, bool]] = set()
    out = []
    for check in checks:
        key = (check.kind, check.claim, check.ok)
        if key not in seen:
            seen.add(key)
            out.append(check)
    return out


def _reason(check: Any) -> dict[str, Any]:
    return {"kind": check.kind, "claim": check.claim, "why": check.note}


def _failed(exc: Exception) -> dict[str, Any]:
    return {"kind": "generator", "claim": "", "why": str(exc)}


def _unfinished(text: str) -> Check:
    return Check("quality", text[-40:], False, "ends mid-sentence")


def statuses(results: Sequence[CopyResult]) -> dict[str, int]:
    """How many results reached each status."""
    counts = dict.fromkeys(STATUSES, 0)
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    return counts
