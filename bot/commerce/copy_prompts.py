"""What each copy task asks the generator for, and how: the settings of a run, the prompt
built from an item's facts (or reviews), and the feedback a rejected attempt gets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bot.commerce.copy_items import CopyItem
from bot.generators.base import ChatMessage

LENGTHS = ("short", "medium", "long")
LANGUAGES = {
    "en": "English",
    "zh": "Simplified Chinese",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
    "pt": "Portuguese",
    "ja": "Japanese",
}
#: most characters of a store's description put in a prompt
DESCRIPTION_CHARS = 700
#: most characters of one review put in a prompt, and most reviews
REVIEW_CHARS = 400
REVIEWS_SHOWN = 8

SYSTEM = (
    "You write product copy for an online shop. Use only the facts you are given. Never "
    "add numbers, prices, sizes, materials, certifications, brands, awards or rankings "
    "that are not in the facts."
)
SYSTEM_REVIEWS = (
    "You summarise customer reviews for an online shop. Say only what the reviews say. "
    "Never add numbers, prices, materials, brands or rankings that are not in the reviews."
)


@dataclass(frozen=True)
class Task:
    name: str
    #: the request, with {words}, {tone} and {language}
    ask: str
    #: target words by length
    words: dict[str, int]
    #: fewer words than this is no copy
    min_words: int
    default_tone: str
    hashtags: bool = False
    reviews: bool = False
    #: whether the prompt lists the price
    price: bool = False


TASKS: dict[str, Task] = {
    "description": Task(
        "description",
        "Write a product description of about {words} words in a {tone} tone, in {language}. "
        "Plain sentences only: no title, no list, no hashtags.",
        {"short": 40, "medium": 80, "long": 140},
        min_words=12,
        default_tone="friendly",
    ),
    "ad": Task(
        "ad",
        "Write an ad of about {words} words in a {tone} tone, in {language}: one or two "
        "sentences that make a shopper want it. No title, no hashtags.",
        {"short": 15, "medium": 25, "long": 40},
        min_words=6,
        default_tone="friendly",
        price=True,
    ),
    "social": Task(
        "social",
        "Write a social media post of about {words} words in a {tone} tone, in {language}: "
        "sentences in words (no emoji), then up to three hashtags.",
        {"short": 20, "medium": 35, "long": 60},
        min_words=6,
        default_tone="friendly",
        hashtags=True,
        price=True,
    ),
    "review-summary": Task(
        "review-summary",
        "Summarise what these reviewers say about the product, what they like and what "
        "they dislike, in about {words} words, in a {tone} tone, in {language}. Plain "
        "sentences only.",
        {"short": 30, "medium": 60, "long": 100},
        min_words=10,
        default_tone="neutral",
        reviews=True,
    ),
}


@dataclass(frozen=True)
class CopySettings:
    """One run's settings: the task, its tone, length and language, and how often failed
    copy is written again. ``length`` is short, medium, long or a number of words."""

    task: str
    tone: str | None = None
    length: str = "medium"
    language: str = "en"
    retries: int = 2

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}: use one of {', '.join(TASKS)}")
        if self.tone is not None:
            tone = self.tone.strip()
            if not tone or len(tone) > 40 or "\n" in tone:
                raise ValueError(
                    f"tone must be a few words on one line (e.g. friendly, expert, playful), "
                    f"got {self.tone!r}"
                )
        if self.length not in LENGTHS and not (
            self.length.isdigit() and 5 <= int(self.length) <= 400
        ):
            raise ValueError(
                f"length must be short, medium, long or a number of words from 5 to 400, "
                f"got {self.length!r}"
            )
        if self.language not in LANGUAGES:
            raise ValueError(
                f"unknown language {self.language!r}: use one of {', '.join(LANGUAGES)}"
            )
        if not 0 <= self.retries <= 10:
            raise ValueError(f"retries must be from 0 to 10, got {self.retries}")

    @property
    def words(self) -> int:
        if self.length.isdigit():
            return int(self.length)
        return TASKS[self.task].words[self.length]

    @property
    def tone_used(self) -> str:
        return (self.tone or TASKS[self.task].default_tone).strip()

    @property
    def max_new_tokens(self) -> int:
        """Room for the copy: about 1.6 tokens a word (3 for languages written without
        spaces), a little over the length asked for."""
        per_word = 3.0 if self.language in ("zh", "ja") else 1.6
        return int(self.words * per_word) + 16

    @property
    def checked_language(self) -> str | None:
        """The language the checker verifies (it tells English from Chinese only)."""
        return self.language if self.language in ("en", "zh") else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tone"] = self.tone_used
        return data


def facts_block(item: CopyItem, *, price: bool) -> str:
    lines = [f"- Name: {item.title}"]
    for label, value in item.facts:
        if label == "Price" and not price:
            continue
        lines.append(f"- {label}: {value}")
    if item.description:
        text = item.description
        if len(text) > DESCRIPTION_CHARS:
            text = text[:DESCRIPTION_CHARS].rsplit(" ", 1)[0] + " …"
        lines.append(f"- Store's description: {text}")
    return "\n".join(lines)


def reviews_block(item: CopyItem) -> str:
    lines = []
    for n, review in enumerate(item.reviews[:REVIEWS_SHOWN], 1):
        text = " ".join(review.split())
        if len(text) > REVIEW_CHARS:
            text = text[:REVIEW_CHARS].rsplit(" ", 1)[0] + " …"
        lines.append(f"{n}. {text}")
    return "\n".join(lines)


def messages(item: CopyItem, settings: CopySettings) -> list[ChatMessage]:
    """The first attempt's prompt."""
    task = TASKS[settings.task]
    ask = task.ask.format(
        words=settings.words, tone=settings.tone_used, language=LANGUAGES[settings.language]
    )
    if task.reviews:
        user = f"Reviews of {item.title}:\n{reviews_block(item)}\n\n{ask}"
        return [ChatMessage("system", SYSTEM_REVIEWS), ChatMessage("user", user)]
    user = f"Product facts:\n{facts_block(item, price=task.price)}\n\n{ask}"
    return [ChatMessage("system", SYSTEM), ChatMessage("user", user)]


def feedback(text: str, failures: Sequence[Any], settings: CopySettings) -> list[ChatMessage]:
    """The turns that follow a rejected attempt: the attempt, and what to leave out of the
    next (claims only, no explanations: a small model repeats what it is told)."""
    task = TASKS[settings.task]
    where = "the reviews" if task.reviews else "the facts"
    claims = list(dict.fromkeys(f'"{c.claim}"' for c in failures if c.kind != "quality"))[:6]
    issues = list(dict.fromkeys(c.note for c in failures if c.kind == "quality"))[:3]
    parts = [f"Leave out {', '.join(claims)}: {where} do not say so."] if claims else []
    issues = [i for i in issues if i != "speaks of the task, not the product"]
    parts += [f"Problems: {'; '.join(issues)}."] if issues else []
    ask = " ".join([*parts, f"Write it again, about {settings.words} words, using only {where}."])
    return [ChatMessage("assistant", text or "(nothing)"), ChatMessage("user", ask)]
