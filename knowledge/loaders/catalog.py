"""Product catalogue loaders. A product is one Document, never split, with a stable id from
its SKU (Shopify: its handle), so re-indexing re-embeds only the products that changed.

Formats, told apart by the header (XML: by the root element) unless
``knowledge.catalogue.format`` names one:

- shopbot's own CSV, JSON or YAML: ``sku,title,description,price,currency,category,
  attributes,stock,url``; only ``sku`` and ``title`` are required. ``attributes`` is
  ``key=value; key=value`` in CSV and a mapping in JSON;
- Shopify's product CSV (:mod:`knowledge.loaders.shopify`);
- WooCommerce's product CSV export (:mod:`knowledge.loaders.woocommerce`);
- a Google Merchant Center feed, TSV or RSS/Atom XML (:mod:`knowledge.loaders.merchant`);
- any other CSV or JSON through ``knowledge.catalogue.columns`` (:mod:`knowledge.loaders.mapped`).

Delimiters (comma, semicolon, tab) come from the header line. A row that is wrong is left
out and reported with its file and line (:class:`LoadIssues`); the rest load. A file none of
whose products can be read is an error, so a broken export never empties the index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from knowledge.config import CatalogueConfig
from knowledge.documents import Document, Product
from knowledge.errors import LoadError
from knowledge.loaders import mapped, merchant, shopify, woocommerce
from knowledge.loaders.common import LoadIssues, iter_files, line_of, load_records, read_text
from knowledge.loaders.csvfile import RowShape, Table, open_table
from knowledge.loaders.htmltext import description_text
from knowledge.loaders.products import attributes_cell, cell, finish, product_document
from knowledge.loaders.values import parse_price, parse_stock

CATALOG_SUFFIXES = (".csv", ".tsv", ".json", ".yaml", ".yml", ".xml")
COLUMNS = (
    "sku",
    "title",
    "description",
    "price",
    "currency",
    "category",
    "attributes",
    "stock",
    "url",
)
FORMAT_NAMES = {
    "shopbot": "shopbot's own columns",
    "shopify": "a Shopify product CSV",
    "woocommerce": "a WooCommerce product CSV",
    "google": "a Google Merchant Center feed",
    "mapped": "the column mapping in knowledge.catalogue.columns",
}
UNKNOWN_FORMAT = (
    "cannot tell the catalogue's format from its header: expected a Shopify product CSV "
    "(Handle, Title, Body (HTML), Variant Price...), a WooCommerce export (ID, Type, SKU, "
    "Name, Regular price...), a Google Merchant Center feed (id, title, price, link, "
    "availability...) or shopbot's own columns ({own}); for any other layout map its "
    "columns in knowledge.catalogue.columns (e.g. columns: {{sku: 'Item No', title: 'Name'}}). "
    "The header has: {found}"
)

Read = list[tuple[Product, int]]


def load_catalog(
    path: str | Path, *, config: CatalogueConfig | None = None, issues: LoadIssues | None = None
) -> list[Document]:
    """Load one catalogue file or every catalogue file in a folder.

    Rows left out and notes go to ``issues``; without it they are logged.
    """
    collected = LoadIssues() if issues is None else issues
    docs: list[Document] = []
    seen: dict[str, str] = {}
    for file in iter_files(Path(path), CATALOG_SUFFIXES):
        for doc in load_catalog_file(file, config=config, issues=collected):
            if doc.id in seen:
                collected.skip(
                    LoadError(
                        file,
                        f"SKU {doc.metadata['sku']!r} is also listed in {seen[doc.id]}: the "
                        "first is kept; give each product one SKU across the catalogue's files",
                        line=doc.metadata.get("line"),
                    )
                )
                continue
            seen[doc.id] = str(file)
            docs.append(doc)
    if issues is None:
        collected.log()
    return docs


def load_catalog_file(
    path: Path, *, config: CatalogueConfig | None = None, issues: LoadIssues | None = None
) -> list[Document]:
    """The products of one file, in the file's order."""
    config = config or CatalogueConfig()
    text = read_text(path)
    found = LoadIssues()
    fmt, products = _read(path, text, config, found)
    docs = _documents(path, products, fmt, config, found)
    if not docs and found.skipped:
        first, more = found.skipped[0], len(found.skipped) - 1
        also = f" (and {more} more row(s) with errors)" if more else ""
        raise LoadError(
            first.path, f"no product could be read: {first.reason}{also}", line=first.line
        )
    found.skipped.sort(key=lambda e: e.line or 0)  # readers meet some problems late
    found.notes.sort(key=lambda e: e.line or 0)
    if issues is None:
        found.log()
    else:
        issues.extend(found)
    return docs


def _read(path: Path, text: str, config: CatalogueConfig, issues: LoadIssues) -> tuple[str, Read]:
    kind = _file_kind(path, text)
    wanted = config.format
    if kind == "xml":
        _check_format(path, wanted, ("auto", "google"), "an XML file is read as a Google feed")
        return "google", merchant.read_xml(path, text, config=config, issues=issues)
    mapping = bool(config.columns or config.attributes or config.records_key)
    if kind == "records":
        if wanted == "mapped" or (wanted == "auto" and mapping):
            return "mapped", mapped.read_records(path, text, config=config, issues=issues)
        _check_format(
            path, wanted, ("auto", "shopbot"), "JSON and YAML are read as shopbot's own fields"
        )
        return "shopbot", _own_records(path, text, config, issues)
    table = open_table(path, text)
    fmt = wanted if wanted != "auto" else detect_format(table.header, mapping=mapping)
    if fmt is None:
        found = ", ".join(table.header) or "(nothing)"
        raise LoadError(path, UNKNOWN_FORMAT.format(own=",".join(COLUMNS), found=found), line=1)
    readers = {
        "shopify": shopify.read,
        "woocommerce": woocommerce.read,
        "google": merchant.read_table,
        "mapped": mapped.read_table,
        "shopbot": _own_table,
    }
    return fmt, readers[fmt](table, config=config, issues=issues)


