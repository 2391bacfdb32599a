"""What a shopping request asks for: price range and currency, who it is for, product
nouns, yes/no attributes ("waterproof"), colour, size, weight, stock, comparisons
("cheaper", "lighter") and a product it refers to ("like the boots I bought"); and whether
a message is a shopping request at all.

Words are matched against the catalogue's own vocabulary (``Catalogue``); Chinese words go
through the glossary first.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.commerce.catalogue import GENDER_WORDS, Catalogue, activity_pattern
from bot.commerce.glossary import translate
from knowledge.loaders.values import AMBIGUOUS, SYMBOLS
from knowledge.text import CJK_RUN, normalize, tokenize

_NUM = r"(\d+(?:[.,]\d+)?)\s*(k)?"
_CUR_PRE = r"(us\$|c\$|a\$|\$|€|£|¥|￥|usd|eur|gbp|cny|rmb|cad|aud)"
_CUR_POST = (
    r"(dollars?|bucks|usd|euros?|eur|gbp|quid|yuan|rmb|cny|cad|aud|人民币|美元|美金|刀|欧元|英镑|"
    r"日元|元|块钱|块)"
)
_AMOUNT = rf"(?:{_CUR_PRE}\s*{_NUM}(?:\s*{_CUR_POST})?|{_NUM}\s*{_CUR_POST}|{_NUM})"
WORDS_CURRENCY = {
    "dollar": "$",
    "dollars": "$",
    "bucks": "$",
    "euro": "EUR",
    "euros": "EUR",
    "quid": "GBP",
    "yuan": "CNY",
    "人民币": "CNY",
    "元": "CNY",
    "块": "CNY",
    "块钱": "CNY",
    "美元": "USD",
    "美金": "USD",
    "刀": "USD",
    "欧元": "EUR",
    "英镑": "GBP",
    "日元": "JPY",
}
_UPPER = r"under|below|less than|cheaper than|no more than|not more than|up to|at most|max(?:imum)?|within|budget(?: of| is)?|<=?|不超过|低于|少于|不到|预算"  # noqa: E501
_LOWER = r"over|above|more than|at least|starting at|from|>=?|超过|高于"
PRICE_RANGE = re.compile(
    rf"(?:between|from)?\s*{_AMOUNT}\s*(?:-|–|to|and|到|至|~)\s*{_AMOUNT}", re.I
)
PRICE_UPPER = re.compile(rf"(?:{_UPPER})\s*{_AMOUNT}|{_AMOUNT}\s*(?:以内|以下|之内|内)", re.I)
PRICE_LOWER = re.compile(rf"(?:{_LOWER})\s*{_AMOUNT}|{_AMOUNT}\s*(?:以上|起)", re.I)
PRICE_AROUND = re.compile(
    rf"(?:around|about|roughly|approximately|~)\s*{_AMOUNT}|{_AMOUNT}\s*(?:左右|上下)", re.I
)
#: an amount with a currency and no comparison, where it is a budget ("a $80 jacket", "for
#: $80", "$80 or less"), not a statement ("our jackets cost $1")
_BARE = rf"(?:{_CUR_PRE}\s*{_NUM}|{_NUM}\s*{_CUR_POST})"
PRICE_BARE = re.compile(
    rf"\b(?:a|an|for|my|with)\s+{_BARE}|{_BARE}\s*(?:or less|or under|max\b|tops\b|budget)",
    re.I,
)
WEIGHT_UPPER = re.compile(
    r"(?:under|below|less than|lighter than|at most|no more than|不超过|低于)\s*"
    r"(\d+(?:[.,]\d+)?)\s*(kg|g|grams?|oz|ounces?|lbs?|pounds|克|公斤|千克)(?![a-z])",
    re.I,
)
WEIGHT_UNITS = {
    "kg": 1000.0,
    "公斤": 1000.0,
    "千克": 1000.0,
    "g": 1.0,
    "gram": 1.0,
    "grams": 1.0,
    "克": 1.0,
    "oz": 28.3495,
    "ounce": 28.3495,
    "ounces": 28.3495,
    "lb": 453.592,
    "lbs": 453.592,
    "pounds": 453.592,
}
#: measured things a number may be followed by: not a price ("a 2 person tent", "20 L")
NOT_MONEY = re.compile(
    r"^\s*(?:kg|g\b|grams?|oz|lbs?|l\b|ml|cm|mm|m\b|in\b|inch|person|p\b|"
    r"people|season|degrees?|°|%|year|yr|day|克|公斤|升|人|岁)",
    re.I,
)

#: what may follow an amount written without a currency for it to be a price: the end of
#: the request, punctuation, or a word that joins it to the rest ("under 150 for a tent");
#: a noun after it makes it a count of something ("over 40 runners", "超过3年")
BARE_AMOUNT_END = re.compile(
    r"\s*(?:$|[.,!?;:)\]，。！？；：、）]|(?:for|and|or|but|please|pls|with|that|which|if|so|"
    r"max|tops|budget|total|each|or less|or so|range|price|dollars?|bucks|ok|okay|thanks|thx|"
    r"is|are|would|will|i|we|you|at|in|on|to)\b|"
    r"[的吧呢吗啊呀左上以之内起价预])",
    re.I,
)

RECIPIENTS = {
    "him": "men",
    "his": "men",
    "husband": "men",
    "boyfriend": "men",
    "dad": "men",
    "father": "men",
    "brother": "men",
    "her": "women",
    "wife": "women",
    "girlfriend": "women",
    "mom": "women",
    "mum": "women",
    "mother": "women",
    "sister": "women",
    "boy": "kids",
    "girl": "kids",
    "toddler": "kids",
    "baby": "kids",
}
INCLUDE_SOLD_OUT = re.compile(
    r"(includ\w*|even|also|any|too)\W+(?:\w+\W+){0,2}(out of stock|sold out|unavailable)|"
    r"(out of stock|sold out)\W+(ones|items|too|as well|included)|any stock|"
    r"包括缺货|含缺货|缺货的也|售罄的也|没货的也",
    re.I,
)
RELATIVE = {
    "cheaper": re.compile(
        r"\b(cheaper|less expensive|more affordable|lower price|cheap|budget|inexpensive)\b|"
        r"便宜|实惠|划算",
        re.I,
    ),
    "pricier": re.compile(r"\b(pricier|more expensive|higher[- ]end|premium)\b|更贵|贵一点", re.I),
    "lighter": re.compile(
        r"\b(lighter|less heavy|ultra-?light|lightweight|light)\b|更轻|轻一点|"
        r"轻点|轻便|超轻|轻量",
        re.I,
    ),
    "heavier": re.compile(r"\b(heavier|sturdier|more robust)\b|更重|结实", re.I),
}
#: "the boots I bought", "like my Talus", "和我上次买的鞋子类似"
REFERENCE = re.compile(
    r"(?:like|similar to|same as|as|match(?:es|ing)?)\s+(?:the|my|those|that|these)\s+"
    r"(?P<what>[\w' -]{0,40}?)\s*(?:(?:i|we)\s+(?:already\s+|just\s+|recently\s+)?"
    r"(?P<verb>bought|purchased|ordered|got|have|own|had|looked at|viewed|saw|liked))?"
    r"(?=\s*(?:,|\.|!|\?|but|and|only|except|in\b|for\b|$))"
    r"|(?:the|my)\s+(?P<what2>[\w' -]{1,40}?)\s+(?:i|we)\s+"
    r"(?P<verb2>bought|purchased|ordered|got|have|own|had|looked at|viewed|saw)\b"
    r"|\b(?:anything|something|one|ones)\s+(?:similar|like (?:it|that|this|them))\b"
    r"|(?:和|跟|像|类似)?我(?:之前|上次|以前|刚)?(?P<verb3>买|购买|看|看过|买过)的(?P<what3>[^，,。.!！?？]{0,12}?)"
    r"(?:一样|类似|差不多|相似|像)",
    re.I,
)
BOUGHT_VERBS = {"bought", "purchased", "ordered", "got", "have", "own", "had", "买", "购买", "买过"}
SIZE = re.compile(
    r"\bsize\s+(?P<size>[a-z]{1,3}\b|\d+(?:\.\d)?)|\bin\s+(?:an?\s+)?(?P<word>x{0,2}-?(?:small|large)|"
    r"medium|xs|xl|xxl)\b|(?P<zh>\d+(?:\.\d)?|[smlx]{1,3})\s*码",
    re.I,
)
SIZE_WORDS = {
    "small": "S",
    "medium": "M",
    "large": "L",
    "x-large": "XL",
    "xlarge": "XL",
    "xsmall": "XS",
    "x-small": "XS",
    "xx-large": "XXL",
}
NEGATION = re.compile(r"(?:not|non|no|un)[\s-]*$", re.I)


@dataclass
class Constraints:
    """What one request (with its follow-ups) asks for. Everything is optional."""

    price_min: float | None = None
    price_max: float | None = None
    currency: str = ""  # the currency the amounts were given in ("" = the catalogue's)
    gender: str | None = None  # men | women | unisex | kids
    nouns: list[str] = field(default_factory=list)  # catalogue product nouns (stemmed)
    categories: list[str] = field(default_factory=list)  # as the catalogue writes them
    lines: list[str] = field(default_factory=list)  # product-line names ("talus")
    activities: list[str] = field(default_factory=list)  # the catalogue's ("running")
    flags: dict[str, bool] = field(default_factory=dict)  # yes/no attributes
    colours: list[str] = field(default_factory=list)
    size: str | None = None
    weight_max_g: float | None = None
    include_out_of_stock: bool = False
    relative: list[str] = field(default_factory=list)  # cheaper | pricier | lighter | heavier
    reference: dict[str, Any] | None = None  # {"verb": "bought", "words": [...]}
    gift: bool = False
    query: str = ""  # what is left for similarity search
    missing: list[str] = field(default_factory=list)  # product words the catalogue lacks

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Constraints:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def empty(self) -> bool:
        """Nothing that narrows or orders a search (the query aside)."""
        blank = Constraints(query=self.query)
        return self == blank

    def refined(self, change: Constraints) -> Constraints:
        """These constraints with a follow-up's on top ("cheaper?", "in women's?"): what the
        follow-up states replaces what was asked before; the rest is kept."""
        out = Constraints.from_json(self.to_json())
        for name in ("price_min", "price_max", "gender", "size", "weight_max_g", "reference"):
            value = getattr(change, name)
            if value is not None:
                setattr(out, name, value)
        if change.price_min is not None or change.price_max is not None:
            out.price_min, out.price_max = change.price_min, change.price_max
            out.currency = change.currency
        for name in ("nouns", "categories", "lines", "colours", "missing", "activities"):
            value = getattr(change, name)
            if value:
                setattr(out, name, list(value))
        out.flags = {**self.flags, **change.flags}
        out.include_out_of_stock = self.include_out_of_stock or change.include_out_of_stock
        out.relative = list(change.relative)
        out.gift = self.gift or change.gift
        if change.nouns or change.lines or change.missing:
            out.query = change.query or self.query
        elif change.query:
            out.query = f"{self.query} {change.query}".strip()
        return out


# ---------------------------------------------------------------------------- parsing
AMOUNT = re.compile(rf"{_CUR_PRE}?\s*{_NUM}\s*{_CUR_POST}?", re.I)


def _amounts(phrase: str) -> list[tuple[float, str]]:
    """Each amount in a price phrase with the currency word or symbol written beside it."""
    out = []
    for match in AMOUNT.finditer(phrase):
        pre, num, k, post = match.groups()
        if "," in num and len(num.split(",")[1]) != 3:
            value = float(num.replace(",", "."))  # a decimal comma ("39,90 €")
        else:
            value = float(num.replace(",", ""))
        out.append((value * (1000 if k else 1), (pre or post or "").strip()))
    return out


def currency_code(word: str, catalogue_currency: str) -> str:
    """The ISO code a currency word or symbol names ("" when none was given); "$" and "¥"
    are the catalogue's currency when it is a dollar (or yen/yuan)."""
    if not word:
        return ""
    word = WORDS_CURRENCY.get(word.lower(), word)
    if word in AMBIGUOUS:
        default, family = AMBIGUOUS[word]
        return catalogue_currency if catalogue_currency in family else default
    if word.upper() in SYMBOLS:
        return SYMBOLS[word.upper()]
    if word in SYMBOLS:
        return SYMBOLS[word]
    if word.lower() == "us$":
        return "USD"
    return word.upper() if len(word) == 3 and word.isalpha() else ""


