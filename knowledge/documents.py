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


@dataclass
class Variant:
    """One purchasable version of a product (a size, a colour), as the store's export lists it.

    ``options`` are what tells variants apart (``{"color": "Red", "size": "M"}``).
    """

    sku: str = ""
    options: dict[str, str] = field(default_factory=dict)
    price: float | None = None
    compare_at_price: float | None = None
    stock: int | None = None
    in_stock: bool = True
    availability: str | None = None
    image: str = ""
    url: str = ""
    gtin: str = ""

    @property
    def title(self) -> str:
        return " / ".join(self.options.values())

    def to_json(self) -> dict[str, Any]:
        """The variant for metadata: empty fields left out."""
        out: dict[str, Any] = {"options": dict(self.options), "in_stock": self.in_stock}
        for name in ("sku", "price", "compare_at_price", "stock", "availability", "image", "url"):
            value = getattr(self, name)
            if value is not None and value != "":
                out[name] = value
        if self.gtin:
            out["gtin"] = self.gtin
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Variant:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Product:
    """A product's facts as ``Document.metadata`` holds them (``kind: product``).

    ``price`` is the lowest price of its variants and ``price_max`` the highest; ``stock`` is
    their sum and ``in_stock`` is true when any variant can be bought (unknown stock counts
    as in stock). ``sku`` is the product's id in its file: the SKU, Shopify's handle,
    WooCommerce's SKU (or ``id-NN``), a Merchant Center ``item_group_id`` or ``id``.

    Fields that are empty are left out of the metadata, so a native-format product keeps the
    metadata (and content hash) it had before these fields existed.
    """

    sku: str
    title: str
    description: str = ""
    category: str = ""
    price: float | None = None
    currency: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    stock: int | None = None
    in_stock: bool = True
    url: str = ""
    price_max: float | None = None
    compare_at_price: float | None = None
    image: str = ""
    brand: str = ""
    tags: list[str] = field(default_factory=list)
    category_path: str = ""
    availability: str | None = None
    variants: list[Variant] = field(default_factory=list)

    OPTIONAL = (
        "url",
        "price_max",
        "compare_at_price",
        "image",
        "brand",
        "tags",
        "category_path",
        "availability",
    )

    def to_metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "kind": "product",
            "sku": self.sku,
            "title": self.title,
            "description": self.description,
            "category": self.category,
            "price": self.price,
            "currency": self.currency,
            "attributes": dict(self.attributes),
            "stock": self.stock,
            "in_stock": self.in_stock,
        }
        for name in self.OPTIONAL:
            value = getattr(self, name)
            if value not in (None, "", []):
                meta[name] = list(value) if isinstance(value, list) else value
        if self.variants:
            meta["variants"] = [v.to_json() for v in self.variants]
        return meta

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> Product:
        """The typed view of a product document's metadata (a brand written as an attribute,
        as the native catalogue does, is the brand)."""
        names = cls.__dataclass_fields__
        data = {k: v for k, v in meta.items() if k in names and k != "variants"}
        product = cls(**data)
        product.variants = [Variant.from_json(v) for v in meta.get("variants", [])]
        if not product.brand:
            product.brand = str(product.attributes.get("brand", ""))
        return product

    @property
    def price_range(self) -> tuple[float, float] | None:
        if self.price is None:
            return None
        return self.price, self.price_max if self.price_max is not None else self.price


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
