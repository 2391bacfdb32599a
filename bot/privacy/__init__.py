"""Personal data: found and replaced before anything is stored, logged or quoted back.

``Redactor`` finds e-mail addresses, phone numbers, card numbers, IBANs, IP addresses,
Chinese resident IDs, other ID and account numbers, passwords and codes, street addresses
and names, and replaces each with a placeholder (``[EMAIL]``; within a conversation a
numbered one, ``[EMAIL_1]``, see ``placeholders``). ``detectors`` says what each kind looks
like; ``checks`` holds the checksums; ``logs`` redacts log records.
"""

from bot.privacy.checks import (
    card_issuer,
    card_valid,
    iban_valid,
    id_cn_valid,
    luhn_valid,
    ssn_valid,
)
from bot.privacy.detectors import (
    ADDRESS,
    CARD,
    EMAIL,
    IBAN,
    ID,
    ID_CN,
    IP,
    KINDS,
    NAME,
    PHONE,
    SECRET,
    is_reference,
)
from bot.privacy.logs import RedactingFilter, redact_logs
from bot.privacy.placeholders import (
    META_KEY,
    Placeholders,
    key_from_secret,
    load_or_create_key,
)
from bot.privacy.redactor import Match, Redactor, redact, redact_tree

__all__ = [
    "ADDRESS",
    "CARD",
    "EMAIL",
    "IBAN",
    "ID",
    "ID_CN",
    "IP",
    "KINDS",
    "META_KEY",
    "NAME",
    "PHONE",
    "SECRET",
    "Match",
    "Placeholders",
    "RedactingFilter",
    "Redactor",
    "card_issuer",
    "card_valid",
    "iban_valid",
    "id_cn_valid",
    "is_reference",
    "key_from_secret",
    "load_or_create_key",
    "luhn_valid",
    "redact",
    "redact_logs",
    "redact_tree",
    "ssn_valid",
]
