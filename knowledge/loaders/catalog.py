"""Product catalogue loaders (CSV or JSON). A product is one Document, never split.

CSV columns: ``sku,title,description,price,currency,category,attributes,stock,url``; only
``sku`` and ``title`` are required. ``attributes`` is ``key=value; key=value`` in CSV and a
mapping in JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowledge.documents import Document
from knowledge.errors import LoadError
from knowledge.loaders.common import iter_files, line_of, load_records, read_text
from knowledge.loaders.csvfile import RowShape, check_runaway_quote, fit_row, read_rows

CATALOG_SUFFIXES = (".csv", ".json", ".yaml", ".yml")
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


def load_catalog(path: str | Path) -> list[Document]:
    """Load one catalogue file or every catalogue file in a folder."""
    docs: list[Document] = []
    seen: dict[str, str] = {}
    for file in iter_files(Path(path), CATALOG_SUFFIXES):
        for doc in load_catalog_file(file):
            if doc.id in seen:
                raise LoadError(
                    file,
                    f"SKU {doc.metadata['sku']!r} is also listed in {seen[doc.id]}",
                    line=doc.metadata.get("line"),
                )
            seen[doc.id] = str(file)
            docs.append(doc)
    return docs


def load_catalog_file(path: Path) -> list[Document]:
    text = read_text(path)
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(path, text)
    else:
        rows = load_records(path, text, list_keys=("products", "catalog", "items"))
    docs: list[Document] = []
    seen: dict[str, int] = {}
    for record, line in rows:
        if not isinstance(record, dict):
            raise LoadError(path, "each product must be a mapping of fields", line=line_of(line))
        doc = _product(path, record, line)
        sku = doc.metadata["sku"]
        if sku in seen:
            raise LoadError(
                path, f"duplicate SKU {sku!r} (first on line {seen[sku]})", line=line_of(line)
            )
        seen[sku] = line
        docs.append(doc)
    return docs


def _csv_rows(path: Path, text: str) -> list[tuple[dict[str, str], int]]:
    reader = read_rows(path, text)
    try:
        header = [h.strip().lower() for h in next(reader)[0]]
    except StopIteration:
        expected = ",".join(COLUMNS)
        raise LoadError(path, f"empty file: expected the header {expected}", line=1) from None
    missing = [c for c in ("sku", "title") if c not in header]
    if missing:
        raise LoadError(
            path,
            f"missing column(s) {', '.join(missing)}: the header needs at least sku,title "
            f"(full form: {','.join(COLUMNS)}; found {','.join(header)})",
            line=1,
        )
    shape = RowShape(columns=len(header), key=header.index("sku"), text=header.index("title"))
    skus: set[str] = set()
    rows = []
    for row, line in reader:
        if not any(cell.strip() for cell in row):
            continue
        check_runaway_quote(path, row, line, shape, skus)
        row = fit_row(path, row, len(header), line)
        record = dict(zip(header, (c.strip() for c in row), strict=True))
        skus.add(record["sku"])
        rows.append((record, line))
    return rows


def _attributes(path: Path, value: Any, line: int) -> dict[str, str]:
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
                line=line_of(line),
            )
        key, _, val = part.partition("=")
        attrs[key.strip()] = val.strip()
    return attrs


def _product(path: Path, record: dict[str, Any], line: int) -> Document:
    sku = str(record.get("sku") or "").strip()
    title = str(record.get("title") or "").strip()
    if not sku:
        raise LoadError(path, "empty sku: every product needs a unique SKU", line=line_of(line))
    if not title:
        raise LoadError(path, f"product {sku!r} has an empty title", line=line_of(line))
    price = _number(path, record.get("price"), f"price of {sku!r}", line, integer=False)
    stock = _number(path, record.get("stock"), f"stock of {sku!r}", line, integer=True)
    attrs = _attributes(path, record.get("attributes"), line)
    description = str(record.get("description") or "").strip()
    category = str(record.get("category") or "").strip()
    currency = str(record.get("currency") or "").strip().upper()
    url = str(record.get("url") or "").strip()
    metadata: dict[str, Any] = {
        "kind": "product",
        "sku": sku,
        "title": title,
        "description": description,
        "category": category,
        "price": price,
        "currency": currency,
        "attributes": attrs,
        "stock": stock,
        "in_stock": stock is None or stock > 0,
        "source": str(path),
        "line": line or None,
    }
    if url:
        metadata["url"] = url
    return Document(id=f"product:{sku}", text=product_text(metadata), metadata=metadata)


def product_text(meta: dict[str, Any]) -> str:
    """The product as text: what the indexes search and what an answer may quote."""
    lines = [meta["title"]]
    if meta.get("description"):
        lines.append(meta["description"])
    if meta.get("category"):
        lines.append(f"Category: {meta['category']}")
    if meta.get("price") is not None:
        lines.append(f"Price: {meta['price']:.2f} {meta.get('currency') or ''}".rstrip())
    if meta.get("attributes"):
        lines.append("; ".join(f"{k}: {v}" for k, v in meta["attributes"].items()))
    if meta.get("stock") is not None:
        lines.append("In stock" if meta["stock"] > 0 else "Out of stock")
    return "\n".join(lines)


def _number(path: Path, value: Any, what: str, line: int, *, integer: bool) -> Any:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip()) if integer else float(str(value).replace(",", "").strip())
    except ValueError:
        kind = "a whole number" if integer else "a number such as 19.99"
        raise LoadError(path, f"{what} must be {kind}, got {value!r}", line=line_of(line)) from None
    if number < 0:
        raise LoadError(path, f"{what} must not be negative, got {value!r}", line=line_of(line))
    return number
