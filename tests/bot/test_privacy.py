"""PII redaction: what must go, what must stay (order numbers, dates, prices, SKUs), the
checksums behind cards, IBANs and Chinese IDs, Chinese text, and idempotence."""

from __future__ import annotations

import random
import re
import time

import pytest

from bot.privacy import KINDS, Match, Redactor, iban_valid, id_cn_valid, luhn_valid, redact

# (text, expected) — every built-in kind, in English and Chinese text.
POSITIVE = [
    # e-mail
    ("write to jane.doe+returns@example.co.uk.", "write to [EMAIL]."),
    ("Email: A.B_C@mail-server.example.com, thanks", "Email: [EMAIL], thanks"),
    ("我的邮箱是zhang.san@example.com谢谢", "我的邮箱是[EMAIL]谢谢"),
    # North American phones
    ("call 303-555-0142", "call [PHONE]"),
    ("call (303) 555-0142 today", "call [PHONE] today"),
    ("(303)555-0142", "[PHONE]"),
    ("303.555.0142", "[PHONE]"),
    ("303 555 0142", "[PHONE]"),
    ("+1 303 555 0142", "[PHONE]"),
    ("+1 (303) 555-0142", "[PHONE]"),
    ("1-303-555-0199", "[PHONE]"),
    ("Tel.303-555-0142", "Tel.[PHONE]"),
    # international
    ("+44 20 7946 0958", "[PHONE]"),
    ("+33 1 23 45 67 89", "[PHONE]"),
    ("+49 30 123456 or so", "[PHONE] or so"),
    ("+8613800138000", "[PHONE]"),
    # Chinese mobiles and landlines
    ("13800138000", "[PHONE]"),
    ("138 0013 8000", "[PHONE]"),
    ("138-0013-8000", "[PHONE]"),
    ("(+86) 138 0013 8000", "[PHONE]"),
    ("+86 138 0013 8000", "[PHONE]"),
    ("我的电话是13800138000", "我的电话是[PHONE]"),
    ("电话：13800138000，谢谢", "电话：[PHONE]，谢谢"),
    ("No.13900139000", "No.[PHONE]"),
    ("13800138000 and 13900139000", "[PHONE] and [PHONE]"),
    ("手机１３８００１３８０００", "手机[PHONE]"),  # full-width digits
    ("010-62345678", "[PHONE]"),
    ("0755-86013388", "[PHONE]"),
    ("(010) 62345678", "[PHONE]"),
    # cards (all Luhn-valid test numbers)
    ("card 4111 1111 1111 1111 exp 12/27", "card [CARD] exp 12/27"),
    ("4111-1111-1111-1111", "[CARD]"),
    ("4111111111111111", "[CARD]"),
    ("5555555555554444", "[CARD]"),
    ("amex 378282246310005", "amex [CARD]"),
    ("3782 822463 10005", "[CARD]"),
    ("6011 1111 1111 1117", "[CARD]"),
    ("银联卡6200000000000005已扣款", "银联卡[CARD]已扣款"),
    ("visa 4222222222222.", "visa [CARD]."),
    # IBAN (mod-97-valid)
    ("IBAN DE89 3704 0044 0532 0130 00 thanks", "IBAN [IBAN] thanks"),
    ("GB82WEST12345698765432", "[IBAN]"),
    ("FR14 2004 1010 0505 0001 3M02 606", "[IBAN]"),
    ("pay to nl91abna0417164300", "pay to [IBAN]"),
    # IP addresses
    ("from 192.168.1.20.", "from [IP]."),
    ("ip 2001:db8::8a2e:370:7334 and fe80::1", "ip [IP] and [IP]"),
    # Chinese resident ID (valid checksum)
    ("身份证11010519491231002X。", "身份证[ID_CN]。"),
    ("id 11010519491231002x", "id [ID_CN]"),
    ("440308199901010055", "[ID_CN]"),  # also Luhn-valid: the ID wins over the card
    # several at once
    (
        "I'm Jane (jane@example.com, 303-555-0142), card 4111 1111 1111 1111, order KR-1002345",
        "I'm [NAME] ([EMAIL], [PHONE]), card [CARD], order KR-1002345",
    ),
    ("电话13800138000邮箱test@example.com", "电话[PHONE]邮箱[EMAIL]"),
]

