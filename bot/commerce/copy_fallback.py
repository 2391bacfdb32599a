"""Copy built from an item's own words, for when no generated attempt passes the check:
the store's description sentences and attributes (a description, an ad, a post), or the
sentences its reviews share most (a review summary). It states nothing the source does not,
since every phrase is the source's; it reads plainer than written copy."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.commerce.copy_check import CopyChecker, Source, count_words, repeats, split_sentences
from knowledge.text import detect_language, tokenize

if TYPE_CHECKING:
    from bot.commerce.copy_items import CopyItem
    from bot.commerce.copy_prompts import CopySettings

#: attributes a fallback names first (the rest follow in catalogue order)
KEY_FACTS = ("material", "fill", "insulation", "weight", "waterproof_rating", "capacity")
#: sentences of a review summary: not too short to say something, not too long to read
REVIEW_SENTENCE_WORDS = (5, 35)
#: a sentence whose words overlap a kept one's this much (Jaccard) says the same thing again
NEAR_DUPLICATE = 0.6


def extractive(item: CopyItem, settings: CopySettings) -> str:
    """The fallback copy of ``item`` for ``settings.task``, about ``settings.words`` long."""
    if settings.task == "review-summary":
        return review_summary(item.reviews, words=settings.words, source=item.source)
    sentences = own_sentences(item.description, settings.language)
    title = own_title(item.title, settings.language)
    words = settings.words
    if settings.task == "description":
        text = _take(sentences, words)
        if count_words(text) < words * 0.6 and (facts := _facts(item, 3)):
            text = f"{text} {facts}".strip()
        return text or f"{title}. {_facts(item, 5)}".strip()
    price = dict(item.facts).get("Price")
    first = _take(sentences, words, at_most=1)
    head = f"{title}: {first}" if first and count_words(first) <= words * 1.6 else ""
    head = head or f"{title}. {_facts(item, 2)}".strip()
    text = f"{head} {price}." if price else head
    if settings.task == "social":
        text = f"{text} {' '.join(hashtags(item))}".strip()
    return text


def own_sentences(text: str, language: str) -> list[str]:
    """The sentences of ``text`` in ``language`` (English or Chinese; others: all of them),
    so a bilingual description gives each language its own half."""
    sentences = split_sentences(text)
    if language in ("en", "zh"):
        sentences = [s for s in sentences if detect_language(s) == language] or sentences
    return sentences


def own_title(title: str, language: str) -> str:
    """The part of a bilingual title ("Down Jacket (Men's) / 男款羽绒服") in ``language``."""
    parts = [p.strip() for p in title.split(" / ") if p.strip()]
    if len(parts) > 1 and language in ("en", "zh"):
        return next((p for p in parts if detect_language(p) == language), title)
    return title


def _take(sentences: list[str], words: int, *, at_most: int | None = None) -> str:
    kept: list[str] = []
    total = 0
    for sentence in sentences:
        size = count_words(sentence)
        if kept and total + size > words * 1.3:
            break
        kept.append(sentence)
        total += size
        if at_most and len(kept) >= at_most:
            break
    return " ".join(kept)


def _facts(item: CopyItem, n: int) -> str:
    """Up to ``n`` attributes as one sentence ("Material: 20D recycled nylon; weight: 395 g.")."""
    facts = [(k, v) for k, v in item.facts if k not in ("Brand", "Category", "Price", "Tags")]
    order = {k.replace("_", " "): i for i, k in enumerate(KEY_FACTS)}
    facts.sort(key=lambda kv: order.get(kv[0], len(order)))
    if not facts:
        return ""
    text = "; ".join(f"{k}: {v}" for k, v in facts[:n])
    return text[0].upper() + text[1:] + "."


def hashtags(item: CopyItem, n: int = 3) -> list[str]:
    """Hashtags from the item's category and tags (its own words)."""
    words = [item.category, *item.tags]
    tags = [re.sub(r"[^\w]", "", w.title()) for w in words if w]
    return [f"#{t}" for t in dict.fromkeys(t for t in tags if t)][:n]


def review_summary(reviews: list[str], *, words: int, source: Source | None = None) -> str:
    """The reviews' most shared sentences: each sentence scored by how many of its words
    the *other* reviews use (centrality), at most one per review, best first. A sentence
    that says a kept one again (near-identical words), or that would make the summary
    repeat itself as the checker sees it (three words said three times), is passed over
    for the next one: the summary covers more of what the reviews say, and passes. With
    ``source`` (what the summary is checked against), a sentence the checker would reject
    on its own is passed over too: a reviewer's "not the best" is no "best", and "I can't
    say" reads as a summary that speaks of itself."""
    checker = CopyChecker(min_words=0) if source is not None else None
    candidates: list[tuple[float, int, str]] = []
    bags = [set(tokenize(r)) for r in reviews]
    low, high = REVIEW_SENTENCE_WORDS
    for n, review in enumerate(reviews):
        for sentence in split_sentences(review):
            size = count_words(sentence)
            if not low <= size <= high or repeats(sentence):
                continue
            if checker is not None and not checker.check(sentence, source).passed:
                continue
            own = set(tokenize(sentence))
            if not own:
                continue
            shared = sum(len(own & bag) for m, bag in enumerate(bags) if m != n)
            candidates.append((shared / len(own) ** 0.5, n, sentence))
    candidates.sort(key=lambda c: -c[0])
    kept: list[str] = []
    kept_words: list[set[str]] = []
    used: set[int] = set()
    total = 0
    for _, n, sentence in candidates:
        if n in used:
            continue
        if kept and total + count_words(sentence) > words * 1.3:
            continue
        own = set(tokenize(sentence))
        if any(_overlap(own, other) >= NEAR_DUPLICATE for other in kept_words):
            continue
        if repeats(" ".join([*kept, sentence])):
            continue
        kept.append(sentence)
        kept_words.append(own)
        used.add(n)
        total += count_words(sentence)
        if total >= words:
            break
    if not kept and reviews:
        kept = [split_sentences(reviews[0])[0]] if split_sentences(reviews[0]) else []
    return " ".join(kept)


def _overlap(a: set[str], b: set[str]) -> float:
    """Jaccard overlap of two sentences' words (stemmed tokens)."""
    return len(a & b) / len(a | b) if a and b else 0.0
