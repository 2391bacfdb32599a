"""Why a product is recommended, in one line built from its own catalogue data (the
attributes asked for, the facts that match the request, its price, a comparison with the
product the request refers to), and the reply's text around the picks.

Nothing is stated that the product's metadata does not hold: an attribute is named only
with the value the catalogue gives, a description is quoted, not paraphrased.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot.commerce.catalogue import Item, size_fits
from bot.commerce.constraints import Constraints
from bot.commerce.glossary import EN_ZH
from knowledge.text import CJK_RUN, tokenize

if TYPE_CHECKING:
    from bot.commerce.recommend import Recommendation

SYMBOL = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "CNY": "¥",
    "JPY": "¥",
    "CAD": "CA$",
    "AUD": "A$",
    "NZD": "NZ$",
    "HKD": "HK$",
    "SGD": "S$",
    "INR": "₹",
    "KRW": "₩",
}
GENDER_LABEL = {"men": "men's", "women": "women's", "unisex": "unisex", "kids": "kids'"}
#: attributes that are never the interesting fact about a product
PLAIN_KEYS = frozenset(
    ("brand", "gender", "color", "colour", "sizes", "size", "gtin", "mpn", "age_group", "condition")
)
SNIPPET_CHARS = 70
REASON_CHARS = 170

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "recommend_intro": "Here are {n} suggestions{summary}:",
        "recommend_intro_one": "Here is one suggestion{summary}:",
        "recommend_none": "I couldn't find anything in our catalogue that matches{summary}. "
        "Try a higher budget or fewer details.",
        "recommend_missing": "We don't seem to carry {what}. Our range: {categories}.",
        "recommend_missing_ideas": "Some other ideas{summary}:",
        "recommend_sold_out": "Also a match, but out of stock right now: {titles}.",
        "recommend_currency": "Our prices are in {catalogue}, so I couldn't apply a limit "
        "given in {asked}.",
        "recommend_only_sold_out": "This matches but is out of stock right now: {titles}.",
        "recommend_relaxed": "Nothing matched every detail, so these come closest.",
        "recommend_no_history": "I can't see your past orders here, so I went by your description.",
        "recommend_hint": "Ask for “cheaper”, “lighter” or “in women's” to narrow these down.",
    },
    "zh": {
        "recommend_intro": "为您推荐 {n} 款{summary}：",
        "recommend_intro_one": "为您推荐 1 款{summary}：",
        "recommend_none": "抱歉，没有找到符合{summary}的商品。可以放宽预算或条件再试试。",
        "recommend_missing": "抱歉，本店暂时没有{what}。我们主要销售：{categories}。",
        "recommend_missing_ideas": "以下商品也许合适{summary}：",
        "recommend_sold_out": "以下商品也符合，但目前缺货：{titles}。",
        "recommend_currency": "本店价格以{catalogue}标价，无法按{asked}金额筛选。",
        "recommend_only_sold_out": "符合条件但目前缺货：{titles}。",
        "recommend_relaxed": "没有完全符合所有条件的商品，以下是最接近的。",
        "recommend_no_history": "我这里看不到您的购买记录，先按您的描述推荐。",
        "recommend_hint": "可以说“更便宜的”“更轻的”或“女款”来筛选。",
    },
}


def text_for(key: str, language: str, overrides: Mapping | None = None, **values: object) -> str:
    """A reply text: ``bot.messages`` overrides first, then the defaults above."""
    table = (overrides or {}).get(language, {}) or {}
    text = table.get(key) or MESSAGES.get(language, {}).get(key) or MESSAGES["en"][key]
    return text.format(**values)


def money(amount: float | None, currency: str, high: float | None = None) -> str:
    """ "$149", "$40–90", "149.00 CHF"."""
    if amount is None:
        return ""

    def num(x: float) -> str:
        return f"{x:,.0f}" if abs(x - round(x)) < 0.005 else f"{x:,.2f}"

    span = num(amount) + (f"–{num(high)}" if high is not None and high > amount else "")
    symbol = SYMBOL.get(currency)
    return f"{symbol}{span}" if symbol else f"{span} {currency}".strip()


def price_of(item: Item) -> str:
    p = item.product
    return money(p.price, p.currency, p.price_max)


def _weight_text(item: Item) -> str:
    attrs = {k.lower(): v for k, v in item.product.attributes.items()}
    for key in ("weight", "trail_weight", "packed_weight"):
        if key in attrs:
            return attrs[key]
    return f"{item.weight_g:g} g" if item.weight_g is not None else ""


def _label(word: str, language: str) -> str:
    return EN_ZH.get(word, word) if language == "zh" else word


def _asked_facts(item: Item, c: Constraints, language: str) -> list[str]:
    """The attributes the request asked for, with the value the product has."""
    attrs = {k.lower(): v for k, v in item.product.attributes.items()}
    parts = []
    for key, wanted in c.flags.items():
        if item.flags.get(key) is not wanted:
            continue  # never claimed unless the catalogue says so
        label = _label(key.replace("_", " "), language)
        if not wanted:
            parts.append(("不" if language == "zh" else "not ") + label)
            continue
        rating = attrs.get(f"{key}_rating")
        parts.append(f"{label} ({rating})" if rating else label)
    if c.gender and item.gender:
        parts.append(
            _label(item.gender, language)
            if language == "zh"
            else GENDER_LABEL.get(item.gender, item.gender)
        )
    for colour in item.colours:
        if any(w.lower() in colour.lower() for w in c.colours):
            parts.append(colour if language == "zh" else f"in {colour}")
            break
    if c.size and item.sizes and size_fits(c.size, item.sizes):
        parts.append(f"{c.size} 码" if language == "zh" else f"size {c.size}")
    return parts


def _matching_facts(item: Item, words: set[str], used: str) -> list[str]:
    """Attribute values that share words with the request ("3-layer recycled nylon")."""
    out = []
    for key, value in item.product.attributes.items():
        k = key.lower()
        if k in PLAIN_KEYS or k.startswith("weight") or value.lower() in used.lower():
            continue
        if k in item.flags or (k.endswith("_rating") and k.removesuffix("_rating") in item.flags):
            continue
        if words & set(tokenize(f"{key.replace('_', ' ')} {value}")):
            # a bare number says nothing without its name: "capacity: 12 L"
            out.append(f"{key.replace('_', ' ')}: {value}" if value[:1].isdigit() else value)
        if len(out) == 2:
            break
    return out


def _snippet(item: Item, words: set[str], language: str) -> str:
    """The description's sentence that shares most words with the request, shortened."""
    sentences = re.split(r"(?<=[.!?])\s+|(?<=[。！？])", item.product.description)
    sentences = [s.strip() for s in sentences]
    sentences = [s for s in sentences if s]
    if language == "zh":
        zh = [s for s in sentences if CJK_RUN.search(s)]
        sentences = zh or sentences
    else:
        sentences = [s for s in sentences if not CJK_RUN.search(s)] or sentences
    if not sentences:
        return ""
    best = max(sentences, key=lambda s: len(words & set(tokenize(s))))
    if not words & set(tokenize(best)):
        best = sentences[0]
    best = best.rstrip(".。")
    if len(best) > SNIPPET_CHARS:
        cut = (
            best[:SNIPPET_CHARS].rsplit(" ", 1)[0]
            if " " in best[:SNIPPET_CHARS]
            else best[:SNIPPET_CHARS]
        )
        best = cut.rstrip(",;:") + "…"
    first = best.split(" ", 1)[0]
    if (first[:1].isupper() and first[1:].islower()) or first in ("A", "An"):
        best = best[:1].lower() + best[1:]  # a sentence's capital, not a name's
    return best


