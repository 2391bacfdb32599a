"""Reading the values store exports write: prices with their currency ("15.00 USD", "$15",
"15,00 €", "1.299,00 EUR"), stock counts, yes/no flags, availability words, lists and
category paths. Each parser raises ``ValueError`` with a message that names what was
expected; the format readers turn it into a row error with the file and line."""

from __future__ import annotations

import re

# Symbols that name one currency; "$" and "¥" are ambiguous and read as the configured
# currency when that is a dollar (or yen/yuan) currency, else as USD (JPY).
SYMBOLS = {
    "US$": "USD",
    "C$": "CAD",
    "CA$": "CAD",
    "A$": "AUD",
    "AU$": "AUD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "S$": "SGD",
    "R$": "BRL",
    "CN¥": "CNY",
    "RMB": "CNY",
    "元": "CNY",
    "€": "EUR",
    "£": "GBP",
    "₹": "INR",
    "₩": "KRW",
    "₽": "RUB",
    "₺": "TRY",
    "zł": "PLN",
    "￥": "CNY",
}
AMBIGUOUS = {
    "$": ("USD", {"USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN", "TWD"}),
    "¥": ("JPY", {"JPY", "CNY"}),
}
_SYMBOL = "|".join(re.escape(s) for s in sorted([*SYMBOLS, *AMBIGUOUS], key=len, reverse=True))
_PRICE = re.compile(
    rf"^(?P<pre>[A-Za-z]{{3}}|{_SYMBOL})?\s*(?P<num>[-+]?\d[\d\s.,'\u00a0\u202f]*)\s*"
    rf"(?P<post>[A-Za-z]{{3}}|{_SYMBOL})?$"
)


PRICE_FORM = "a number such as 19.99, optionally with its currency ('19.99 USD', '$19.99')"


