"""Numbered placeholders within one conversation, and the key that makes them consistent.

The same e-mail address twice is ``[EMAIL_1]`` both times and a second one ``[EMAIL_2]``, so
the bot (and a person reading the transcript) can still tell them apart and refer to them.
To recognise a value again, a conversation keeps one short keyed hash per placeholder, in
``session.meta["pii"]`` (``{"EMAIL_1": "3f9a0c1e"}``): an HMAC-SHA256 of the value, salted
with the conversation's id and cut to 32 bits. The value itself is never kept. Without the
key the hash says nothing; with it, it confirms a guess, so keep the key apart from the
sessions where that matters (``bot.privacy.key`` from the environment, not the key file
beside the database).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import Any

#: where a conversation's placeholders live in its session meta
META_KEY = "pii"
KEY_BYTES = 32
_SPELLED = ((re.compile(r"\s*[(\[{]?\bdot\b[)\]}]?\s*", re.I), "."),)
_SPELLED_AT = re.compile(r"\s*[(\[{]\s*at\s*[)\]}]\s*|\s+at\s+", re.I)


def canonical(kind: str, value: str) -> str:
    """The form two writings of one value share: "4111 1111 1111 1111" and
    "4111-1111-1111-1111", "Jane@Example.com" and "jane@example.com"."""
    folded = value.casefold()
    if kind == "EMAIL":
        folded = _SPELLED_AT.sub("@", folded)
        for pattern, replacement in _SPELLED:
            folded = pattern.sub(replacement, folded)
        return "".join(folded.split())
    return "".join(ch for ch in folded if ch.isalnum())


class Placeholders:
    """The numbering of one conversation; ``meta`` is its session's meta, written to only
    when a first placeholder is numbered."""

    def __init__(self, meta: dict[str, Any], *, key: bytes, salt: str) -> None:
        if not isinstance(key, bytes) or len(key) < 16:
            raise ValueError("the placeholder key must be at least 16 random bytes")
        self.meta = meta
        self.key = key
        self.salt = salt

    @property
    def table(self) -> dict[str, str]:
        """Placeholder label -> hash of its value (empty before the first)."""
        found = self.meta.get(META_KEY)
        return found if isinstance(found, dict) else {}

    def tag(self, kind: str, value: str) -> str:
        message = f"{self.salt}\0{kind}\0{canonical(kind, value)}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:8]

    def label(self, kind: str, value: str) -> str:
        """``EMAIL_1`` for the first e-mail address of the conversation (and whenever it
        comes back), ``EMAIL_2`` for the next one."""
        tag = self.tag(kind, value)
        table = self.table
        same_kind = [label for label in table if label.rsplit("_", 1)[0] == kind]
        for label in same_kind:
            if hmac.compare_digest(table[label], tag):
                return label
        label = f"{kind}_{len(same_kind) + 1}"
        table[label] = tag
        self.meta[META_KEY] = table
        return label

    def mentions(self, kind: str, value: str) -> str | None:
        """The placeholder ``value`` got in this conversation, or None (never numbered)."""
        tag = self.tag(kind, value)
        for label, known in self.table.items():
            if label.rsplit("_", 1)[0] == kind and hmac.compare_digest(known, tag):
                return label
        return None


def key_from_secret(secret: str) -> bytes:
    """A configured key (``bot.privacy.key``): any string, hashed to the key's length."""
    return hashlib.sha256(secret.encode()).digest()


def load_or_create_key(path: str | Path) -> bytes:
    """The key kept in ``path``, created (random, readable by its owner only) on first use.
    Two processes starting at once get the same key: the file is created exclusively."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(os.urandom(KEY_BYTES).hex() + "\n")
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise ValueError(
            f"{path} does not hold a placeholder key (64 hex digits): delete it and a new one "
            "is made (placeholders numbered before then will be numbered afresh)"
        )
    return key
