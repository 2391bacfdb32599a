"""PII redaction, applied to text before it is stored or logged.

Finds e-mail addresses, phone numbers, payment-card numbers (Luhn-checked), IBANs
(mod-97-checked), IP addresses and Chinese resident ID numbers (checksum-checked), and
replaces each with a placeholder such as ``[PHONE]``. Numbers are only redacted when they
look like the thing they are: order numbers, dates, prices and SKUs stay. Works in Chinese
text, which has no spaces between words, and is idempotent.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

EMAIL = "EMAIL"
PHONE = "PHONE"
CARD = "CARD"
IBAN = "IBAN"
IP = "IP"
ID_CN = "ID_CN"
KINDS: tuple[str, ...] = (EMAIL, PHONE, CARD, IBAN, IP, ID_CN)

# Full-width forms typed by Chinese input methods, folded one character for one (so spans
# found in the folded text are spans of the original).
_FOLD = str.maketrans(
    {chr(0xFF10 + i): str(i) for i in range(10)}
    | {"＋": "+", "－": "-", "（": "(", "）": ")", "＠": "@", "．": ".", "\u3000": " "}
)
_LABEL = re.compile(r"[A-Z][A-Z0-9_]*")


@dataclass(frozen=True)
class Match:
    """One piece of PII: its kind (the placeholder's label) and where it is in the text."""

    kind: str
    start: int
    end: int


# Boundaries: no Latin letter or digit may touch a match (CJK may: "电话13800138000" must
# match), and a number glued to a code ("KR-1002345", "1.2.3") is part of that code, not a
# phone or card. "Tel.303-555-0142" and "No.13800138000" still match.
_B = r"(?<![\dA-Za-z])(?<![\dA-Za-z][-_/])(?<!\d\.)"
_E = r"(?![\dA-Za-z])(?![-_/.][\dA-Za-z])"

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
# +CC then groups, e.g. +44 20 7946 0958, +1 (303) 555-0142, +8613800138000.
_PHONE_INTL = re.compile(r"(?<![\dA-Za-z+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){1,7}" + _E)
# North America: (303) 555-0142, 303-555-0142, 303.555.0142, 1-800-555-0199.
_PHONE_US = re.compile(
    _B + r"(?:1[ .-])?(?:\(\s?[2-9]\d{2}\s?\)[ .-]?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}" + _E
)
# China mobile: 13800138000, 138 0013 8000, 138-0013-8000, (+86) 138...
_PHONE_CN_MOBILE = re.compile(
    _B + r"(?:\(\+?86\)\s?|(?:\+|00)?86[ -]?)?1[3-9]\d(?:([ -]?)\d{4}\1\d{4})" + _E
)
# China landline: 010-12345678, (0755) 1234567, 021 61234567.
_PHONE_CN_LAND = re.compile(_B + r"(?:\(0[1-9]\d{1,2}\)\s?|0[1-9]\d{1,2}[- ])[2-9]\d{6,7}" + _E)
_CARD = re.compile(
    _B
    + r"(?:[2-6]\d{12,18}"  # contiguous
    + r"|[2-6]\d{3}([ -])\d{4}\1\d{4}\1\d{1,4}(?:\1\d{1,3})?"  # 4-4-4-4(-3)
    + r"|3\d{3}([ -])\d{6}\2\d{4,5})"  # Amex 4-6-5, Diners 4-6-4
    + _E
)
_IBAN = re.compile(
    r"(?<![\dA-Za-z])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?"
    r"(?![\dA-Za-z])"
)
_IPV4 = re.compile(r"(?<![\dA-Za-z.])\d{1,3}(?:\.\d{1,3}){3}(?![\dA-Za-z]|\.\d)")
_IPV6 = re.compile(r"(?<![\dA-Za-z:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\dA-Za-z:])")
_ID_CN = re.compile(_B + r"[1-9]\d{16}[\dXx]" + _E)

_ID_CN_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82 83 91".split()
)
_ID_CN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _digits(text: str) -> str:
    """The decimal digits of ``text`` as ASCII (full-width ``１３８`` counts as ``138``)."""
    return "".join(str(int(ch)) for ch in text if ch.isdecimal())