# Text that must come back unchanged: order numbers, dates, prices, SKUs, short numbers.
NEGATIVE = [
    "Order KR-1002345",
    "order #1002345",
    "订单号：KR-1002345，2026年11月28日下单",
    "KR-13800138000",  # a code, even if its digits look like a mobile number
    "2026-11-28",
    "2026-11-28 10:30",
    "2026-11-28T10:30:00Z",
    "11/28/2026",
    "28.11.2026",
    "$1,299.00",
    "1,000,000",
    "price 189.00 and 249.00",
    "共计￥1299元",
    "¥13800",
    "SKU KR-JKT-001",
    "KR-FTW-001 size 10",
    "1234567",
    "12345678901234",  # 14 digits, Luhn fails
    "4111 1111 1111 1112",  # Luhn fails
    "4111-1111",
    "receipt 20261128103000123",
    "room 1203, zip 80302",
    "3-5 business days",
    "555-0142",  # 7 digits: could be anything
    "Order 100-200-3000",  # not a valid North American number
    "+5 points",
    "ISBN 978-3-16-148410-0",
    "version 1.2.3",
    "12:30:45",
    "std::vector",
    "999.1.1.1",
    "UPS 1Z999AA10123456784",
    "800-fill down, 1.6 kg, 210 x 140 cm",
    "ids 1 2 3 4 5 6 7 8 9 10",
    "jane@example",
    "@kestrelridge",
    "110105194912310021",  # an ID with a wrong check digit
    "DE89 3704 0044 0532 0130 0",  # a broken IBAN
    "[PHONE] and [EMAIL] stay",
    "call 1-800-555-0199 or 400-820-8820",  # toll-free and service numbers are businesses'
]


@pytest.mark.parametrize(("text", "expected"), POSITIVE)
def test_redacts(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", NEGATIVE)
def test_leaves_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(("text", "_"), POSITIVE)
def test_redaction_is_idempotent(text: str, _: str) -> None:
    once = redact(text)
    assert redact(once) == once


def test_idempotent_on_mixtures() -> None:
    """Random glue of PII and look-alikes, with and without separators, in both scripts."""
    pieces = [t for t, _ in POSITIVE] + NEGATIVE + ["5", "-", ".", "+", "(", ")", "：", "tel.", "x"]
    glue = ["", " ", "-", ".", "，", "\n", "/", "我"]
    rng = random.Random(20261128)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) + rng.choice(glue) for _ in range(rng.randint(1, 5)))
        once = redact(text)
        assert redact(once) == once, text


def test_find_reports_kinds_and_spans() -> None:
    text = "电话13800138000，邮箱a@b.io，卡号4111111111111111"
    matches = Redactor().find(text)
    assert [m.kind for m in matches] == ["PHONE", "EMAIL", "CARD"]
    assert [text[m.start : m.end] for m in matches] == ["13800138000", "a@b.io", "4111111111111111"]
    assert matches[0] == Match("PHONE", 2, 13)
    assert Redactor().find("order KR-1002345 on 2026-11-28") == []


def test_spans_refer_to_the_original_text_with_full_width_digits() -> None:
    text = "手机１３８００１３８０００吗"
    (match,) = Redactor().find(text)
    assert text[match.start : match.end] == "１３８００１３８０００"


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4111111111111111", True),
        ("4111 1111 1111 1111", True),
        ("378282246310005", True),
        ("79927398713", True),  # the textbook example
        ("79927398710", False),
        ("4111111111111112", False),
        ("", False),
    ],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


def test_cards_need_the_luhn_check() -> None:
    good = "4012 8888 8888 1881"
    assert luhn_valid(good) and redact(good) == "[CARD]"
    for last in "0234567899":  # every other last digit breaks the check
        bad = good[:-1] + last
        if not luhn_valid(bad):
            assert redact(bad) == bad