def parse_price(text: str, catalogue_currency: str) -> tuple[float | None, float | None, str, str]:
    """(low, high, currency, text without the price phrase); currency "" when the request
    names none (the catalogue's is meant)."""
    for pattern, kind in (
        (PRICE_RANGE, "range"),
        (PRICE_UPPER, "upper"),
        (PRICE_LOWER, "lower"),
        (PRICE_AROUND, "around"),
        (PRICE_BARE, "upper"),  # "a $80 jacket": a budget
    ):
        for match in pattern.finditer(text):
            if NOT_MONEY.match(text[match.end() :]):
                continue
            amounts = _amounts(match.group())
            if not amounts:
                continue
            if not any(c for _, c in amounts) and not BARE_AMOUNT_END.match(text[match.end() :]):
                continue  # "over 40 runners", "at least 2 pockets", "超过3年": a count
            code = next((c for _, c in amounts if c), "")
            code = currency_code(code, catalogue_currency)
            rest = (text[: match.start()] + " " + text[match.end() :]).strip()
            values = [a for a, _ in amounts]
            if kind == "range" and len(values) >= 2:
                return min(values[:2]), max(values[:2]), code, rest
            if kind == "upper":
                return None, values[0], code, rest
            if kind == "lower":
                return values[0], None, code, rest
            if kind == "around":
                return round(values[0] * 0.8, 2), round(values[0] * 1.2, 2), code, rest
    return None, None, "", text


