"""Shopify's product CSV (Products > Export), the classic columns and the 2024 names.

One product spans several rows sharing its ``Handle``: the first has the product's fields
(Title, Body (HTML), Vendor, Type, Tags, Status...) and its first variant; later rows have
only variant columns (Option values, Variant SKU, Variant Price, Variant Inventory Qty) or
only an image (Image Src). Rows are grouped by handle wherever they are in the file. Draft
and archived products, and products not published on the online store, are left out with a
note.
"""

from __future__ import annotations

import re
from pathlib import Path

from knowledge.config import CatalogueConfig
from knowledge.documents import Product, Variant
from knowledge.errors import LoadError
from knowledge.loaders.common import LoadIssues
from knowledge.loaders.csvfile import RowShape, Table
from knowledge.loaders.htmltext import description_text
from knowledge.loaders.products import cell, finish, in_stock
from knowledge.loaders.values import (
    attribute_key,
    parse_flag,
    parse_price,
    parse_stock,
    split_category,
    split_list,
)

# field -> the column names Shopify has used for it (lower case)
COLUMNS = {
    "handle": ("handle", "url handle"),
    "title": ("title",),
    "body": ("body (html)", "description"),
    "vendor": ("vendor",),
    "category": ("product category",),
    "type": ("type",),
    "tags": ("tags",),
    "published": ("published", "published on online store"),
    "status": ("status",),
    "sku": ("variant sku", "sku"),
    "price": ("variant price", "price"),
    "compare_at": ("variant compare at price", "compare-at price"),
    "qty": ("variant inventory qty", "inventory quantity"),
    "tracker": ("variant inventory tracker", "inventory tracker"),
    "policy": ("variant inventory policy", "continue selling when out of stock"),
    "barcode": ("variant barcode", "barcode"),
    "image": ("image src", "product image url"),
    "variant_image": ("variant image", "variant image url"),
}
GOOGLE = {
    "google shopping / gender": "gender",
    "google shopping / age group": "age_group",
    "google shopping / condition": "condition",
}
METAFIELD = re.compile(r"^(.+?)\s*\(product\.metafields\.[^)]*\)$", re.IGNORECASE)
OPTIONS = 3
LEFT_OUT = {"draft": "a draft", "archived": "archived"}


def matches(names: set[str]) -> bool:
    """Is this header a Shopify product export?"""
    has_handle = bool(names & set(COLUMNS["handle"]))
    return has_handle and bool(names & {"variant price", "variant sku", "body (html)", "price"})


class _Row:
    """One row, read by field name whichever of Shopify's column names the file uses."""

    def __init__(self, record: dict[str, str], line: int, columns: dict[str, str]) -> None:
        self.record, self.line, self.columns = record, line, columns

    def __getitem__(self, field: str) -> str:
        column = self.columns.get(field)
        return self.record.get(column, "") if column else ""

    def has(self, field: str) -> bool:
        return field in self.columns

    def option(self, n: int, part: str) -> str:
        return self.record.get(f"option{n} {part}", "")

    @property
    def is_variant(self) -> bool:
        values = [self.option(n, "value") for n in range(1, OPTIONS + 1)]
        return any([self["sku"], self["price"], self["qty"], *values])


def read(table: Table, *, config: CatalogueConfig, issues: LoadIssues) -> list[tuple[Product, int]]:
    keys = [h.lower() for h in table.header]
    columns = {
        name: next(c for c in options if c in keys)
        for name, options in COLUMNS.items()
        if any(c in keys for c in options)
    }
    for needed in ("handle", "title"):
        if needed not in columns:
            raise LoadError(
                table.path,
                f"a Shopify export needs the column {COLUMNS[needed][0].title()!r}: "
                f"export the products again (found {', '.join(table.header)})",
                line=1,
            )
    shape = RowShape(
        columns=len(keys),
        key=keys.index(columns["handle"]),
        text=keys.index(columns["title"]),
        delimiter=table.delimiter,
        min_cells=len(keys) // 2,
    )
    groups: dict[str, list[_Row]] = {}
    for record, line in table.records(keys, shape, issues):
        row = _Row(record, line, columns)
        if not row["handle"]:
            issues.skip(
                LoadError(
                    table.path,
                    "empty Handle: every row of a Shopify export names its product's handle",
                    line=line,
                )
            )
            continue
        groups.setdefault(row["handle"], []).append(row)
    out: list[tuple[Product, int]] = []
    for handle, rows in groups.items():
        try:
            product, line = _product(table.path, handle, rows, config, issues)
        except LoadError as exc:
            issues.skip(exc)
            continue
        if product is not None:
            out.append((product, line))
    return out