def test_id_cn_and_iban_checks() -> None:
    assert id_cn_valid("11010519491231002X") and id_cn_valid("11010519491231002x")
    assert not id_cn_valid("110105194912310021")  # wrong check character
    assert not id_cn_valid("310115200102290029")  # 29 February 2001 did not exist
    assert not id_cn_valid("990115200002290028")  # no province 99
    assert iban_valid("DE89 3704 0044 0532 0130 00") and iban_valid("NL91ABNA0417164300")
    assert not iban_valid("DE88 3704 0044 0532 0130 00")
    assert not iban_valid("DE89")


def test_kinds_can_be_switched_off() -> None:
    text = "mail a@b.io from 10.0.0.1"
    assert Redactor(kinds=["EMAIL"]).redact(text) == "mail [EMAIL] from 10.0.0.1"
    assert Redactor(kinds=set(KINDS) - {"IP"}).redact(text) == "mail [EMAIL] from 10.0.0.1"
    assert Redactor(kinds="IP").redact(text) == "mail a@b.io from [IP]"
    assert Redactor(kinds=[]).redact(text) == text
    # with ID_CN off, an 18-digit ID that passes Luhn is no card: Visa has 13, 16 or 19 digits
    assert Redactor(kinds=["CARD"]).redact("440308199901010055") == "440308199901010055"
    with pytest.raises(ValueError, match=r"unknown PII kind.*SSN.*use any of EMAIL"):
        Redactor(kinds=["EMAIL", "SSN"])


def test_extra_patterns() -> None:
    redactor = Redactor(extra={"ORDER": r"KR-\d{7}", "MEMBER": re.compile(r"会员号\d{6}")})
    assert (
        redactor.redact("order KR-1002345, 会员号123456, call 303-555-0142")
        == "order [ORDER], [MEMBER], call [PHONE]"
    )
    once = redactor.redact("KR-1002345 KR-1002346")
    assert once == "[ORDER] [ORDER]" and redactor.redact(once) == once
    # an extra pattern never eats a placeholder
    greedy = Redactor(extra={"WORD": r"[A-Z]{3,}"})
    assert greedy.redact("call 303-555-0142 NOW") == "call [PHONE] [WORD]"
    assert greedy.redact("[PHONE]") == "[PHONE]"
    # an extra pattern that matches the very same span as a built-in one wins
    assert Redactor(extra={"HOTLINE": r"400-820-8820"}).redact("400-820-8820") == "[HOTLINE]"
    # empty matches are ignored
    assert Redactor(extra={"NOTHING": r"x*"}).redact("abc") == "abc"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"order": r"KR-\d+"}, "label 'order' must be upper case"),
        ({"ORDER NO": r"KR-\d+"}, "must be upper case"),
        ({"ORDER": r"KR-(\d+"}, "extra pattern ORDER is not a valid regex"),
    ],
)
def test_bad_extra_patterns(extra: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Redactor(extra=extra)


def test_long_text_is_fast_enough() -> None:
    text = "我的电话是13800138000，订单KR-1002345，2026-11-28，$1,299.00。" * 2000
    started = time.perf_counter()
    out = redact(text)
    assert time.perf_counter() - started < 5
    assert out.count("[PHONE]") == 2000 and "KR-1002345" in out


def test_keep_leaves_the_listed_values_alone():
    from bot.privacy import Redactor

    text = "Mail help@shop.example or call +1 303-555-0142; I'm jane@example.com"
    kept = Redactor().redact(text, keep={"help@shop.example", "+1 303-555-0142"})
    assert kept == "Mail help@shop.example or call +1 303-555-0142; I'm [EMAIL]"


def test_keep_ignores_punctuation_around_the_value():
    from bot.privacy import Redactor

    kept = Redactor().redact("Call us (+1 303-555-0142).", keep={"+1 303 555 0142"})
    assert "303-555-0142" in kept
