"""Any other CSV or JSON catalogue, read through the column mapping in config::

    knowledge:
      catalogue:
        columns: {sku: "Item No", title: "Name", price: "Cost", stock: "On hand"}
        attributes: {color: "Colour", size: "Size"}
        records_key: data.items        # JSON: where the list is (default: the top level)

A product field left out of ``columns`` is read from the column of its own name, if there
is one (``description``, ``url``...). A mapped column the file does not have is an error
that lists the columns it has. JSON keys may be dotted for nested objects
(``price: "pricing.amount"``). Rows sharing a ``group`` are one product with variants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from knowledge.config import PRODUCT_FIELDS, CatalogueConfig
from knowledge.documents import Product
from knowledge.errors import LoadError
from knowledge.loaders.common import LoadIssues, line_of, load_records
from knowledge.loaders.csvfile import RowShape, Table
from knowledge.loaders.htmltext import description_text
from knowledge.loaders.products import attributes_cell, cell, group_variants, in_stock
from knowledge.loaders.values import (
    attribute_key,
    parse_availability,
    parse_price,
    parse_stock,
    split_category,
    split_list,
)

Getter = Callable[[str], Any]


def read_table(
    table: Table, *, config: CatalogueConfig, issues: LoadIssues
) -> list[tuple[Product, int]]:
    columns = _resolve(table.path, table.header, config, where="the header", line=1)
    shape = RowShape(
        columns=len(table.header),
        key=table.header.index(columns["sku"]),
        text=table.header.index(columns["title"]),
        delimiter=table.delimiter,
    )
    records = table.records(table.header, shape, issues)
    return _products(table.path, records, columns, config, issues)


def read_records(
    path: Path, text: str, *, config: CatalogueConfig, issues: LoadIssues
) -> list[tuple[Product, int]]:
    rows = load_records(
        path, text, list_keys=("products", "catalog", "items"), key_path=config.records_key
    )
    dicts = [(r, line) for r, line in rows if isinstance(r, dict)]
    for record, line in rows:
        if not isinstance(record, dict):
            issues.skip(LoadError(path, "each product must be an object", line=line_of(line)))
    keys = _keys(record for record, _ in dicts)
    columns = _resolve(path, keys, config, where="the records", line=None)
    return _products(path, iter(dicts), columns, config, issues)


def _keys(records: Iterable[dict[str, Any]]) -> list[str]:
    """Every key of the records, nested ones dotted (``pricing.amount``)."""
    seen: dict[str, None] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for k, v in node.items():
            seen[prefix + str(k)] = None
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")

    for record in records:
        walk(record, "")
    return list(seen)


def _resolve(
    path: Path, names: list[str], config: CatalogueConfig, *, where: str, line: int | None
) -> dict[str, str]:
    """Product field or ``attributes.NAME`` -> the file's column; every mapped column must
    be in the file, and sku and title must be found."""
    by_lower = {n.strip().lower(): n for n in names}
    out: dict[str, str] = {}
    wanted = [(f, c, "columns") for f, c in config.columns.items()]
    wanted += [(f"attributes.{a}", c, "attributes") for a, c in config.attributes.items()]
    for target, column, section in wanted:
        found = column if column in names else by_lower.get(column.strip().lower())
        if found is None:
            shown = ", ".join(names) or "(none)"
            raise LoadError(
                path,
                f"column {column!r} (knowledge.catalogue.{section}: {target.split('.')[-1]}) "
                f"is not in {where}; the file has: {shown}",
                line=line,
            )
        out[target] = found
    for name in PRODUCT_FIELDS:
        if name not in out and name in by_lower:
            out[name] = by_lower[name]
    missing = [f for f in ("sku", "title") if f not in out]
    if missing:
        raise LoadError(
            path,
            f"no column for {' and '.join(missing)}: map it in knowledge.catalogue.columns "
            f"(e.g. {missing[0]}: 'Item No'); the file has: {', '.join(names)}",
            line=line,
        )
    return out


def _products(
    path: Path,
    records: Iterable[tuple[dict[str, Any], int]],
    columns: dict[str, str],
    config: CatalogueConfig,
    issues: LoadIssues,
) -> list[tuple[Product, int]]:
    items: list[tuple[Product, int, str]] = []
    for record, line in records:

        def get(target: str, record: dict[str, Any] = record) -> Any:
            column = columns.get(target)
            return _lookup(record, column) if column else None

        try:
            items.append((_product(path, get, line, columns, config), line, _text(get("group"))))
        except LoadError as exc:
            issues.skip(exc)
    return group_variants(path, items, issues)


def _lookup(record: dict[str, Any], column: str) -> Any:
    if column in record:
        return record[column]
    node: Any = record
    for part in column.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _product(
    path: Path, get: Getter, line: int, columns: dict[str, str], config: CatalogueConfig
) -> Product:
    sku, title = _text(get("sku")), _text(get("title"))
    if not sku:
        raise LoadError(
            path, f"empty {columns['sku']}: every product needs its SKU", line=line_of(line)
        )
    what = f"product {sku!r}:"
    price, cur = cell(path, line, f"{what} {columns.get('price')}", parse_price, get("price"))
    sale, cur2 = cell(
        path, line, f"{what} {columns.get('sale_price')}", parse_price, get("sale_price")
    )
    was = None
    if sale is not None and (price is None or sale < price):
        price, was = sale, price
    stock = cell(path, line, f"{what} {columns.get('stock')}", parse_stock, get("stock"))
    if stock is not None and stock < 0:
        raise LoadError(path, f"{what} stock must not be negative, got {stock}", line=line_of(line))
    availability = cell(
        path, line, f"{what} {columns.get('availability')}", parse_availability, get("availability")
    )
    attributes = {
        attribute_key(k): v for k, v in attributes_cell(path, get("attributes"), line).items()
    }
    for target in columns:
        if target.startswith("attributes."):
            value = get(target)
            if value not in (None, ""):
                attributes[attribute_key(target.split(".", 1)[1])] = _text(
                    "/".join(map(str, value)) if isinstance(value, list) else value
                )
    category, category_path = split_category(_text(get("category")))
    return Product(
        sku=sku,
        title=title,
        description=description_text(_text(get("description"))),
        category=category,
        category_path=category_path,
        price=price,
        compare_at_price=was,
        currency=_text(get("currency")).upper() or cur or cur2 or (config.currency or ""),
        stock=stock,
        availability=availability,
        in_stock=in_stock(stock, availability),
        attributes=attributes,
        brand=_text(get("brand")),
        tags=split_list(get("tags")),
        url=_text(get("url")),
        image=_text(get("image")),
    )
