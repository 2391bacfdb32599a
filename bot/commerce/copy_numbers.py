"""Numbers in product copy and in its source: their values, units and currencies, read the
same way on both sides so "20,000 mm", "3-layer", "two pockets", "$249" and "249.00 USD"
compare as the checker needs (:mod:`bot.commerce.copy_check`)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.commerce.copy_terms import NUMBER_WORDS, UNIT_ALIASES
from knowledge.loaders.values import AMBIGUOUS, SYMBOLS

CURRENCY_CODES = frozenset(
    {*SYMBOLS.values(), *(c for _, family in AMBIGUOUS.values() for c in family)}
    | {"EUR", "GBP", "CHF", "SEK", "NOK", "DKK", "JPY", "CNY", "INR", "KRW"}
)
CURRENCY_WORDS = {
    "dollar": "$",
    "dollars": "$",
    "bucks": "$",
    "euro": "EUR",
    "euros": "EUR",
    "yuan": "CNY",
    "rmb": "CNY",
    "元": "CNY",
    "pounds sterling": "GBP",
}
_SIGNS = sorted([*SYMBOLS, *AMBIGUOUS], key=len, reverse=True)
_BEFORE = re.compile(
    r"(?:(?P<sign>" + "|".join(re.escape(s) for s in _SIGNS) + r")|\b(?P<code>[A-Z]{3}))\s?$"
)
NUMBER = re.compile(
    r"(?<![\w.,])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?)"
    r"(?:\s?[-‑]?\s?(?P<unit>[a-zA-Z°%µ\"″元]+(?:/[a-zA-Z0-9]+)*))?"
)
SPELLED = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b\s*([a-z]+)?")
#: words that follow a number without being its unit ("2 and 3", "5 of them")
NOT_UNITS = frozenset("a an and or of to the with for from per by on at as is are".split())


@dataclass(frozen=True)
class Number:
    text: str
    value: float
    unit: str  # canonical unit, another word's stem, or ""
    currency: str  # ISO code or "$" / "¥" (a family), "" when it is no price
    start: int = 0


def _value(raw: str) -> float:
    if "," in raw and re.fullmatch(r"\d+,\d{1,2}", raw):  # 1,5 (a decimal comma)
        raw = raw.replace(",", ".")
    return round(float(raw.replace(",", "")), 4)


def _unit(word: str) -> str:
    low = word.lower()
    if low in UNIT_ALIASES:
        return UNIT_ALIASES[low]
    if word in ("L",):
        return "l"
    return low[:-1] if len(low) > 3 and low.endswith("s") else low


def numbers_in(text: str) -> list[Number]:
    """The numbers of ``text`` with their units and currencies (spelled counts included)."""
    text = unicodedata.normalize("NFKC", text)
    found: list[Number] = []
    for match in NUMBER.finditer(text):
        unit_word = match.group("unit") or ""
        currency = ""
        window = max(0, match.start() - 4)
        before = _BEFORE.search(text[window : match.start()])
        start = window + before.start() if before else match.start()
        if before and before.group("sign"):
            sign = before.group("sign")
            currency = SYMBOLS.get(sign, sign)
        elif before and before.group("code") in CURRENCY_CODES:
            currency = before.group("code")
        else:
            start = match.start()
        after = text[match.end() : match.end() + 2]
        if not currency and not unit_word and after.strip()[:1] in ("$", "€", "£", "¥"):
            currency = SYMBOLS.get(after.strip()[0], after.strip()[0])
        if unit_word == "in" and re.match(r"\s+[a-z]", text[match.end() :]):
            unit_word = ""  # "available in 3 in total": inches only before a non-word
        unit = ""
        if unit_word.upper() in CURRENCY_CODES:
            currency = currency or unit_word.upper()
        elif unit_word.lower() in CURRENCY_WORDS:
            currency = currency or CURRENCY_WORDS[unit_word.lower()]
        elif unit_word in SYMBOLS or unit_word in AMBIGUOUS:
            currency = currency or SYMBOLS.get(unit_word, unit_word)
        elif unit_word and unit_word.lower() not in NOT_UNITS:
            unit = _unit(unit_word)
        end = match.end() if unit or (unit_word and currency) else match.end("num")
        value = _value(match.group("num"))
        found.append(Number(text[start:end].strip(), value, unit, currency, start))
    for match in SPELLED.finditer(text.lower()):
        word = match.group(2) or ""
        unit = _unit(word) if word and word not in NOT_UNITS else ""
        value = float(NUMBER_WORDS[match.group(1)])
        found.append(Number(match.group(0).strip(), value, unit, "", match.start()))
    return found


def same_currency(currency: str, known: set[str]) -> bool:
    for sign, (_, family) in AMBIGUOUS.items():
        if currency == sign:
            return bool(known & (family | {sign}))
        if sign in known and currency in family:
            return True
    return currency in known
