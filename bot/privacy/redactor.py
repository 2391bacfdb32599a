"""The redactor: finds personal data (see ``bot.privacy.detectors`` for what it looks like)
and replaces each piece with a placeholder, ``[EMAIL]``, or within a conversation a numbered
one, ``[EMAIL_1]``, the same each time the same address comes back.

Numbers are only redacted when they look like the thing they are: order numbers, tracking
numbers, dates, prices and SKUs stay. Works in Chinese text, which has no spaces between
words, and is idempotent.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bot.privacy.detectors import DETECTORS, KINDS, Detector, features, is_reference
from bot.privacy.placeholders import Placeholders, canonical

# Full-width forms typed by Chinese input methods, folded one character for one (so spans
# found in the folded text are spans of the original).
_FOLD = str.maketrans(
    {chr(0xFF10 + i): str(i) for i in range(10)}
    | {chr(0xFF21 + i): chr(0x41 + i) for i in range(26)}
    | {chr(0xFF41 + i): chr(0x61 + i) for i in range(26)}
    | {"＋": "+", "－": "-", "（": "(", "）": ")", "＠": "@", "．": ".", "\u3000": " "}
)
_LABEL = re.compile(r"[A-Z][A-Z0-9_]*")
#: the groups of a detector's regex that hold the value (the rest is its label)
_VALUE_GROUPS = ("v", "n", "t")
#: texts whose finds are remembered (the store's own texts, a canonical FAQ answer say, are
#: redacted again for every customer); longer ones are searched each time
CACHE_TEXTS, CACHE_CHARS = 4096, 4000


@dataclass(frozen=True)
class Match:
    """One piece of PII: its kind (the placeholder's label) and where it is in the text."""

    kind: str
    start: int
    end: int


def _bare(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


class Redactor:
    """Finds and replaces PII. ``kinds`` picks the built-in kinds (default: all of ``KINDS``);
    ``extra`` adds patterns of your own, ``{label: regex}``, replaced by ``[LABEL]``
    (``[LABEL_1]`` in a conversation). ``key`` keys the hashes that recognise a value again
    within a conversation (default: random, for this process only).

    Where matches overlap the longest wins; on the very same span an extra pattern wins over a
    built-in one. Placeholders already in the text are left alone.
    """

    def __init__(
        self,
        *,
        kinds: Iterable[str] | None = None,
        extra: Mapping[str, str | re.Pattern[str]] | None = None,
        key: bytes | None = None,
    ) -> None:
        chosen = set(KINDS if kinds is None else [kinds] if isinstance(kinds, str) else kinds)
        unknown = chosen - set(KINDS)
        if unknown:
            raise ValueError(
                f"unknown PII kind(s) {', '.join(sorted(unknown))}: use any of {', '.join(KINDS)}"
                " (add your own with extra={LABEL: regex}; in config.yaml: bot.privacy.patterns)"
            )
        self.kinds = tuple(kind for kind in KINDS if kind in chosen)
        self.key = key
        self._detectors: list[Detector] = []
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
            self._detectors.append(Detector(label, compiled))
        self._detectors += [d for d in DETECTORS if d.kind in chosen]
        labels = sorted({d.kind for d in self._detectors} | set(KINDS), key=len, reverse=True)
        self._placeholder = re.compile(
            r"\[(?:" + "|".join(map(re.escape, labels)) + r")(?:_\d{1,6})?\]"
        )
        self._cached_find = lru_cache(maxsize=CACHE_TEXTS)(self._find)

    def conversation(self, meta: dict[str, Any], *, salt: str) -> Placeholders:
        """The numbering of one conversation, kept in its ``meta`` (see ``Placeholders``)."""
        return Placeholders(meta, key=self._key(), salt=salt)

    def pseudonym(self, user_id: str) -> str:
        """``user_id`` as it may be stored: unchanged, unless it holds personal data (a site
        that identifies customers by e-mail address), then ``user-`` and a keyed hash of it,
        the same for every conversation of that customer."""
        if not self.find(user_id):
            return user_id
        value = canonical(self.find(user_id)[0].kind, user_id.strip())
        digest = hmac.new(self._key(), f"user\0{value}".encode(), hashlib.sha256)
        return "user-" + digest.hexdigest()[:16]

    def _key(self) -> bytes:
        if self.key is None:
            self.key = os.urandom(32)
        return self.key

    def find(self, text: str, *, keep: Collection[str] = ()) -> list[Match]:
        """The PII in ``text``, in order, never overlapping; matches whose text is in
        ``keep`` (the store's own public e-mail address and phone number, say) are not PII."""
        kept = keep if isinstance(keep, frozenset) else frozenset(keep)
        if len(text) > CACHE_CHARS:
            return list(self._find(text, kept))
        return list(self._cached_find(text, kept))

    def _find(self, text: str, keep: frozenset[str]) -> tuple[Match, ...]:
        original = text
        text = text.translate(_FOLD)  # same length: spans below are spans of the original
        protected = [(m.start(), m.end()) for m in self._placeholder.finditer(text)]
        candidates: list[tuple[int, int, int, str]] = []  # (start, end, precedence, kind)
        has = features(text)
        for precedence, detector in enumerate(self._detectors):
            if detector.needs is not None and detector.needs not in has:
                continue
            for start, end in _finds(detector, text):
                candidates.append((start, end, precedence, detector.kind))
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
        return tuple(sorted(matches, key=lambda m: m.start))

    def redact(
        self,
        text: str,
        *,
        keep: Collection[str] = (),
        placeholders: Placeholders | None = None,
    ) -> str:
        """``text`` with every piece of PII replaced by its placeholder: ``[EMAIL]``, or with
        ``placeholders`` (one conversation's, see ``conversation``) ``[EMAIL_1]``.

        Repeats until nothing more is found (one pass nearly always suffices), so redacting
        twice changes nothing. It ends: placeholders are never matched, so each pass shrinks
        the text that can still match.
        """
        while matches := self.find(text, keep=keep):
            parts: list[str] = []
            position = 0
            for match in matches:
                value = text[match.start : match.end]
                label = placeholders.label(match.kind, value) if placeholders else match.kind
                parts += [text[position : match.start], f"[{label}]"]
                position = match.end
            parts.append(text[position:])
            text = "".join(parts)
        return text

    __call__ = redact

    def without_placeholders(self, text: str) -> str:
        """``text`` without its placeholders: what is searched for (a placeholder has no
        meaning to find, and must not come back as a word the store does not know)."""
        return " ".join(self._placeholder.sub(" ", text).split())


def _finds(detector: Detector, text: str) -> Iterable[tuple[int, int]]:
    """The spans ``detector`` finds in ``text`` that pass its check and context."""
    pattern = detector.pattern
    groups = [g for g in _VALUE_GROUPS if g in pattern.groupindex]
    position = 0
    while position <= len(text):
        found = pattern.search(text, position)
        if found is None:
            return
        start, end = found.span()
        for group in groups:
            if found.start(group) >= 0:
                start, end = found.span(group)
                break
        length = detector.check(text[start:end]) if end > start else 0
        if length and detector.reference and is_reference(text[max(0, start - 40) : start]):
            length = 0
        if length:
            yield start, start + length
            position = max(start + length, found.start() + 1)
        else:  # rejected: a valid match may still start inside it
            position = found.start() + 1


def redact_tree(value: Any, redact: Callable[[str], str], *, skip: Collection[str] = ()) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with every string redacted, except under
    the keys in ``skip`` (ids that must stay as they are, such as a platform's message id)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: v if k in skip else redact_tree(v, redact, skip=skip) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(v, redact, skip=skip) for v in value]
    return value


_DEFAULT = Redactor()


def redact(text: str) -> str:
    """``text`` with all built-in kinds of PII replaced by placeholders (see ``Redactor``)."""
    return _DEFAULT.redact(text)