def _comparison(item: Item, c: Constraints, result: Recommendation, language: str) -> str:
    """ "lighter than the Scree Mid ... you bought (540 g per boot)"."""
    anchor = result.anchor
    if anchor is None:
        return ""
    whose = "you bought" if result.references else "above"
    name = anchor.short_title
    zh = language == "zh"
    if "lighter" in c.relative and anchor.weight_g and item.weight_g:
        if zh:
            yours = "您买过的 " if result.references else ""
            return f"比{yours}{name} 更轻（{_weight_text(anchor)}）"
        return f"lighter than the {name} {whose} ({_weight_text(anchor)})"
    if "cheaper" in c.relative and anchor.product.price and item.product.price is not None:
        saved = money(anchor.product.price - item.product.price, item.product.currency)
        return f"比 {name} 便宜 {saved}" if zh else f"{saved} less than the {name}"
    if result.references:
        attrs = {k.lower(): v for k, v in item.product.attributes.items()}
        for key, value in anchor.product.attributes.items():
            k = key.lower()
            if k in PLAIN_KEYS or k.startswith("weight") or k in item.flags:
                continue
            if attrs.get(k) == value:
                label = key.replace("_", " ")
                if zh:
                    return f"与您买过的 {name} 相同的 {label}"
                return f"same {label} as the {name} you bought"
    return ""


