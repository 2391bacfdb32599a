"""Google Merchant Center product feeds: a TSV (or CSV) with Google's attribute names, or
RSS 2.0 / Atom XML with the ``g:`` namespace (http://base.google.com/ns/1.0).

Each item is one offer; items sharing an ``item_group_id`` are one product whose variants
they are (options: the attributes they differ in, such as color and size). ``price`` is
"15.00 USD"; a ``sale_price`` below it is the price. The feed has no stock counts:
``availability`` says whether an item can be bought.

XML is parsed with the standard library and a feed with a DOCTYPE is refused: a product feed
has no use for one, and refusing it rules out entity expansion and external entities
without depending on defusedxml.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from knowledge.config import CatalogueConfig
from knowledge.documents import Product
from knowledge.errors import LoadError
from knowledge.loaders.common import LoadIssues
from knowledge.loaders.csvfile import RowShape, Table
from knowledge.loaders.htmltext import description_text
from knowledge.loaders.products import cell, group_variants, in_stock
from knowledge.loaders.values import parse_availability, parse_price, split_category

G_NS = "http://base.google.com/ns/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
#: Google attributes kept as product attributes (filters for recommendations)
ATTRIBUTES = (
    "color",
    "size",
    "gender",
    "age_group",
    "material",
    "pattern",
    "condition",
    "size_type",
    "size_system",
    "gtin",
    "mpn",
)
MARKERS = {"link", "image_link", "availability", "google_product_category", "item_group_id", "gtin"}


def key(name: str) -> str:
    """Google's attribute name for a header cell: "Image Link" and "g:image_link" are
    ``image_link``."""
    name = name.strip().lower().removeprefix("g:")
    return re.sub(r"[\s\-]+", "_", name)


def matches(names: set[str]) -> bool:
    """Is this header a Merchant Center feed?"""
    keys = {key(n) for n in names}
    return {"id", "title"} <= keys and bool(keys & MARKERS)


def read_table(
    table: Table, *, config: CatalogueConfig, issues: LoadIssues
) -> list[tuple[Product, int]]:
    keys = [key(h) for h in table.header]
    for needed in ("id", "title"):
        if needed not in keys:
            raise LoadError(
                table.path,
                f"a Merchant Center feed needs the column {needed!r} (found "
                f"{', '.join(table.header)})",
                line=1,
            )
    shape = RowShape(
        columns=len(keys),
        key=keys.index("id"),
        text=keys.index("title"),
        delimiter=table.delimiter,
        min_cells=len(keys) // 2,
    )
    return _products(table.path, table.records(keys, shape, issues), config, issues)


def read_xml(
    path: Path, text: str, *, config: CatalogueConfig, issues: LoadIssues
) -> list[tuple[Product, int]]:
    return _products(path, _xml_items(path, text), config, issues)


def _products(
    path: Path,
    items: Iterator[tuple[dict[str, str], int]],
    config: CatalogueConfig,
    issues: LoadIssues,
) -> list[tuple[Product, int]]:
    offers: list[tuple[Product, int, str]] = []
    for item, line in items:
        try:
            offers.append((_offer(path, item, line, config), line, item.get("item_group_id", "")))
        except LoadError as exc:
            issues.skip(exc)
    return group_variants(path, offers, issues)


def _offer(path: Path, item: dict[str, str], line: int, config: CatalogueConfig) -> Product:
    offer_id, title = item.get("id", "").strip(), item.get("title", "").strip()
    if not offer_id:
        raise LoadError(path, "empty id: every item of a feed needs its id", line=line or None)
    what = f"item {offer_id!r}:"
    price, currency = cell(path, line, f"{what} price", parse_price, item.get("price"))
    sale, sale_currency = cell(
        path, line, f"{what} sale_price", parse_price, item.get("sale_price")
    )
    was = None
    if sale is not None and (price is None or sale < price):
        price, was = sale, price
    availability = cell(
        path, line, f"{what} availability", parse_availability, item.get("availability")
    )
    own = item.get("product_type", "").split(",")[0]
    google = item.get("google_product_category", "")
    category, category_path = split_category(own or ("" if google.isdigit() else google))
    if not category_path and google and not google.isdigit():
        category_path = split_category(google)[1]
    attributes = {k: item[k].strip() for k in ATTRIBUTES if item.get(k, "").strip()}
    return Product(
        sku=offer_id,
        title=title,
        description=description_text(item.get("description", "")),
        category=category,
        category_path=category_path,
        price=price,
        compare_at_price=was,
        currency=currency or sale_currency or (config.currency or ""),
        availability=availability,
        in_stock=in_stock(None, availability),
        attributes=attributes,
        brand=item.get("brand", "").strip(),
        url=item.get("link", "").strip(),
        image=item.get("image_link", "").strip(),
    )


# ---------------------------------------------------------------- XML
def _check_prolog(path: Path, text: str) -> None:
    """Refuse a DOCTYPE (it is where entities are declared); it can only come before the
    root element, after the XML declaration, processing instructions and comments."""
    rest = text.lstrip("\ufeff \t\r\n")
    while rest.startswith(("<?", "<!--")):
        end = rest.find("?>" if rest.startswith("<?") else "-->")
        if end < 0:
            break
        rest = rest[end + 2 + (rest[1] == "!") :].lstrip()
    if rest[:9].upper() == "<!DOCTYPE":
        line = text[: len(text) - len(rest)].count("\n") + 1
        raise LoadError(
            path,
            "the feed declares a DOCTYPE, which shopbot does not read (it can define "
            "entities that expand or load other files): remove the <!DOCTYPE ...> line",
            line=line,
        )


def _xml_items(path: Path, text: str) -> Iterator[tuple[dict[str, str], int]]:
    """Each ``<item>`` (RSS) or ``<entry>`` (Atom) as {Google attribute: text}, with the line
    its start tag is on."""
    _check_prolog(path, text)
    parser = ET.XMLPullParser(events=("start", "end"))
    depth, started, root = 0, 0, ""
    try:
        for number, line in enumerate(text.splitlines(keepends=True), 1):
            parser.feed(line)
            for event, element in parser.read_events():
                name = _local(element.tag)
                if event == "start":
                    depth += 1
                    if depth == 1:
                        root = name
                        _check_root(path, element.tag, number)
                    if name in ("item", "entry") and not started:
                        started = number
                    continue
                depth -= 1
                if name in ("item", "entry"):
                    yield _fields(element), started
                    started = 0
                    element.clear()
        parser.close()
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise LoadError(path, f"not valid XML: {exc}", line=line) from None
    if not root:
        raise LoadError(path, "empty feed: expected <rss> with <item>s or an Atom <feed>")


def _check_root(path: Path, tag: str, line: int) -> None:
    if tag == "rss" or tag == f"{{{ATOM_NS}}}feed" or tag == "feed":
        return
    raise LoadError(
        path,
        f"the root element is <{_local(tag)}>: a Merchant Center feed is RSS 2.0 (<rss> with "
        "<channel><item>) or Atom (<feed> with <entry>), with fields in the g: namespace "
        f"({G_NS})",
        line=line,
    )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _fields(item: ET.Element) -> dict[str, str]:
    """Plain RSS/Atom fields first (title, link, description), then g: fields over them."""
    plain: dict[str, str] = {}
    google: dict[str, str] = {}
    for child in item:
        tag = child.tag
        ns = tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
        if len(child) or ns not in ("", G_NS, ATOM_NS):
            continue  # nested (g:shipping) or another vocabulary
        name = _local(tag)
        if ns == ATOM_NS and name == "link":
            value = child.get("href", "")
        else:
            value = (child.text or "").strip()
        if ns == ATOM_NS and name in ("summary", "content"):
            name = "description"
        if ns == ATOM_NS and name == "id":
            continue  # the entry's URI, not the offer id
        target = google if ns == G_NS else plain
        if value and name not in target:
            target[name] = value
    return {**plain, **google}
