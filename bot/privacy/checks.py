"""The checks behind the number-like kinds: what makes a digit string a card number, a
Chinese resident ID, an IBAN, an IP address or a US social security number."""

from __future__ import annotations

import ipaddress
from datetime import date

_ID_CN_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82 83 91".split()
)
_ID_CN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

_ANY = tuple(range(16, 20))
#: (issuer, lowest prefix, highest prefix, the lengths its numbers have). Prefixes of one
#: issuer have equal length; a number is that issuer's when its first digits fall in the
#: range. Sources: the issuers' published IIN ranges (as collected by ISO/IEC 7812 tables).
ISSUERS: tuple[tuple[str, str, str, tuple[int, ...]], ...] = (
    ("Visa", "4", "4", (13, 16, 19)),
    ("Mastercard", "51", "55", (16,)),
    ("Mastercard", "2221", "2720", (16,)),
    ("American Express", "34", "34", (15,)),
    ("American Express", "37", "37", (15,)),
    ("Discover", "6011", "6011", _ANY),
    ("Discover", "644", "649", _ANY),
    ("Discover", "65", "65", _ANY),
    ("JCB", "3528", "3589", _ANY),
    ("UnionPay", "62", "62", _ANY),
    ("UnionPay", "81", "81", _ANY),
    ("Diners Club", "300", "305", tuple(range(14, 20))),
    ("Diners Club", "3095", "3095", tuple(range(14, 20))),
    ("Diners Club", "36", "36", tuple(range(14, 20))),
    ("Diners Club", "38", "39", tuple(range(14, 20))),
    ("Maestro", "5018", "5018", tuple(range(13, 20))),
    ("Maestro", "5020", "5020", tuple(range(13, 20))),
    ("Maestro", "5038", "5038", tuple(range(13, 20))),
    ("Maestro", "5893", "5893", tuple(range(13, 20))),
    ("Maestro", "6304", "6304", tuple(range(13, 20))),
    ("Maestro", "6759", "6759", tuple(range(13, 20))),
    ("Maestro", "6761", "6763", tuple(range(13, 20))),
    ("Mir", "2200", "2204", _ANY),
    ("RuPay", "60", "60", (16,)),
    ("RuPay", "508", "508", (16,)),
    ("Troy", "9792", "9792", (16,)),
)


def digits(text: str) -> str:
    """The decimal digits of ``text`` as ASCII (full-width ``１３８`` counts as ``138``)."""
    return "".join(str(int(ch)) for ch in text if ch.isdecimal())


def luhn_valid(number: str) -> bool:
    """Whether the digits of ``number`` pass the Luhn check that every card number passes."""
    found = [int(ch) for ch in digits(number)]
    if not found:
        return False
    total = 0
    for position, digit in enumerate(reversed(found)):
        if position % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0


def card_issuer(number: str) -> str | None:
    """The card scheme whose range and length ``number`` fits, or None: a 16-digit number
    starting with 4 is a Visa, an 18-digit one is not; nothing starts with 33 or 1."""
    found = digits(number)
    for issuer, low, high, lengths in ISSUERS:
        if len(found) in lengths and low <= found[: len(low)] <= high:
            return issuer
    return None


def card_valid(number: str) -> bool:
    """An issuer's range and length, the Luhn check, and not one digit repeated."""
    found = digits(number)
    return card_issuer(found) is not None and len(set(found)) > 1 and luhn_valid(found)


def id_cn_valid(number: str) -> bool:
    """Whether ``number`` is a well-formed 18-character Chinese resident ID: a real province,
    a real birth date and the ISO 7064 MOD 11-2 check character."""
    if len(number) != 18 or not number[:17].isdecimal():
        return False
    body = digits(number[:17])
    if body[:2] not in _ID_CN_PROVINCES:
        return False
    born = body[6:14]
    try:
        birthday = date(int(born[:4]), int(born[4:6]), int(born[6:]))
    except ValueError:
        return False
    if not 1900 <= birthday.year <= 2100:
        return False
    weighted = sum(int(d) * w for d, w in zip(body, _ID_CN_WEIGHTS, strict=True))
    check = "10X98765432"[weighted % 11]
    last = number[17].upper()
    return last == check or (last.isdecimal() and str(int(last)) == check)


#: countries that issue IBANs and their length (SWIFT's IBAN registry)
IBAN_LENGTHS: dict[str, int] = {
    country: int(length)
    for country, length in (
        item.split(":")
        for item in (
            "AD:24 AE:23 AL:28 AT:20 AZ:28 BA:20 BE:16 BG:22 BH:22 BI:27 BR:29 BY:28 CH:21 "
            "CR:22 CY:28 CZ:24 DE:22 DJ:27 DK:18 DO:28 EE:20 EG:29 ES:24 FI:18 FK:18 FO:18 "
            "FR:27 GB:22 GE:22 GI:23 GL:18 GR:27 GT:28 HR:21 HU:28 IE:22 IL:23 IQ:23 IS:26 "
            "IT:27 JO:30 KW:30 KZ:20 LB:28 LC:32 LI:21 LT:20 LU:20 LV:21 LY:25 MC:27 MD:24 "
            "ME:22 MK:19 MN:20 MR:27 MT:31 MU:30 NI:28 NL:18 NO:15 OM:23 PK:24 PL:28 PS:29 "
            "PT:25 QA:29 RO:24 RS:22 RU:33 SA:24 SC:31 SD:18 SE:24 SI:19 SK:24 SM:27 SO:23 "
            "ST:25 SV:28 TL:23 TN:24 TR:26 UA:29 VA:22 VG:24 XK:20 YE:30"
        ).split()
    )
}


def iban_valid(text: str) -> bool:
    """Whether ``text`` (spaces allowed) is an IBAN: a country that issues them, its length,
    mod 97 == 1 ("SF1012345678901", a tracking number, passes mod 97 but SF is no country)."""
    compact = text.replace(" ", "").upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def ssn_valid(text: str) -> bool:
    """A US social security number as issued: area not 000, 666 or 9xx, group not 00,
    serial not 0000."""
    found = digits(text)
    if len(found) != 9:
        return False
    area, group, serial = found[:3], found[3:5], found[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def ipv4_valid(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def ipv6_valid(text: str) -> bool:
    if sum(1 for part in text.split(":") if part) < 2:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True
