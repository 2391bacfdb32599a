"""The store's products as the recommender sees them, read from the index's product chunks,
with the vocabulary the catalogue itself uses: product nouns (the last word of titles),
product-line names, categories, colours, yes/no attributes and who a product is for.

Nothing here knows a particular store: every word a request is matched on comes from the
catalogue it is matched against.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from knowledge.documents import Chunk, Product
from knowledge.text import CJK_RUN, normalize, tokenize

#: who a product is for, from an attribute, its title or its tags
GENDER_WORDS = {
    "men": "men",
    "mens": "men",
    "man": "men",
    "male": "men",
    "women": "women",
    "womens": "women",
    "woman": "women",
    "female": "women",
    "ladies": "women",
    "lady": "women",
    "unisex": "unisex",
    "kids": "kids",
    "kid": "kids",
    "children": "kids",
    "child": "kids",
    "youth": "kids",
    "junior": "kids",
    "boys": "kids",
    "girls": "kids",
    "toddler": "kids",
}
GENDER_KEYS = ("gender", "sex", "target_gender", "department", "age_group")
TITLE_GENDER = re.compile(r"\b(men|women|kids|unisex|boys|girls)(?:'s|'|s')?(?=\W|$)", re.I)
#: yes/no attribute values ("waterproof=yes", "hydration_compatible=yes (up to 1.5 L)")
YES = re.compile(r"^(yes|true|y)\b", re.I)
NO = re.compile(r"^(no|false|n|none)\b", re.I)
WEIGHT = re.compile(r"(\d+(?:[.,]\d+)?)\s*(kg|g|grams?|oz|ounces?|lbs?|pounds?)\b(?!\s*/)", re.I)
GRAMS = {
    "kg": 1000.0,
    "g": 1.0,
    "gram": 1.0,
    "grams": 1.0,
    "oz": 28.3495,
    "ounce": 28.3495,
    "ounces": 28.3495,
    "lb": 453.592,
    "lbs": 453.592,
    "pound": 453.592,
    "pounds": 453.592,
}
WEIGHT_KEYS = ("weight", "trail_weight", "packed_weight", "item_weight", "shipping_weight")
COLOUR_KEYS = ("color", "colour", "colors", "colours")
SIZE_KEYS = ("size", "sizes")
#: in titles: sizes, counts and units ("60 m", "750 mL", "(6-Pack)") that tell versions of
#: one item apart rather than name another item
UNIT = re.compile(r"^(\d[\d.,x-]*[a-z-]*|x|l|ml|m|cm|mm|kg|g|oz|in)$")
PARENS = re.compile(r"\([^)]*\)|\[[^]]*\]")
SPLIT_WORDS = re.compile(r"[a-z0-9][a-z0-9'\-]*")
ACRONYM = re.compile(r"^[A-Z]{2,4}$")
#: an activity as titles and categories name it ("running", "climbing")
GERUND = re.compile(r"^[a-z]{3,}ing$")
#: a title's -ing word is an activity when this many products' titles or more use it
ACTIVITY_TITLES = 2


@dataclass
class Item:
    """One product with what ranking and reasons need, computed once."""

    doc_id: str
    product: Product
    text: str
    gender: str | None
    stem: str  # near-duplicate key: the title without gender, sizes, counts and colours
    nouns: frozenset[str]  # stemmed last word(s) of the title: what the product is
    words: frozenset[str]  # stemmed tokens of title, category, tags and attribute names
    weight_g: float | None
    colours: tuple[str, ...]
    sizes: str
    flags: dict[str, bool] = field(default_factory=dict)  # yes/no attributes

    @property
    def sku(self) -> str:
        return self.product.sku

    @property
    def title(self) -> str:
        return self.product.title

    @property
    def short_title(self) -> str:
        """The title without a second-language part ("Cirrus 800 Down Jacket (Men's) /
        男款..." -> "Cirrus 800 Down Jacket (Men's)")."""
        return short_title(self.product.title)

    def price_fits(self, low: float | None, high: float | None) -> bool:
        """Some version of the product costs between ``low`` and ``high`` (inclusive)."""
        price = self.product.price
        if price is None:
            return low is None and high is None
        top = self.product.price_max if self.product.price_max is not None else price
        return (high is None or price <= high + 1e-9) and (low is None or top >= low - 1e-9)


def short_title(title: str) -> str:
    head, sep, tail = title.partition(" / ")
    return head.strip() if sep and CJK_RUN.search(tail) else title.strip()


def product_gender(product: Product) -> str | None:
    """men | women | unisex | kids, from an attribute, the title or the tags; None when the
    catalogue does not say (a tent, a stove)."""
    attrs = {k.lower(): v for k, v in product.attributes.items()}
    for key in GENDER_KEYS:
        value = normalize(attrs.get(key, "")).strip()
        for word in SPLIT_WORDS.findall(value.replace("'", "")):
            if word in GENDER_WORDS:
                return GENDER_WORDS[word]
    found = TITLE_GENDER.search(short_title(product.title))
    if found:
        return GENDER_WORDS.get(found.group(1).lower())
    for tag in product.tags:
        word = normalize(tag).strip().replace("'", "")
        if word in GENDER_WORDS:
            return GENDER_WORDS[word]
    return None


def weight_grams(product: Product) -> float | None:
    """The product's weight in grams: a weight attribute, else "weighs ..." in its text."""
    attrs = {k.lower(): v for k, v in product.attributes.items()}
    texts = [attrs[k] for k in WEIGHT_KEYS if k in attrs]
    texts += re.findall(
        r"weigh(?:s|ing)?\s+(?:only\s+|just\s+|about\s+)?([^.;]+)", product.description, re.I
    )
    for text in texts:
        found = WEIGHT.search(text)
        if found:
            amount = float(found.group(1).replace(",", "."))
            return round(amount * GRAMS[found.group(2).lower()], 1)
    return None


def _title_words(title: str) -> list[str]:
    """The title's words, lower-cased, without the gender, a second-language part,
    parentheses, what follows "with" or "for" ("Chalk Bag with Belt") and acronyms."""
    head = PARENS.sub(" ", short_title(title))
    head = re.split(r"\s(?:with|for|w/)\s", head, maxsplit=1, flags=re.I)[0]
    words = [w for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9'\-+.]*", head) if not ACRONYM.match(w)]
    words = [normalize(w).rstrip(".+") for w in words]
    return [w for w in words if w and not TITLE_GENDER.fullmatch(w)]


def _stem(title: str, colours: Iterable[str], gender: str | None) -> str:
    colour_words = {w for c in colours for w in SPLIT_WORDS.findall(normalize(c))}
    words = [w for w in _title_words(title) if not UNIT.match(w) and w not in colour_words]
    # a kids' version is another person's product; men's, women's, unisex are one item
    return ("kids: " if gender == "kids" else "") + " ".join(words)


def _nouns(title: str) -> frozenset[str]:
    """The stemmed last real word of the title: "Scree Mid Waterproof Hiking Boot" -> boot;
    units and counts ("Titanium Pot 750 mL") are skipped."""
    words = [w for w in _title_words(title) if not UNIT.match(w) and len(w) > 2]
    return frozenset(tokenize(words[-1])) if words else frozenset()


def _split_values(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in re.split(r"[/,;|]", value) if v.strip())


def make_item(chunk: Chunk) -> Item:
    product = Product.from_metadata(chunk.metadata)
    attrs = {k.lower(): v for k, v in product.attributes.items()}
    colours: tuple[str, ...] = ()
    for key in COLOUR_KEYS:
        if key in attrs:
            colours = _split_values(attrs[key])
            break
    sizes = next((attrs[k] for k in SIZE_KEYS if k in attrs), "")
    flags = {}
    for key, value in attrs.items():
        if YES.match(value.strip()):
            flags[key] = True
        elif NO.match(value.strip()):
            flags[key] = False
    words = tokenize(
        " ".join(
            [
                short_title(product.title),
                product.category,
                product.category_path,
                " ".join(product.tags),
                " ".join(k.replace("_", " ") for k in flags),
            ]
        )
    )
    gender = product_gender(product)
    return Item(
        doc_id=chunk.doc_id,
        product=product,
        text=chunk.text,
        gender=gender,
        stem=_stem(product.title, colours, gender),
        nouns=_nouns(product.title),
        words=frozenset(words),
        weight_g=weight_grams(product),
        colours=colours,
        sizes=sizes,
        flags=flags,
    )


class Catalogue:
    """The indexed products and the catalogue's own vocabulary (see the module doc)."""

    def __init__(self, chunks: Iterable[Chunk]) -> None:
        seen: set[str] = set()
        self.items: list[Item] = []
        for chunk in chunks:
            if chunk.kind == "product" and chunk.doc_id not in seen:
                seen.add(chunk.doc_id)
                self.items.append(make_item(chunk))
        self.by_doc = {item.doc_id: item for item in self.items}
        self._by_sku = {item.sku.lower(): item for item in self.items}

    def __len__(self) -> int:
        return len(self.items)

    def find(self, ref: object) -> Item | None:
        """The product a history entry names: its SKU, ``product:SKU`` or exact title."""
        if isinstance(ref, dict):
            ref = ref.get("sku") or ref.get("id") or ref.get("title")
        if not isinstance(ref, str) or not ref.strip():
            return None
        key = ref.strip().lower()
        if key.startswith("product:"):
            key = key[len("product:") :]
        return self._by_sku.get(key) or self.titles.get(normalize(short_title(ref)).strip())

    @cached_property
    def titles(self) -> dict[str, Item]:
        return {normalize(item.short_title).strip(): item for item in self.items}

    @cached_property
    def currency(self) -> str:
        """The catalogue's currency (the most common one), "" when prices carry none."""
        counts = Counter(i.product.currency for i in self.items if i.product.currency)
        return counts.most_common(1)[0][0] if counts else ""

    @cached_property
    def nouns(self) -> dict[str, set[str]]:
        """Product noun (stemmed) -> the products it names."""
        out: dict[str, set[str]] = {}
        for item in self.items:
            for noun in item.nouns:
                out.setdefault(noun, set()).add(item.doc_id)
        return out

    @cached_property
    def lines(self) -> dict[str, set[str]]:
        """Product-line names: title words that name few products and are no product noun,
        colour or common word of the catalogue ("talus", "fellrunner", "drizzle")."""
        df = Counter(w for item in self.items for w in set(_title_words(item.title)))
        limit = max(5, len(self.items) // 20)
        out: dict[str, set[str]] = {}
        common = set(self.nouns) | set(self.colour_words) | set(self.flag_words)
        for item in self.items:
            for word in set(_title_words(item.title)):
                token = tokenize(word)
                if not (len(word) >= 4 and word.isalpha() and token and df[word] <= limit):
                    continue
                # a name, not a describing word: the products' texts use it hardly more
                # often than their titles do ("drizzle" yes, "down" or "rain" no)
                if token[0] not in common and self.vocabulary[token[0]] <= 1.5 * df[word] + 1:
                    out.setdefault(token[0], set()).add(item.doc_id)
        return out

    @cached_property
    def categories(self) -> dict[str, str]:
        """Category phrase (stemmed tokens joined by spaces) -> the category as written."""
        out: dict[str, str] = {}
        for item in self.items:
            for name in (item.product.category, *item.product.category_path.split(">")):
                name = name.strip()
                if name:
                    out.setdefault(" ".join(tokenize(name.replace("-", " "))), name)
        return out

    @cached_property
    def colour_words(self) -> dict[str, str]:
        """Colour word as a customer types it -> as the catalogue writes it."""
        out: dict[str, str] = {}
        for item in self.items:
            for colour in item.colours:
                out.setdefault(normalize(colour).strip(), colour)
                for word in SPLIT_WORDS.findall(normalize(colour)):
                    out.setdefault(word, word)
        return out

    @cached_property
    def flag_words(self) -> dict[str, str]:
        """Yes/no attributes: the stemmed word a customer uses ("waterproof") -> the key."""
        out: dict[str, str] = {}
        for item in self.items:
            for key in item.flags:
                phrase = " ".join(tokenize(key.replace("_", " ")))
                if phrase:
                    out.setdefault(phrase, key)
        return out

    @cached_property
    def vocabulary(self) -> Counter[str]:
        """How many products' texts use each token."""
        return Counter(t for item in self.items for t in set(tokenize(item.text)))

    @cached_property
    def activities(self) -> dict[str, set[str]]:
        """Activity ("running", "climbing") -> the products for it.

        An activity is an -ing word the catalogue names products by: one its titles put
        before the product noun ("Trail Running Shoe", "Climbing Harness"), in two titles
        or more (so "clothing", a category, is none). A product is for it when its title,
        category, tags or description say the word or its doer ("trail runner"): a belay
        device in the category "climbing" is for climbing."""
        df: Counter[str] = Counter()
        for item in self.items:
            words = [w for w in _title_words(item.title) if not UNIT.match(w)]
            df.update({w for w in words[:-1] if GERUND.match(w)})
        names = {w for w, n in df.items() if n >= ACTIVITY_TITLES}
        out: dict[str, set[str]] = {}
        for name in sorted(names):
            pattern = activity_pattern(name)
            for item in self.items:
                if pattern.search(_activity_text(item)):
                    out.setdefault(name, set()).add(item.doc_id)
        return out

    @cached_property
    def item_activities(self) -> dict[str, frozenset[str]]:
        """Doc id -> the activities its product's own words name (none: a pot, a beanie)."""
        found: dict[str, set[str]] = {}
        for activity, docs in self.activities.items():
            for doc_id in docs:
                found.setdefault(doc_id, set()).add(activity)
        return {i.doc_id: frozenset(found.get(i.doc_id, ())) for i in self.items}

    @cached_property
    def implied_activities(self) -> dict[str, frozenset[str]]:
        """Doc id -> the activities its product is for: those its own words name, else
        (a tent footprint) those of its category's products, when most of them name one;
        none in a category that is for no one thing (a pot among cookware)."""
        own = self.item_activities
        by_category: dict[str, list[Item]] = {}
        for item in self.items:
            by_category.setdefault(item.product.category, []).append(item)
        inherited: dict[str, frozenset[str]] = {}
        for category, items in by_category.items():
            named = [own[i.doc_id] for i in items if own[i.doc_id]]
            if category and len(named) * 2 > len(items):
                inherited[category] = frozenset(a for acts in named for a in acts)
        return {
            i.doc_id: own[i.doc_id] or inherited.get(i.product.category, frozenset())
            for i in self.items
        }

    @cached_property
    def category_names(self) -> list[str]:
        """The categories in catalogue order, as written."""
        return list(dict.fromkeys(i.product.category for i in self.items if i.product.category))


def _activity_text(item: Item) -> str:
    product = item.product
    parts = [short_title(product.title), product.category, product.category_path]
    parts += [*product.tags, product.description]
    return normalize(" ".join(parts)).lower()


def activity_pattern(activity: str) -> re.Pattern[str]:
    """The activity ("running") or the one who does it ("runner", "runners") in lower-case
    text; not the verb ("the strap runs under the sole", "runs 60 hours")."""
    doer = activity[:-3] + "er"
    return re.compile(rf"(?<![a-z])(?:{re.escape(activity)}|{re.escape(doer)}s?)(?![a-z])")


def size_fits(wanted: str, sizes: str) -> bool:
    """Whether a product's sizes ("S/M/L/XL", "US 7-14 (half sizes to 12)", "EU 36-46")
    include ``wanted``; a product that lists no sizes is not ruled out."""
    if not sizes:
        return True
    wanted = wanted.upper()
    text = sizes.upper()
    tokens = set(re_split(text))
    if wanted in tokens:
        return True
    try:
        number = float(wanted)
    except ValueError:
        return False
    return any(low <= number <= high for low, high in _ranges(text))


def re_split(text: str) -> list[str]:
    return [t for t in re.split(r"[\s/,;()]+", text) if t]


def _ranges(text: str) -> list[tuple[float, float]]:
    pairs = re.findall(r"(\d+(?:\.\d)?)\s*-\s*(\d+(?:\.\d)?)", text)
    return [(float(a), float(b)) for a, b in pairs]
