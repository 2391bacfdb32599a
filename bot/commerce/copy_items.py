"""What copy is written from: a catalogue product's facts (as the catalogue loaders read
them) or its reviews, as a :class:`CopyItem` with the :class:`Source` its copy is checked
against. Also the reviews file of ``shopbot write review-summary``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.commerce.copy_check import Source
from knowledge.documents import Document, Product, content_hash
from knowledge.errors import LoadError
from knowledge.loaders.common import read_text

#: column names a reviews file may use for the product id and for the review's text
ID_COLUMNS = ("product_id", "id", "sku", "handle", "product", "asin", "group_id", "item_id")
TEXT_COLUMNS = ("review", "text", "review_text", "body", "content", "comment", "review_body")


@dataclass
class CopyItem:
    """One product to write for: its id in the catalogue (SKU or handle), title, the facts
    a prompt lists, the store's description, its reviews, and what its copy may state."""

    id: str
    title: str
    facts: list[tuple[str, str]]
    description: str
    source: Source
    reviews: list[str] = field(default_factory=list)
    category: str = ""
    tags: list[str] = field(default_factory=list)

    @property
    def hash(self) -> str:
        """Changes when anything the copy is written from changes."""
        return content_hash(self.id, self.title, self.facts, self.description, self.reviews)

    @classmethod
    def from_document(cls, doc: Document, *, reviews: list[str] | None = None) -> CopyItem:
        """The product document as loaded by :func:`knowledge.loaders.load_catalog`. With
        ``reviews``, its copy is checked against the reviews (and the title) only."""
        if doc.kind != "product":
            raise ValueError(f"{doc.id} is a {doc.kind}, not a product")
        product = Product.from_metadata(doc.metadata)
        facts = product_facts(product)
        if reviews is not None:
            text = "\n".join([product.title, *reviews])
            source = Source(text)
        else:
            prices = [p for p in (product.price, product.price_max, product.compare_at_price) if p]
            prices += [v.price for v in product.variants if v.price is not None]
            source = Source(doc.text, tuple(prices), product.currency)
        return cls(
            id=product.sku,
            title=product.title,
            facts=facts,
            description=product.description,
            source=source,
            reviews=list(reviews or []),
            category=product.category,
            tags=list(product.tags),
        )


def product_facts(product: Product) -> list[tuple[str, str]]:
    """(label, value) pairs of what a product is: brand, category, price, attributes, tags."""
    facts: list[tuple[str, str]] = []
    if product.brand:
        facts.append(("Brand", product.brand))
    if product.category:
        facts.append(("Category", product.category_path or product.category))
    if product.price is not None:
        price = f"{product.price:.2f}"
        if product.price_max is not None:
            price += f"–{product.price_max:.2f}"
        facts.append(("Price", f"{price} {product.currency}".strip()))
    for key, value in product.attributes.items():
        if key.lower() == "brand" or not str(value).strip():
            continue
        facts.append((key.replace("_", " "), str(value)))
    if product.tags:
        facts.append(("Tags", ", ".join(product.tags)))
    return facts


def load_reviews(path: str | Path) -> dict[str, list[str]]:
    """Product id -> its reviews, from a CSV (one review a row: a product id column and a
    text column, see ID_COLUMNS and TEXT_COLUMNS), a JSON list of such records, or a JSON
    mapping of id to a list of reviews."""
    path = Path(path)
    text = read_text(path, named_by="--reviews")
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{"):
        return _json_reviews(path, text)
    return _csv_reviews(path, text)


def _pick(header: Iterable[str], names: tuple[str, ...], path: Path, what: str) -> str:
    lowered = {h.strip().lower(): h for h in header if h}
    for name in names:
        if name in lowered:
            return lowered[name]
    raise LoadError(
        path,
        f"no {what} column: name one of {', '.join(names)} (found {', '.join(lowered) or 'none'})",
        line=1,
    )


def _csv_reviews(path: Path, text: str) -> dict[str, list[str]]:
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    key = _pick(reader.fieldnames or [], ID_COLUMNS, path, "product id")
    body = _pick(reader.fieldnames or [], TEXT_COLUMNS, path, "review text")
    out: dict[str, list[str]] = {}
    for row in reader:
        product, review = (row.get(key) or "").strip(), (row.get(body) or "").strip()
        if product and review:
            out.setdefault(product, []).append(review)
    if not out:
        raise LoadError(path, "no reviews found: each row needs a product id and a review text")
    return out


def _json_reviews(path: Path, text: str) -> dict[str, list[str]]:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(path, f"not JSON: {exc.msg}", line=exc.lineno) from None
    out: dict[str, list[str]] = {}
    if isinstance(data, dict) and "reviews" in data and isinstance(data["reviews"], list):
        data = data["reviews"]
    if isinstance(data, dict):
        for product, reviews in data.items():
            items = reviews if isinstance(reviews, list) else [reviews]
            out[str(product)] = [str(r).strip() for r in items if str(r).strip()]
    elif isinstance(data, list):
        for n, record in enumerate(data):
            if not isinstance(record, dict):
                raise LoadError(path, f"record {n} is not an object with a product id and text")
            key = _pick(record, ID_COLUMNS, path, "product id")
            body = _pick(record, TEXT_COLUMNS, path, "review text")
            if str(record[key]).strip() and str(record[body]).strip():
                out.setdefault(str(record[key]).strip(), []).append(str(record[body]).strip())
    out = {k: v for k, v in out.items() if v}
    if not out:
        raise LoadError(path, "no reviews found: give each product id a list of review texts")
    return out


def items_for(
    documents: Iterable[Document], *, reviews: dict[str, list[str]] | None = None
) -> tuple[list[CopyItem], list[str]]:
    """The catalogue's products as items, in catalogue order, and (with ``reviews``) the
    ids of products that have none (left out: a review summary needs reviews)."""
    items: list[CopyItem] = []
    without: list[str] = []
    for doc in documents:
        if doc.kind != "product":
            continue
        if reviews is None:
            items.append(CopyItem.from_document(doc))
            continue
        sku = str(doc.metadata.get("sku", ""))
        found = reviews.get(sku) or reviews.get(doc.id)
        if found:
            items.append(CopyItem.from_document(doc, reviews=found))
        else:
            without.append(sku)
    return items, without
