"""The values that cross the knowledge layer: documents, chunks, and their keys."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["faq", "product", "policy", "page"]
KINDS: tuple[str, ...] = ("faq", "product", "policy", "page")


def content_hash(*parts: Any) -> str:
    """sha256 over a canonical JSON form of ``parts`` (stable across runs and machines)."""
    blob = json.dumps(parts, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Document:
    """One unit of store knowledge: an FAQ entry, a product, or a page.

    ``id`` is stable across re-loads (derived from the FAQ id, the SKU, or the page path), so
    the index can tell an edit from an addition. ``metadata['kind']`` is one of KINDS.
    """

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.metadata.get("kind", "page"))

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.id)

    @property
    def hash(self) -> str:
        """Content hash over text and metadata (source file and line excluded)."""
        meta = {k: v for k, v in self.metadata.items() if k not in ("source", "line")}
        return content_hash(self.id, self.text, meta)


KeyKind = Literal["question", "answer", "text"]


@dataclass(frozen=True)
class Key:
    """A text that finds its chunk: an FAQ question variant, an FAQ answer, or the chunk text."""

    text: str
    kind: KeyKind


@dataclass(frozen=True)
class Chunk:
    """A retrievable unit. FAQ entries and products are one chunk each; pages may be several.

    ``text`` is what an answer quotes and cites; ``keys`` are what the dense and lexical
    indexes match a query against (several for an FAQ entry: one per question variant).
    """

    id: str
    doc_id: str
    text: str
    metadata: dict[str, Any]
    keys: tuple[Key, ...]

    @property
    def kind(self) -> str:
        return str(self.metadata.get("kind", "page"))

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.doc_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "doc_id": self.doc_id,
            "text": self.text,
            "metadata": self.metadata,
        }