def _gender(text: str, english: str) -> str | None:
    words = re.findall(r"[a-z]+(?:'s|s')?", english)
    for word in words:
        bare = word.replace("'s", "").replace("'", "")
        if bare in GENDER_WORDS:
            return GENDER_WORDS[bare]
        if bare in RECIPIENTS:
            return RECIPIENTS[bare]
    return None


def _size(text: str) -> str | None:
    match = SIZE.search(text)
    if not match:
        return None
    value = match.group("size") or match.group("word") or match.group("zh")
    value = value.lower()
    return SIZE_WORDS.get(value, value.upper())


def _phrase_in(phrase: str, tokens: list[str]) -> int:
    """Position of ``phrase`` (space-joined tokens) in ``tokens``, -1 when absent."""
    parts = phrase.split()
    for i in range(len(tokens) - len(parts) + 1):
        if tokens[i : i + len(parts)] == parts:
            return i
    return -1


def _noun_matches(token: str, nouns: dict[str, set[str]]) -> list[str]:
    """Catalogue nouns a request word names: itself, or a compound of it ("pack" names
    "daypack" and "backpack"; "windshell" names "shell")."""
    out = [token] if token in nouns else []
    if len(token) >= 4:
        out += [n for n in nouns if n != token and len(n) >= 4 and n.endswith(token)]
        out += [n for n in nouns if n != token and len(n) >= 4 and token.endswith(n)]
    return out


