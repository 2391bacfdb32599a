"""WooCommerce's product CSV export (Products > Export).

Simple, external and variable products are one row each; a variable product's variations
are rows of Type ``variation`` whose ``Parent`` names it as ``id:NN`` (its ID) or by its SKU,
before or after it in the file. Products without a SKU get the id ``id-NN``. Drafts and
private products (Published -1 and 0), disabled variations and grouped products (a list of
other products) are left out with a note. The exporter writes line breaks in descriptions
as a literal ``\\n``; they are read as line breaks.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    join_values,
    parse_availability,
    parse_price,
    parse_stock,
    split_category,
    split_list,
)

PUBLISHED = {"1": "published", "0": "private", "-1": "a draft"}


def matches(names: set[str]) -> bool:
    """Is this header a WooCommerce product export?"""
    return {"type", "name"} <= names and bool(
        names & {"regular price", "in stock?", "parent", "short description"}
    )


@dataclass
class _Row:
    record: dict[str, str]
    line: int

    def __getitem__(self, column: str) -> str:
        return self.record.get(column, "")

    @property
    def type(self) -> str:
        return self["type"].split(",")[0].strip().lower() or "simple"

    @property
    def key(self) -> str:
        return self["sku"] or (f"id-{self['id']}" if self["id"] else "")

    def attributes(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        n = 1
        while f"attribute {n} name" in self.record:
            name = self[f"attribute {n} name"]
            values = split_list(self[f"attribute {n} value(s)"])
            if name and values:
                out[attribute_key(name)] = values
            n += 1
        return out


def read(table: Table, *, config: CatalogueConfig, issues: LoadIssues) -> list[tuple[Product, int]]:
    keys = [h.lower() for h in table.header]
    path = table.path
    shape = RowShape(
        columns=len(keys),
        key=keys.index("sku") if "sku" in keys else keys.index("name"),
        text=keys.index("name"),
        delimiter=table.delimiter,
        min_cells=len(keys) // 2,
    )
    parents: dict[str, tuple[Product, int]] = {}
    by_id: dict[str, str] = {}
    left_out: set[str] = set()
    variations: list[_Row] = []
    for record, line in table.records(keys, shape, issues):
        row = _Row(record, line)
        if row.type == "variation":
            variations.append(row)
            continue
        try:
            product = _product(path, row, config, issues)
        except LoadError as exc:
            issues.skip(exc)
            continue
        refs = [row.key, f"id:{row['id']}" if row["id"] else ""]
        if product is None:
            left_out.update(r for r in refs if r)
            continue
        if row.key in parents:
            issues.skip(
                LoadError(
                    path,
                    f"duplicate SKU {row.key!r} (first on line {parents[row.key][1]}): the "
                    "first is kept; give each product its own SKU",
                    line=line,
                )
            )
            continue
        parents[row.key] = (product, line)
        if row["id"]:
            by_id[f"id:{row['id']}"] = row.key
    for row in variations:
        try:
            _attach(path, row, parents, by_id, left_out, issues)
        except LoadError as exc:
            issues.skip(exc)
    return [(finish(product), line) for product, line in parents.values()]


def _product(path: Path, row: _Row, config: CatalogueConfig, issues: LoadIssues) -> Product | None:
    if not row.key:
        raise LoadError(path, "no SKU and no ID: every product needs one of them", line=row.line)
    published = row["published"].strip() or "1"
    if published != "1":
        state = PUBLISHED.get(published, f"unpublished ({published})")
        issues.note(path, f"product {row.key!r} is {state} (Published): left out", line=row.line)
        return None
    if row.type == "grouped":
        issues.note(
            path,
            f"product {row.key!r} is a grouped product (a list of other products): left out",
            line=row.line,
        )
        return None
    price, compare_at, currency = _prices(path, row, config.currency or "")
    stock, availability = _stock(path, row)
    first_category = (split_list(row["categories"]) or [""])[0]
    category, category_path = split_category(first_category)
    attributes = {k: join_values(v) for k, v in row.attributes().items()}
    return Product(
        sku=row.key,
        title=row["name"],
        description=_description(row),
        category=category,
        category_path=category_path,
        price=price,
        compare_at_price=compare_at,
        currency=currency,
        stock=stock,
        availability=availability,
        attributes=attributes,
        brand=row["brands"],
        tags=split_list(row["tags"]),
        image=(split_list(row["images"]) or [""])[0],
        url=row["external url"],
    )


def _attach(
    path: Path,
    row: _Row,
    parents: dict[str, tuple[Product, int]],
    by_id: dict[str, str],
    left_out: set[str],
    issues: LoadIssues,
) -> None:
    ref = row["parent"].strip()
    name = row.key or row["name"] or "variation"
    if not ref:
        raise LoadError(
            path,
            f"variation {name!r} has no Parent: write the parent's SKU or id:ID",
            line=row.line,
        )
    if ref in left_out:
        return  # its parent was left out (a draft): so is it
    key = by_id.get(ref, ref)
    if key not in parents:
        raise LoadError(
            path,
            f"variation {name!r} refers to the parent {ref!r}, which is not in the file: "
            "export the variable product with its variations",
            line=row.line,
        )
    product, _ = parents[key]
    published = row["published"].strip() or "1"
    if published != "1":
        issues.note(path, f"variation {name!r} of {key!r} is disabled: left out", line=row.line)
        return
    price, compare_at, currency = _prices(path, row, "")
    stock, availability = _stock(path, row)
    options = {k: v[0] for k, v in row.attributes().items()}
    if any(v.sku == row["sku"] for v in product.variants if row["sku"]):
        raise LoadError(
            path, f"variation SKU {row['sku']!r} of {key!r} is listed twice: skipped", line=row.line
        )
    product.variants.append(
        Variant(
            sku=row["sku"],
            options=options,
            price=price,
            compare_at_price=compare_at,
            stock=stock,
            in_stock=in_stock(stock, availability),
            availability=availability,
            image=(split_list(row["images"]) or [""])[0],
        )
    )
    product.currency = product.currency or currency


def _prices(path: Path, row: _Row, default: str) -> tuple[float | None, float | None, str]:
    """(price, the price before a sale, currency): a sale price below the regular one is the
    price."""
    what = f"{'variation' if row.type == 'variation' else 'product'} {row.key or row['name']!r}:"
    regular, cur1 = cell(path, row.line, f"{what} Regular price", parse_price, row["regular price"])
    sale, cur2 = cell(path, row.line, f"{what} Sale price", parse_price, row["sale price"])
    currency = cur1 or cur2 or default
    if sale is not None and (regular is None or sale < regular):
        return sale, regular, currency
    return regular, None, currency


def _stock(path: Path, row: _Row) -> tuple[int | None, str | None]:
    what = f"{row.key or row['name']!r}:"
    stock = cell(path, row.line, f"{what} Stock", parse_stock, row["stock"])
    availability = cell(path, row.line, f"{what} In stock?", parse_availability, row["in stock?"])
    if stock is not None:
        stock = max(0, stock)  # backorders take stock below zero
        if availability is None:
            availability = "in_stock" if stock > 0 else "out_of_stock"
    return stock, availability


def _description(row: _Row) -> str:
    short = description_text(row["short description"].replace("\\n", "\n"))
    full = description_text(row["description"].replace("\\n", "\n"))
    if short and short not in full:
        return f"{short}\n\n{full}".strip()
    return full or short