def luhn_valid(number: str) -> bool:
    """Whether the digits of ``number`` pass the Luhn check that every card number passes."""
    digits = [int(ch) for ch in _digits(number)]
    if not digits:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0


def id_cn_valid(number: str) -> bool:
    """Whether ``number`` is a well-formed 18-character Chinese resident ID: a real province,
    a real birth date and the ISO 7064 MOD 11-2 check character."""
    if len(number) != 18 or not number[:17].isdecimal():
        return False
    body = _digits(number[:17])
    if body[:2] not in _ID_CN_PROVINCES:
        return False
    digits = [int(ch) for ch in body]
    born = body[6:14]
    try:
        birthday = date(int(born[:4]), int(born[4:6]), int(born[6:]))
    except ValueError:
        return False
    if not 1900 <= birthday.year <= 2100:
        return False
    check = "10X98765432"[sum(d * w for d, w in zip(digits, _ID_CN_WEIGHTS, strict=True)) % 11]
    last = number[17].upper()
    return last == check or (last.isdecimal() and str(int(last)) == check)


def iban_valid(text: str) -> bool:
    """Whether ``text`` (spaces allowed) is an IBAN: 15-34 characters, mod 97 == 1."""
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


# A check returns how many characters of the regex match are PII (0: none of it). Most are
# all-or-nothing; IBAN and international phone numbers may run into the next word or number.


def _whole(valid: Callable[[str], bool]) -> Callable[[str], int]:
    return lambda found: len(found) if valid(found) else 0


def _longest_prefix(found: str, cuts: Iterable[int], valid: Callable[[str], bool]) -> int:
    for cut in sorted(set(cuts), reverse=True):
        if valid(found[:cut]):
            return cut
    return 0


def _check_iban(found: str) -> int:
    cuts = [m.end() for m in re.finditer(r"[A-Za-z0-9]+", found)]
    return _longest_prefix(found, cuts, iban_valid)


def _check_intl_phone(found: str) -> int:
    cuts = [m.end() for m in re.finditer(r"\d+\)?", found)]
    return _longest_prefix(found, cuts, lambda part: 8 <= len(_digits(part)) <= 15)


def _ipv4_valid(found: str) -> bool:
    try:
        ipaddress.IPv4Address(found)
    except ValueError:
        return False
    return True


def _ipv6_valid(found: str) -> bool:
    if sum(1 for part in found.split(":") if part) < 2:
        return False
    try:
        ipaddress.IPv6Address(found)
    except ValueError:
        return False
    return True


def _card_valid(found: str) -> bool:
    digits = _digits(found)
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_valid(digits)


_always: Callable[[str], int] = len

# (kind, pattern, check), in order of precedence when two kinds find the very same span.
_DETECTORS: tuple[tuple[str, re.Pattern[str], Callable[[str], int]], ...] = (
    (EMAIL, _EMAIL, _always),
    (IBAN, _IBAN, _check_iban),
    (ID_CN, _ID_CN, _whole(id_cn_valid)),
    (CARD, _CARD, _whole(_card_valid)),
    (PHONE, _PHONE_INTL, _check_intl_phone),
    (PHONE, _PHONE_US, _always),
    (PHONE, _PHONE_CN_MOBILE, _always),
    (PHONE, _PHONE_CN_LAND, _always),
    (IP, _IPV4, _whole(_ipv4_valid)),
    (IP, _IPV6, _whole(_ipv6_valid)),
)