def parse(text: str, catalogue: Catalogue) -> Constraints:
    """The constraints ``text`` states, in the catalogue's terms."""
    raw = normalize(text)
    english, zh_nouns = translate(raw) if CJK_RUN.search(raw) else ("", [])
    c = Constraints()
    low, high, code, rest = parse_price(raw, catalogue.currency)
    c.price_min, c.price_max, c.currency = low, high, code
    weight = WEIGHT_UPPER.search(rest)
    if weight:
        c.weight_max_g = (
            float(weight.group(1).replace(",", ".")) * WEIGHT_UNITS[weight.group(2).lower()]
        )
        rest = rest[: weight.start()] + " " + rest[weight.end() :]
    latin = f"{rest} {english}"
    c.gender = _gender(raw, latin)
    c.include_out_of_stock = bool(INCLUDE_SOLD_OUT.search(raw))
    c.relative = [name for name, pattern in RELATIVE.items() if pattern.search(latin)]
    c.gift = bool(re.search(r"\b(gift|present)s?\b(?!\s*(card|wrap|message|receipt))", latin))
    c.size = _size(latin)
    reference = REFERENCE.search(raw)
    if reference:
        what = reference.group("what") or reference.group("what2") or reference.group("what3")
        verb = reference.group("verb") or reference.group("verb2") or reference.group("verb3")
        what_en = f"{what or ''} {translate(what)[0] if what and CJK_RUN.search(what) else ''}"
        c.reference = {
            "verb": "bought" if verb in BOUGHT_VERBS else ("viewed" if verb else "any"),
            "words": tokenize(what_en),
        }
        latin = latin.replace(reference.group(), " ")
    tokens = tokenize(latin)
    c.flags = _flags(latin, tokens, catalogue)
    c.colours = _colours(latin, catalogue)
    reference_words = set(c.reference["words"]) if c.reference else set()
    for token in tokens:
        if token in reference_words:
            continue
        for noun in _noun_matches(token, catalogue.nouns):
            if noun not in c.nouns:
                c.nouns.append(noun)
        if token in catalogue.lines and token not in c.lines:
            c.lines.append(token)
    for phrase, category in catalogue.categories.items():
        if _phrase_in(phrase, tokens) >= 0 and category not in c.categories:
            c.categories.append(category)
    said = normalize(latin).lower()
    c.activities = [a for a in catalogue.activities if activity_pattern(a).search(said)]
    c.missing = _missing(raw, zh_nouns, english, catalogue) if CJK_RUN.search(raw) else []
    c.query = _query_text(rest, english, reference.group() if reference else "")
    return c


