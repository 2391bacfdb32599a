"""What the shopper has: products bought, viewed or mentioned, from a channel's
``meta.profile``, the conversation, or a ``--history`` file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.commerce.catalogue import Catalogue

HISTORY_KEYS = ("bought", "viewed", "mentioned")
#: products compared with at most this many history products (the most recent)
MAX_HISTORY = 4


@dataclass
class History:
    """Products the shopper bought, viewed or mentioned, as catalogue doc ids (oldest
    first). ``meta.profile`` from a channel has this shape with SKUs: see ``from_profile``."""

    bought: list[str] = field(default_factory=list)
    viewed: list[str] = field(default_factory=list)
    mentioned: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.bought or self.viewed or self.mentioned)

    @classmethod
    def from_profile(cls, profile: Any, catalogue: Catalogue) -> tuple[History, list[str]]:
        """A profile ``{"bought": [sku, ...], "viewed": [...], "mentioned": [...]}`` (SKUs,
        ``product:`` ids or exact titles) as a History, and the entries the catalogue does
        not have. Anything that is not such a mapping gives an empty history."""
        history, unknown = cls(), []
        if not isinstance(profile, Mapping):
            return history, unknown
        for key in HISTORY_KEYS:
            values = profile.get(key) or []
            if isinstance(values, str | dict):
                values = [values]
            if not isinstance(values, list | tuple):
                continue
            for value in values:
                item = catalogue.find(value)
                if item is None:
                    unknown.append(str(value))
                elif item.doc_id not in getattr(history, key):
                    getattr(history, key).append(item.doc_id)
        return history, unknown

    def merged(self, other: History) -> History:
        out = History()
        for key in HISTORY_KEYS:
            values = getattr(self, key) + getattr(other, key)
            setattr(out, key, list(dict.fromkeys(values)))
        return out

    def weighted(self) -> list[tuple[str, str]]:
        """(doc id, kind) of the most recent history products, bought first."""
        out: list[tuple[str, str]] = []
        for key in HISTORY_KEYS:
            for doc_id in reversed(getattr(self, key)):
                if all(doc_id != d for d, _ in out):
                    out.append((doc_id, key))
        return out[:MAX_HISTORY]

    def to_json(self) -> dict[str, list[str]]:
        return {k: list(getattr(self, k)) for k in HISTORY_KEYS if getattr(self, k)}

    @classmethod
    def from_json(cls, data: Any) -> History:
        if not isinstance(data, Mapping):
            return cls()
        return cls(**{k: [str(v) for v in data.get(k, [])] for k in HISTORY_KEYS})