def _file_kind(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return "xml"
    if suffix in (".json", ".yaml", ".yml"):
        return "records"
    if suffix in (".csv", ".tsv"):
        return "table"
    start = text.lstrip()[:1]  # a feed saved as .txt or without a suffix
    return "xml" if start == "<" else "records" if start in ("[", "{") else "table"


def _check_format(path: Path, wanted: str, allowed: tuple[str, ...], why: str) -> None:
    if wanted not in allowed:
        raise LoadError(
            path,
            f"knowledge.catalogue.format is {wanted!r} but {why}: set format: auto, or "
            f"export the catalogue as {FORMAT_NAMES[wanted]}",
        )


def detect_format(header: list[str], *, mapping: bool = False) -> str | None:
    """The export a header comes from: ``shopify``, ``woocommerce``, ``google``, then
    ``mapped`` when a column mapping is configured, else ``shopbot`` (or None)."""
    names = {h.strip().lower() for h in header}
    if shopify.matches(names):
        return "shopify"
    if woocommerce.matches(names):
        return "woocommerce"
    if merchant.matches(names):
        return "google"
    if mapping:
        return "mapped"
    if names & {"sku", "title"}:
        return "shopbot"  # a column missing is reported by its reader
    return None


def _documents(
    path: Path, products: Read, fmt: str, config: CatalogueConfig, issues: LoadIssues
) -> list[Document]:
    docs: list[Document] = []
    seen: dict[str, int] = {}
    for product, line in products:
        if not product.url and config.url_template and product.sku:
            key = quote(product.sku, safe="")
            product.url = config.url_template.format(sku=key, handle=key)
        try:
            doc = product_document(path, product, line)
        except LoadError as exc:
            issues.skip(exc)
            continue
        if product.sku in seen:
            issues.skip(
                LoadError(
                    path,
                    f"duplicate SKU {product.sku!r} (first on line {seen[product.sku]}): "
                    "the first is kept; give each product its own SKU",
                    line=line_of(line),
                )
            )
            continue
        if product.price is None and fmt != "shopbot":
            issues.note(
                path,
                f"product {product.sku!r} has no price: it loads without one (the bot "
                "cannot quote or filter its price)",
                line=line_of(line),
            )
        elif unpriced := [v.sku or v.title for v in product.variants if v.price is None]:
            issues.note(
                path,
                f"variant(s) {', '.join(unpriced)} of {product.sku!r} have no price: the "
                "product's price range leaves them out",
                line=line_of(line),
            )
        seen[product.sku] = line
        docs.append(doc)
    return docs


# ---------------------------------------------------------------- shopbot's own columns
def _own_table(table: Table, *, config: CatalogueConfig, issues: LoadIssues) -> Read:
    header = [h.lower() for h in table.header]
    missing = [c for c in ("sku", "title") if c not in header]
    if missing:
        raise LoadError(
            table.path,
            f"missing column(s) {', '.join(missing)}: the header needs at least sku,title "
            f"(full form: {','.join(COLUMNS)}; found {','.join(header)}), or map the file's "
            "columns in knowledge.catalogue.columns",
            line=1,
        )
    shape = RowShape(
        columns=len(header),
        key=header.index("sku"),
        text=header.index("title"),
        delimiter=table.delimiter,
    )
    out: Read = []
    for record, line in table.records(header, shape, issues):
        try:
            out.append((_own_product(table.path, record, line, config), line))
        except LoadError as exc:
            issues.skip(exc)
    return out


def _own_records(path: Path, text: str, config: CatalogueConfig, issues: LoadIssues) -> Read:
    out: Read = []
    for record, line in load_records(path, text, list_keys=("products", "catalog", "items")):
        try:
            if not isinstance(record, dict):
                raise LoadError(
                    path, "each product must be a mapping of fields", line=line_of(line)
                )
            out.append((_own_product(path, record, line, config), line))
        except LoadError as exc:
            issues.skip(exc)
    return out


def _own_product(path: Path, record: dict[str, Any], line: int, config: CatalogueConfig) -> Product:
    sku = str(record.get("sku") or "").strip()
    title = str(record.get("title") or "").strip()
    if not sku:
        raise LoadError(path, "empty sku: every product needs a unique SKU", line=line_of(line))
    if not title:
        raise LoadError(path, f"product {sku!r} has an empty title", line=line_of(line))
    price, price_currency = cell(path, line, f"price of {sku!r}", parse_price, record.get("price"))
    stock = cell(path, line, f"stock of {sku!r}", parse_stock, record.get("stock"))
    if stock is not None and stock < 0:
        raise LoadError(
            path, f"stock of {sku!r} must not be negative, got {stock}", line=line_of(line)
        )
    currency = str(record.get("currency") or "").strip().upper()
    product = Product(
        sku=sku,
        title=title,
        description=description_text(str(record.get("description") or "")),
        category=str(record.get("category") or "").strip(),
        price=price,
        currency=currency or price_currency or (config.currency or ""),
        attributes=attributes_cell(path, record.get("attributes"), line),
        stock=stock,
        url=str(record.get("url") or "").strip(),
    )
    return finish(product)