def _flags(latin: str, tokens: list[str], catalogue: Catalogue) -> dict[str, bool]:
    flags: dict[str, bool] = {}
    for phrase, key in catalogue.flag_words.items():
        at = _phrase_in(phrase, tokens)
        if at < 0:
            continue
        first = phrase.split()[0]
        match = re.search(rf"([\w-]*[\s-]*){re.escape(first)}", latin)
        negated = bool(match and NEGATION.search(latin[: match.start() + len(match.group(1))]))
        flags[key] = not negated
    return flags


def _colours(latin: str, catalogue: Catalogue) -> list[str]:
    found: list[str] = []
    for word in sorted(catalogue.colour_words, key=len, reverse=True):
        if word in catalogue.lines or len(word) < 3:
            continue
        said = re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", latin)
        if said and not any(word in f for f in found):
            found.append(word)
    return found


def _missing(raw: str, zh_nouns: list[str], english: str, catalogue: Catalogue) -> list[str]:
    """Chinese product nouns whose English names no catalogue product noun matches."""
    missing = []
    for noun in zh_nouns:
        words = tokenize(translate(noun)[0])
        if not any(_noun_matches(w, catalogue.nouns) or w in catalogue.categories for w in words):
            missing.append(noun)
    return missing


#: request phrasing that says nothing about the product ("do you have", "I'm looking for")
FILLER_WORDS = frozenset(
    """do does can could would you u guys have got sell carry stock any anything some something
    recommend recommendation recommendations suggest suggestion suggestions please pls i'm im i
    am me my we our looking look for need want like to buy get a an the show find what which is
    are good best there one ones idea ideas option options next but it in of and that with more
    other others else similar""".split()
)
FILLER = re.compile(r"\b(" + "|".join(sorted(FILLER_WORDS, key=len, reverse=True)) + r")\b", re.I)


ZH_FILLER = re.compile(r"推荐|一款|一个|一件|一双|有没有|想买|帮我|给我|请问|吗|呢|的")
#: what the constraints already carry, left out of the similarity search
CARRIED = re.compile(
    r"\b(gifts?|presents?|cheaper|cheap|lighter|heavier|pricier|less expensive|more expensive|"
    r"including|include|out of stock|sold out|men'?s|women'?s|kids'?|unisex|him|her|his|"
    r"husband|wife|boyfriend|girlfriend|dad|mom|mum|father|mother|brother|sister)\b",
    re.I,
)


def _people(text: str) -> str:
    """ "runner" -> "runner running", "hiker" -> "hiker hiking": the activity a person
    word names, which product texts use."""

    def expand(match: re.Match[str]) -> str:
        word = match.group()
        base = word[:-2]
        if base.endswith("e"):
            base = base[:-1]
        return f"{word} {base}ing"

    return re.sub(r"\b[a-z]{3,}(?<!ev)(?<!ov)er\b", expand, text)


OBJECT = re.compile(
    r"\b(?:recommend|suggest|looking for|shopping for|want|need|buy|get|find|show me)\s+"
    r"(?:me\s+)?(?:(?:a|an|some|any|good|nice|new|cheap|pair of|set of)\s+)*([a-z][a-z-]{2,})\b",
    re.I,
)
GENERIC = frozenset(
    "something anything stuff gear gift gifts present presents idea ideas one ones thing things "
    "item items product products option options recommendation recommendations suggestion "
    "suggestions".split()
)


def object_word(text: str) -> str | None:
    """The thing an English request asks for by name ("recommend headphones" -> headphones),
    None for "something", "a gift"... or when there is no such phrase."""
    match = OBJECT.search(normalize(text))
    if not match or match.group(1) in GENERIC or match.group(1) in FILLER_WORDS:
        return None
    return match.group(1)


def _query_text(rest: str, english: str, reference: str) -> str:
    """The request without its price, filler and reference phrases, for similarity search;
    a Chinese request keeps its own words (for the lexical side) and their English."""
    text = rest.replace(reference, " ") if reference else rest
    text = re.sub(r"[?？!！。,，]", " ", text)
    text = _people(CARRIED.sub(" ", text))
    stripped = FILLER.sub(" ", text)
    stripped = ZH_FILLER.sub(" ", stripped)
    words = " ".join(stripped.split())
    english = CARRIED.sub(" ", english)
    return " ".join(f"{words} {english}".split())