def parse_price(text: object, *, default_currency: str = "") -> tuple[float | None, str]:
    """``(amount, currency)`` of a price cell; ``(None, "")`` for an empty one.

    The decimal separator is whichever of "." and "," comes last; a lone separator followed
    by exactly three digits ("1,299", "1.299") groups thousands. Raises ``ValueError`` with
    the rest of a sentence ("must be ...") that starts with what the value is.
    """
    if text is None:
        return None, ""
    if isinstance(text, bool):
        raise ValueError(f"must be {PRICE_FORM}, got {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"must not be negative, got {text!r}")
        return float(text), default_currency
    raw = str(text).strip()
    if not raw:
        return None, ""
    match = _PRICE.match(raw)
    if not match or (match.group("pre") and match.group("post")):
        raise ValueError(f"must be {PRICE_FORM}, got {raw!r}")
    symbol = match.group("pre") or match.group("post") or ""
    amount = _amount(match.group("num"), raw)
    if amount < 0:
        raise ValueError(f"must not be negative, got {raw!r}")
    return amount, _currency(symbol, default_currency)


def _currency(symbol: str, default: str) -> str:
    if not symbol:
        return default
    if symbol in SYMBOLS:
        return SYMBOLS[symbol]
    if symbol in AMBIGUOUS:
        fallback, family = AMBIGUOUS[symbol]
        return default if default in family else fallback
    return symbol.upper()


def _amount(number: str, raw: str) -> float:
    digits = re.sub(r"[\s'\u00a0\u202f]", "", number)
    last_dot, last_comma = digits.rfind("."), digits.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        decimal = "." if last_dot > last_comma else ","
    elif last_dot >= 0 or last_comma >= 0:
        sep = "." if last_dot >= 0 else ","
        head, _, tail = digits.rpartition(sep)
        grouped = digits.count(sep) > 1 or (len(tail) == 3 and head.lstrip("+-") != "0")
        decimal = "" if grouped else sep
    else:
        decimal = ""
    whole, _, fraction = digits.rpartition(decimal) if decimal else (digits, "", "")
    thousands = ({".", ","} - {decimal}).pop() if decimal else ("." if "." in whole else ",")
    grouping = rf"[-+]?\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+"
    bad_grouping = thousands in whole and not re.fullmatch(grouping, whole)
    if bad_grouping or (fraction and not fraction.isdigit()):
        raise ValueError(f"must be {PRICE_FORM}, got {raw!r}")
    return float(f"{whole.replace(thousands, '')}.{fraction or 0}")


def parse_stock(text: object) -> int | None:
    """A stock count; empty is unknown (None). It may be negative (Shopify lets inventory go
    below zero when it sells on): callers decide. Raises ``ValueError`` unless it is a whole
    number."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, bool):
        raise ValueError(f"must be a whole number, got {text!r}")
    if isinstance(text, float) and text.is_integer():
        text = int(text)
    raw = str(text).strip()
    if not re.fullmatch(r"[-+]?\d+(\.0+)?", raw):
        raise ValueError(f"must be a whole number, got {raw!r}")
    return int(float(raw))


TRUE = {"1", "true", "yes", "y", "t", "on", "published", "publish", "active", "instock"}
FALSE = {"0", "false", "no", "n", "f", "off", "-1"}


def parse_flag(text: object, *, default: bool) -> bool:
    """A yes/no cell (TRUE/FALSE, 1/0, yes/no); empty gives ``default``."""
    if isinstance(text, bool):
        return text
    raw = str(text if text is not None else "").strip().lower()
    if not raw:
        return default
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise ValueError(f"must be yes or no (TRUE/FALSE, 1/0), got {text!r}")


AVAILABILITY = ("in_stock", "out_of_stock", "preorder", "backorder")
_AVAILABILITY_WORDS = {
    "in_stock": "in_stock",
    "instock": "in_stock",
    "available": "in_stock",
    "available_for_order": "in_stock",
    "out_of_stock": "out_of_stock",
    "outofstock": "out_of_stock",
    "sold_out": "out_of_stock",
    "discontinued": "out_of_stock",
    "preorder": "preorder",
    "pre_order": "preorder",
    "backorder": "backorder",
    "onbackorder": "backorder",
    "on_backorder": "backorder",
}


def parse_availability(text: object) -> str | None:
    """One of AVAILABILITY from a feed's word ("in stock", "in_stock", "out of stock",
    "preorder", Woo's "backorder") or a yes/no; None when empty."""
    if isinstance(text, bool):
        return "in_stock" if text else "out_of_stock"
    raw = re.sub(r"[\s-]+", "_", str(text if text is not None else "").strip().lower())
    if not raw:
        return None
    if raw in _AVAILABILITY_WORDS:
        return _AVAILABILITY_WORDS[raw]
    if raw in TRUE:
        return "in_stock"
    if raw in FALSE:
        return "out_of_stock"
    raise ValueError(f"must be one of {', '.join(AVAILABILITY)} (or yes/no), got {str(text)!r}")


def split_list(text: object, *, sep: str = ",") -> list[str]:
    """A list cell ("a, b, c") or a JSON list, stripped, empties and repeats dropped."""
    items = text if isinstance(text, list | tuple) else str(text or "").split(sep)
    out: list[str] = []
    for item in items:
        value = str(item).strip()
        if value and value not in out:
            out.append(value)
    return out


def split_category(text: str) -> tuple[str, str]:
    """``(leaf, path)`` of "Apparel & Accessories > Clothing > Shirts"; path is "" for a
    plain category name."""
    parts = [p.strip() for p in re.split(r"\s*(?:>|›|»)\s*", text.strip()) if p.strip()]
    if len(parts) <= 1:
        return (parts[0] if parts else ""), ""
    return parts[-1], " > ".join(parts)


_ALIASES = {"colour": "color", "colours": "color", "colors": "color"}


def attribute_key(name: str) -> str:
    """One spelling for an attribute name: "Colour" and "color" are ``color``, "Age Group"
    is ``age_group``, WooCommerce's global ``pa_size`` is ``size``."""
    key = re.sub(r"[\s\-/]+", "_", name.strip().lower()).strip("_")
    key = key.removeprefix("pa_")
    return _ALIASES.get(key, key)


def join_values(values: list[str]) -> str:
    """Several values of one attribute in one string, as the native catalogue writes them
    (``sizes=S/M/L``)."""
    out: list[str] = []
    for value in values:
        if value and value not in out:
            out.append(value)
    return "/".join(out)