def _bare(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


class Redactor:
    """Finds and replaces PII. ``kinds`` picks the built-in kinds (default: all of ``KINDS``);
    ``extra`` adds patterns of your own, ``{label: regex}``, replaced by ``[LABEL]``.

    Where matches overlap the longest wins; on the very same span an extra pattern wins over a
    built-in one. Placeholders already in the text are left alone.
    """

    def __init__(
        self,
        *,
        kinds: Iterable[str] | None = None,
        extra: Mapping[str, str | re.Pattern[str]] | None = None,
    ) -> None:
        chosen = set(KINDS if kinds is None else [kinds] if isinstance(kinds, str) else kinds)
        unknown = chosen - set(KINDS)
        if unknown:
            raise ValueError(
                f"unknown PII kind(s) {', '.join(sorted(unknown))}: use any of {', '.join(KINDS)}"
                " (add other patterns with extra={label: regex})"
            )
        self.kinds = tuple(kind for kind in KINDS if kind in chosen)
        self._detectors: list[tuple[str, re.Pattern[str], Callable[[str], int]]] = []
        for label, pattern in (extra or {}).items():
            if not isinstance(label, str) or not _LABEL.fullmatch(label):
                raise ValueError(
                    f"extra pattern label {label!r} must be upper case letters, digits and _, "
                    "starting with a letter (it becomes the placeholder [LABEL])"
                )
            try:
                compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
            except re.error as exc:
                raise ValueError(f"extra pattern {label} is not a valid regex: {exc}") from None
            self._detectors.append((label, compiled, _always))
        self._detectors += [d for d in _DETECTORS if d[0] in chosen]
        labels = sorted({d[0] for d in self._detectors} | set(KINDS), key=len, reverse=True)
        self._placeholder = re.compile(r"\[(?:" + "|".join(map(re.escape, labels)) + r")\]")

    def find(self, text: str, *, keep: Collection[str] = ()) -> list[Match]:
        """The PII in ``text``, in order, never overlapping; matches whose text is in
        ``keep`` (the store's own public e-mail address and phone number, say) are not PII."""
        original = text
        text = text.translate(_FOLD)  # same length: spans below are spans of the original
        protected = [(m.start(), m.end()) for m in self._placeholder.finditer(text)]
        candidates: list[tuple[int, int, int, str]] = []  # (start, end, precedence, kind)
        for precedence, (kind, pattern, check) in enumerate(self._detectors):
            position = 0
            while position <= len(text):
                found = pattern.search(text, position)
                if found is None:
                    break
                length = check(found.group()) if found.end() > found.start() else 0
                if length:
                    candidates.append((found.start(), found.start() + length, precedence, kind))
                    position = found.start() + length
                else:  # rejected: a valid match may still start inside it
                    position = found.start() + 1
        taken = protected  # sorted, never overlapping
        matches: list[Match] = []
        for start, end, _, kind in sorted(candidates, key=lambda c: (c[0] - c[1], c[2], c[0])):
            at = bisect.bisect_left(taken, (end,))  # first span starting at or after `end`
            if at == 0 or taken[at - 1][1] <= start:
                taken.insert(at, (start, end))
                matches.append(Match(kind, start, end))
        if keep:  # compared without punctuation: "(+1 303-555-0142)" is "+1 303 555 0142"
            kept = {_bare(value) for value in keep}
            matches = [m for m in matches if _bare(original[m.start : m.end]) not in kept]
        return sorted(matches, key=lambda m: m.start)

    def redact(self, text: str, *, keep: Collection[str] = ()) -> str:
        """``text`` with every piece of PII replaced by its placeholder, e.g. ``[EMAIL]``.

        Repeats until nothing more is found (one pass nearly always suffices), so redacting
        twice changes nothing. It ends: placeholders are never matched, so each pass shrinks
        the text that can still match.
        """
        while matches := self.find(text, keep=keep):
            parts: list[str] = []
            position = 0
            for match in matches:
                parts += [text[position : match.start], f"[{match.kind}]"]
                position = match.end
            parts.append(text[position:])
            text = "".join(parts)
        return text

    __call__ = redact


_DEFAULT = Redactor()


def redact(text: str) -> str:
    """``text`` with all built-in kinds of PII replaced by placeholders (see ``Redactor``)."""
    return _DEFAULT.redact(text)
