"""From the products a format reader assembles to one Document per product: variants summed
up (price range, stock, availability, option values) and the product's text, which is what
the indexes search and what an answer may quote."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from knowledge.documents import Document, Product, Variant
from knowledge.errors import LoadError
from knowledge.loaders.common import LoadIssues
from knowledge.loaders.values import join_values

T = TypeVar("T")
#: the best availability of a product's variants wins
AVAILABILITY_ORDER = ("in_stock", "preorder", "backorder", "out_of_stock")
AVAILABILITY_TEXT = {
    "in_stock": "In stock",
    "out_of_stock": "Out of stock",
    "preorder": "Available to pre-order",
    "backorder": "On backorder",
}
VARIANTS_IN_TEXT = 12


def in_stock(stock: int | None, availability: str | None) -> bool:
    """Can it be bought now? A stated availability decides; else a stock count; unknown
    stock counts as in stock (as the native catalogue has always read an empty ``stock``)."""
    if availability is not None:
        return availability == "in_stock"
    return stock is None or stock > 0


def cell(path: Path, line: int, what: str, parse: Callable[..., T], raw: Any, **kw: Any) -> T:
    """``parse(raw)``, its ``ValueError`` turned into a row error naming ``what``."""
    try:
        return parse(raw, **kw)
    except ValueError as exc:
        raise LoadError(path, f"{what} {exc}", line=line or None) from None


def attributes_cell(path: Path, value: Any, line: int) -> dict[str, str]:
    """``key=value; key=value`` (CSV) or a mapping (JSON) as a dict of strings."""
    if value in (None, ""):
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    attrs: dict[str, str] = {}
    for part in str(value).split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            raise LoadError(
                path,
                f"attribute {part.strip()!r} has no '=': write attributes as key=value; key=value",
                line=line or None,
            )
        key, _, val = part.partition("=")
        attrs[key.strip()] = val.strip()
    return attrs


def finish(product: Product) -> Product:
    """Fill the product's price range, stock, availability, image, url and option values
    from its variants (a product without variants is returned as it is)."""
    variants = product.variants
    if not variants:
        product.in_stock = in_stock(product.stock, product.availability)
        return product
    priced = [v for v in variants if v.price is not None]
    if priced:
        cheapest = min(priced, key=lambda v: v.price or 0.0)
        product.price = cheapest.price
        highest = max(v.price or 0.0 for v in priced)
        product.price_max = highest if highest > (product.price or 0.0) else None
        was = cheapest.compare_at_price
        product.compare_at_price = was if was and was > (cheapest.price or 0.0) else None
    counts = [v.stock for v in variants if v.stock is not None]
    product.stock = sum(counts) if counts else None
    stated = [v.availability for v in variants if v.availability]
    if stated:
        states = {_state(v) for v in variants}
        product.availability = next(a for a in AVAILABILITY_ORDER if a in states)
    product.in_stock = any(v.in_stock for v in variants)
    product.image = product.image or next((v.image for v in variants if v.image), "")
    product.url = product.url or next((v.url for v in variants if v.url), "")
    options: dict[str, list[str]] = {}
    for variant in variants:
        for key, value in variant.options.items():
            options.setdefault(key, []).append(value)
    for key, values in options.items():
        product.attributes[key] = join_values(values)
    return product


def _state(variant: Variant) -> str:
    if variant.availability:
        return variant.availability
    return "in_stock" if variant.in_stock else "out_of_stock"


def product_document(path: Path, product: Product, line: int) -> Document:
    """The product as one Document (id ``product:`` + its SKU or handle)."""
    if not product.sku:
        raise LoadError(path, "empty sku: every product needs a unique SKU", line=line or None)
    if not product.title:
        raise LoadError(path, f"product {product.sku!r} has an empty title", line=line or None)
    metadata = product.to_metadata()
    metadata["source"] = str(path)
    metadata["line"] = line or None
    return Document(id=f"product:{product.sku}", text=product_text(metadata), metadata=metadata)


def product_text(meta: dict[str, Any]) -> str:
    """The product as text: what the indexes search and what an answer may quote.

    A native-format product reads as it always has; the lines for a brand, a price range,
    a sale, tags and variants appear only when the product has them.
    """
    lines = [meta["title"]]
    if meta.get("description"):
        lines.append(meta["description"])
    if meta.get("category"):
        lines.append(f"Category: {meta['category']}")
    if meta.get("brand"):
        lines.append(f"Brand: {meta['brand']}")
    if meta.get("price") is not None:
        lines.append(_price_line(meta))
    if meta.get("attributes"):
        lines.append("; ".join(f"{k}: {v}" for k, v in meta["attributes"].items()))
    if meta.get("tags"):
        lines.append("Tags: " + ", ".join(meta["tags"]))
    variants = meta.get("variants") or []
    if len(variants) > 1:
        lines.append(_variants_line(variants, meta.get("currency") or ""))
    if meta.get("availability"):
        lines.append(AVAILABILITY_TEXT[meta["availability"]])
    elif meta.get("stock") is not None:
        lines.append("In stock" if meta["stock"] > 0 else "Out of stock")
    return "\n".join(lines)


def _price_line(meta: dict[str, Any]) -> str:
    currency = meta.get("currency") or ""
    price = f"{meta['price']:.2f}"
    if meta.get("price_max") is not None:
        price += f"–{meta['price_max']:.2f}"
    line = f"Price: {price} {currency}".rstrip()
    if meta.get("compare_at_price") is not None:
        line += f" (was {meta['compare_at_price']:.2f})"
    return line


def _variants_line(variants: list[dict[str, Any]], currency: str) -> str:
    parts = []
    for variant in variants[:VARIANTS_IN_TEXT]:
        name = " / ".join(variant.get("options", {}).values()) or variant.get("sku", "")
        facts = []
        if variant.get("price") is not None:
            facts.append(f"{variant['price']:.2f} {currency}".rstrip())
        state = variant.get("availability") or (
            "in_stock" if variant.get("in_stock", True) else "out_of_stock"
        )
        if variant.get("availability") or variant.get("stock") is not None:
            facts.append(AVAILABILITY_TEXT[state].lower())
        parts.append(f"{name} ({', '.join(facts)})" if facts else name)
    more = len(variants) - VARIANTS_IN_TEXT
    tail = f"; and {more} more" if more > 0 else ""
    return f"Variants: {'; '.join(parts)}{tail}"


#: attributes that identify one variant rather than describe it: never options
IDENTIFIERS = frozenset(("gtin", "mpn"))


def group_variants(
    path: Path, items: list[tuple[Product, int, str]], issues: LoadIssues
) -> list[tuple[Product, int]]:
    """Products from single items ``(product, line, group id)``: items sharing a group id
    (a Merchant Center ``item_group_id``) become one product whose variants they are, at
    the place and line of the first. A group's options are the attributes its items differ
    in (colour, size...); its title is what their titles share."""
    groups: dict[str, list[tuple[Product, int]]] = {}
    for product, line, group in items:
        if group:
            groups.setdefault(group, []).append((product, line))
    out: list[tuple[Product, int]] = []
    for product, line, group in items:
        if not group:
            out.append((finish(product), line))
        elif groups[group][0][0] is product:
            out.append((_grouped(path, group, groups[group], issues), line))
    return out


def _grouped(
    path: Path, group: str, members: list[tuple[Product, int]], issues: LoadIssues
) -> Product:
    first = members[0][0]
    keys = {k for product, _ in members for k in product.attributes}
    options = sorted(
        (k for k in keys - IDENTIFIERS if len({p.attributes.get(k) for p, _ in members}) > 1),
        key=lambda k: list(first.attributes).index(k) if k in first.attributes else len(keys),
    )
    shared = {
        k: v
        for k, v in first.attributes.items()
        if k not in options and all(p.attributes.get(k) == v for p, _ in members)
    }
    product = Product(
        sku=group,
        title=common_title([p.title for p, _ in members]),
        description=next((p.description for p, _ in members if p.description), ""),
        category=first.category,
        category_path=first.category_path,
        brand=first.brand,
        tags=first.tags,
        currency=next((p.currency for p, _ in members if p.currency), ""),
        attributes=shared,
    )
    seen: dict[str, int] = {}
    for item, line in members:
        if item.sku in seen:
            issues.skip(
                LoadError(
                    path,
                    f"id {item.sku!r} is already on line {seen[item.sku]} (group {group!r}): "
                    "this row is skipped; give each item its own id",
                    line=line or None,
                )
            )
            continue
        seen[item.sku] = line
        product.variants.append(
            Variant(
                sku=item.sku,
                options={k: item.attributes[k] for k in options if k in item.attributes},
                price=item.price,
                compare_at_price=item.compare_at_price,
                stock=item.stock,
                in_stock=in_stock(item.stock, item.availability),
                availability=item.availability,
                image=item.image,
                url=item.url,
                gtin=item.attributes.get("gtin", ""),
            )
        )
    return finish(product)


def common_title(titles: list[str]) -> str:
    """What a variant group's titles share ("Merino Tee - Red - M", "Merino Tee - Blue - L"
    -> "Merino Tee"), cut at a word; the first title when they share too little."""
    if len(set(titles)) == 1:
        return titles[0]
    prefix = titles[0]
    for title in titles[1:]:
        while not title.startswith(prefix):
            prefix = prefix[:-1]
    if any(len(t) > len(prefix) and t[len(prefix)].isalnum() for t in titles):
        prefix = prefix[: prefix.rfind(" ") + 1] if " " in prefix else ""
    prefix = prefix.rstrip(" -–—,/|(:")
    return prefix if len(prefix) >= 3 else titles[0]