def _product(
    path: Path, handle: str, rows: list[_Row], config: CatalogueConfig, issues: LoadIssues
) -> tuple[Product | None, int]:
    head, rows = _head(path, handle, rows, issues)
    if _left_out(path, head, handle, issues):
        return None, head.line
    category, category_path = split_category(head["type"] or head["category"])
    if head["type"] and head["category"]:
        category_path = split_category(head["category"])[1] or head["category"]
    product = Product(
        sku=handle,
        title=head["title"],
        description=description_text(head["body"]),
        category=category,
        category_path=category_path,
        brand=head["vendor"],
        tags=split_list(head["tags"]),
        attributes=_attributes(head),
        image=next((r["image"] for r in rows if r["image"]), ""),
    )
    variant_rows = [r for r in rows if r.is_variant]
    _add_variants(path, product, head, variant_rows, issues)
    if variant_rows and not product.variants:
        raise LoadError(
            path,
            f"product {handle!r} is left out: none of its variant rows could be read",
            line=head.line,
        )
    product.currency = product.currency or config.currency or ""
    return finish(product), head.line


def _head(path: Path, handle: str, rows: list[_Row], issues: LoadIssues) -> tuple[_Row, list[_Row]]:
    """The row with the product's fields (the first with a Title), and the handle's rows
    without those that are another product under the same handle (skipped)."""
    heads = [r for r in rows if r["title"]]
    if not heads:
        lines = ", ".join(str(r.line) for r in rows)
        raise LoadError(
            path,
            f"handle {handle!r} has no row with its Title (lines {lines}): the product's first "
            "row (Title, Body (HTML), Vendor...) is missing, so its variants are skipped",
            line=rows[0].line,
        )
    head = heads[0]
    others = [r for r in heads[1:] if r["title"] != head["title"]]  # the same title: a variant
    for other in others:
        issues.skip(
            LoadError(
                path,
                f"handle {handle!r} is already the product {head['title']!r} (line "
                f"{head.line}): this row, titled {other['title']!r}, is skipped; give each "
                "product its own handle",
                line=other.line,
            )
        )
    return head, [r for r in rows if r not in others]


def _left_out(path: Path, head: _Row, handle: str, issues: LoadIssues) -> bool:
    """Is the product a draft, archived or unpublished (noted, not indexed)?"""
    status = head["status"].strip().lower() or "active"
    if status in LEFT_OUT:
        issues.note(
            path, f"product {handle!r} is {LEFT_OUT[status]} (Status): left out", line=head.line
        )
        return True
    if head.has("published") and not _flag(path, head, "published", handle):
        issues.note(
            path,
            f"product {handle!r} is not published on the online store: left out",
            line=head.line,
        )
        return True
    return False


def _add_variants(
    path: Path, product: Product, head: _Row, rows: list[_Row], issues: LoadIssues
) -> None:
    names = [_option_name(head.option(n, "name")) for n in range(1, OPTIONS + 1)]
    seen: dict[tuple[str, ...], int] = {}
    for row in rows:
        try:
            variant, currency = _variant(path, row, names, product.sku)
        except LoadError as exc:
            issues.skip(exc)
            continue
        key = (variant.sku,) if variant.sku else tuple(variant.options.values())
        if key in seen:
            issues.skip(
                LoadError(
                    path,
                    f"variant {variant.sku or variant.title!r} of {product.sku!r} is already "
                    f"on line {seen[key]}: this row is skipped",
                    line=row.line,
                )
            )
            continue
        seen[key] = row.line
        product.variants.append(variant)
        product.currency = product.currency or currency  # a price written "15.00 EUR"


def _option_name(name: str) -> str:
    return "" if name.strip().lower() == "title" else attribute_key(name) if name else ""


def _variant(path: Path, row: _Row, names: list[str], handle: str) -> tuple[Variant, str]:
    """A variant row as a Variant, and the currency its price was written with (if any)."""
    options = {}
    for n, name in enumerate(names, 1):
        value = row.option(n, "value")
        if name and value and value != "Default Title":
            options[name] = value
    what = f"variant {row['sku'] or ' / '.join(options.values()) or handle!r} of {handle!r}:"
    price, currency = cell(path, row.line, f"{what} Variant Price", parse_price, row["price"])
    was, _ = cell(path, row.line, f"{what} Compare At Price", parse_price, row["compare_at"])
    stock = cell(path, row.line, f"{what} Inventory Qty", parse_stock, row["qty"])
    if stock is not None:
        stock = max(0, stock)  # Shopify's inventory goes below zero when it sells on
    if row.has("tracker") and not row["tracker"] and not stock:
        stock = None  # inventory not tracked: it can always be bought
    sells_on = row["policy"].strip().lower() in ("continue", "true")
    availability = "backorder" if sells_on and stock == 0 else None
    variant = Variant(
        sku=row["sku"],
        options=options,
        price=price,
        compare_at_price=was,
        stock=stock,
        in_stock=in_stock(stock, availability),
        availability=availability,
        image=row["variant_image"],
        gtin=row["barcode"].lstrip("'"),
    )
    return variant, currency


def _flag(path: Path, row: _Row, field: str, handle: str) -> bool:
    return cell(path, row.line, f"{field} of {handle!r}", parse_flag, row[field], default=True)


def _attributes(head: _Row) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for column, key in GOOGLE.items():
        if head.record.get(column):
            attrs[key] = head.record[column]
    for column, value in head.record.items():
        match = METAFIELD.match(column)
        if match and value:
            attrs[attribute_key(match.group(1))] = "/".join(split_list(value, sep=";"))
    return attrs
