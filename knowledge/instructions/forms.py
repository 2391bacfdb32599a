"""The disguises of injected text, undone: the forms a sentence is matched in, and what a
text hides (Unicode tag characters, base64 and hex blobs that decode to words)."""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from collections.abc import Iterator
from urllib.parse import unquote

#: zero-width and formatting characters, bidirectional controls, the soft hyphen, fillers
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0]"
)
#: Unicode tag characters: invisible, and one to one with ASCII ("ASCII smuggling")
TAGS = re.compile("[\U000e0000-\U000e007f]+")
VARIATION = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[\s:]?){12,}(?![0-9A-Fa-f])")
PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
#: Cyrillic and Greek letters that look like Latin ones (NFKC leaves them as they are)
CONFUSABLES = str.maketrans(
    "аеорсухіјѕԁɡһӏпԛԝвмтАВЕКМНОРСТХІЈЅԌαβεικνορτυχΑΒΕΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdghlnqwbmtabekmhopctxijsgabeiknoptuxabehikmnoptyx",
)
LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
        "+": "t",
        "€": "e",
    }
)
LEETISH = re.compile(r"[a-z][0-9@$!|+€]|[0-9@$!|+€][a-z]")
#: four or more single letters in a row, spaced or dotted out ("i g n o r e", "忽 略 之 前")
SPACED = re.compile(r"(?:(?<![^\W_])[^\W\d_][\W_]+){3,}[^\W\d_](?![^\W_])")
NON_WORD = re.compile(r"[\W_]+")
WORD = re.compile(r"[a-z]+")
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_CHAR = re.compile(f"[{CJK}]")


def fold(text: str) -> str:
    """The plain form of ``text``: NFKC, look-alike letters folded, invisible characters and
    variation selectors removed, entities and %-escapes decoded, lower case, "a.i." as
    "ai", single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = VARIATION.sub("", TAGS.sub("", INVISIBLE.sub("", text)))
    if "&" in text:
        text = html.unescape(text)
    if len(PERCENT.findall(text)) >= 3:
        text = unquote(text)
    text = text.translate(CONFUSABLES).lower().replace("a.i.", "ai")
    return re.sub(r"\s+", " ", text).strip()


def forms(text: str) -> tuple[list[str], list[str]]:
    """(forms every pattern is matched on, squashed forms for the squashed phrases): the
    folded text, its leetspeak reading, and both without separators when letters are
    spaced out."""
    base = fold(text)
    full = [base]
    if LEETISH.search(base):
        full.append(base.translate(LEET))
    squashed = [NON_WORD.sub("", form) for form in full if SPACED.search(form)]
    return full, squashed


def words(form: str) -> frozenset[str]:
    """The Latin words of a folded form (what the patterns' prefilters look for)."""
    return frozenset(WORD.findall(form))


def hidden_payloads(text: str) -> Iterator[tuple[str, str]]:
    """(what is hidden, how) for each span of ``text`` a reader does not see as written:
    tag characters, base64 and hex blobs that decode to words."""
    for match in TAGS.finditer(text):
        codes = [ord(c) - 0xE0000 for c in match.group()]
        decoded = "".join(chr(c) for c in codes if 0x20 <= c < 0x7F)
        if decoded.strip():
            yield decoded, "Unicode tag characters"
    for match in BASE64.finditer(text):
        blob = match.group()
        if not (re.search(r"[A-Z]", blob) and re.search(r"[a-z]", blob)):
            continue  # words, SKUs and hex hashes are not base64 text
        decoded = _base64_text(blob)
        if decoded:
            yield decoded, "base64"
    for match in HEX.finditer(text):
        digits = re.sub(r"[\s:]", "", match.group())
        decoded = _readable(bytes.fromhex(digits[: len(digits) // 2 * 2]))
        if decoded:
            yield decoded, "hex"


def _base64_text(blob: str) -> str | None:
    padded = blob + "=" * (-len(blob) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _readable(raw)


def _readable(raw: bytes) -> str | None:
    """``raw`` as text when it is words (two or more), else None."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 8 or not all(ch.isprintable() or ch in "\n\t" for ch in text):
        return None
    letters = sum(ch.isalpha() or ch.isspace() for ch in text)
    found = re.findall(rf"[A-Za-z]{{2,}}|[{CJK}]{{2,}}", text)
    return text if letters >= 0.7 * len(text) and len(found) >= 2 else None