def reason_for(
    item: Item,
    c: Constraints,
    result: Recommendation,
    history: list[tuple[Item, str]],
    *,
    language: str = "en",
) -> str:
    """One line: asked-for attributes, matching facts or a description snippet, weight when
    it matters, the price, and a comparison or the history product behind the pick."""
    words = set(tokenize(c.query))
    parts = _asked_facts(item, c, language)
    used = " ".join(parts)
    facts = _matching_facts(item, words, used)
    parts += facts
    snippet = ""
    if not facts:
        snippet = _snippet(item, words | {w for h, _ in history for w in h.nouns}, language)
        if snippet:
            parts.append(snippet)
    if ("lighter" in c.relative or "heavier" in c.relative or c.weight_max_g) and (
        _weight_text(item) and _weight_text(item) not in used
    ):
        parts.append(_weight_text(item))
    price = price_of(item)
    if price:
        parts.append(price)
    joiner = "，" if language == "zh" else ", "
    line = joiner.join(p for p in parts if p)
    tail = _comparison(item, c, result, language)
    if not tail and history and not result.references:
        ref, kind = history[0]
        if language == "zh":
            verb = {"bought": "买过", "viewed": "看过"}.get(kind, "提到过")
            tail = f"因为您{verb} {ref.short_title}"
        else:
            verb = {"bought": "bought", "viewed": "looked at"}.get(kind, "mentioned")
            tail = f"because you {verb} the {ref.short_title}"
    if tail:
        line = f"{line} — {tail}" if line else tail
    if len(line) > REASON_CHARS and snippet and len(parts) > 2:  # the quote gives way first
        parts = [p for p in parts if p != snippet]
        line = joiner.join(parts) + (f" — {tail}" if tail else "")
    return line


# ---------------------------------------------------------------------------- reply text
def summary(c: Constraints, result: Recommendation, language: str) -> str:
    """The constraints understood, for the reply's first line: " (waterproof · jackets ·
    up to $150 · in stock)"."""
    zh = language == "zh"
    bits: list[str] = []
    if c.gender:
        bits.append(EN_ZH.get(c.gender, c.gender) if zh else GENDER_LABEL.get(c.gender, c.gender))
    bits += [
        _label(k.replace("_", " "), language)
        if v
        else ("不" if zh else "not ") + _label(k.replace("_", " "), language)
        for k, v in c.flags.items()
    ]
    bits += c.colours
    if c.size:
        bits.append(f"{c.size} 码" if zh else f"size {c.size}")
    bits += c.categories[:1] if c.categories else c.nouns[:1]
    currency = c.currency or result.catalogue_currency
    if not result.currency_unmatched and (c.price_min is not None or c.price_max is not None):
        if c.price_min is not None and c.price_max is not None:
            span = f"{money(c.price_min, currency)}–{money(c.price_max, currency)}"
            bits.append(span)
        elif c.price_max is not None:
            cap = money(c.price_max, currency)
            bits.append(f"{cap} 以内" if zh else f"up to {cap}")
        else:
            floor = money(c.price_min, currency)
            bits.append(f"{floor} 以上" if zh else f"from {floor}")
    if c.weight_max_g:
        bits.append(f"≤ {c.weight_max_g:g} g")
    if not c.include_out_of_stock:
        bits.append("有货" if zh else "in stock")
    if not bits:
        return ""
    return f"（{' · '.join(bits)}）" if zh else f" ({' · '.join(bits)})"


def reply_text(result: Recommendation, language: str, overrides: Mapping | None = None) -> str:
    """The reply as text: what was understood, the numbered picks with their reasons and
    links, and notes (sold-out matches, a currency the prices are not in)."""
    c = result.constraints
    lines: list[str] = []
    about = summary(c, result, language)
    if c.missing:
        joiner = "、" if language == "zh" else ", "
        categories = joiner.join(n.replace("-", " ") for n in result.categories)
        lines.append(
            text_for(
                "recommend_missing",
                language,
                overrides,
                what="、".join(c.missing) if language == "zh" else ", ".join(c.missing),
                categories=categories,
            )
        )
    if result.no_history:
        lines.append(text_for("recommend_no_history", language, overrides))
    if result.currency_unmatched:
        lines.append(
            text_for(
                "recommend_currency",
                language,
                overrides,
                catalogue=result.catalogue_currency,
                asked=c.currency,
            )
        )
    if not result.picks:
        if not c.missing:
            lines.append(text_for("recommend_none", language, overrides, summary=about))
        if result.sold_out:
            titles = ", ".join(i.short_title for i in result.sold_out)
            lines.append(text_for("recommend_only_sold_out", language, overrides, titles=titles))
        return "\n".join(lines)
    if result.relaxed:
        lines.append(text_for("recommend_relaxed", language, overrides))
    n = len(result.picks)
    key = (
        "recommend_missing_ideas"
        if c.missing
        else ("recommend_intro_one" if n == 1 else "recommend_intro")
    )
    lines.append(text_for(key, language, overrides, n=n, summary=about))
    for i, pick in enumerate(result.picks, 1):
        lines.append(f"{i}. {pick.item.short_title} — {pick.reason}")
        if pick.item.product.url:
            lines.append(f"   {pick.item.product.url}")
    if result.sold_out:
        titles = ", ".join(i.short_title for i in result.sold_out)
        lines.append(text_for("recommend_sold_out", language, overrides, titles=titles))
    lines.append(text_for("recommend_hint", language, overrides))
    return "\n".join(lines)
