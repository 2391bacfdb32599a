"""Catalogues as stores export them: Shopify, WooCommerce, Google Merchant Center (TSV and
XML), a column mapping for anything else, and the mistakes real files have.

The exports in ``data/`` are written as the platforms write them (column names, variant rows,
HTML bodies), with planted mistakes: a BOM and Windows line endings (Shopify), a variant row
before its product row, a variant without a price, a non-numeric stock, a duplicated handle,
a variation whose parent is missing, a broken price."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.config import CatalogueConfig, KnowledgeConfig, SourceConfig, load_yaml_model
from knowledge.documents import Product
from knowledge.errors import ConfigError, LoadError
from knowledge.kb import KnowledgeBase
from knowledge.loaders import LoadIssues, load_catalog, load_sources
from knowledge.loaders.catalog import detect_format
from knowledge.loaders.csvfile import open_table
from knowledge.loaders.htmltext import description_text, html_to_text
from knowledge.loaders.values import parse_price

DATA = Path(__file__).parent / "data"
USD = CatalogueConfig(currency="USD")


def load(name: str | Path, config: CatalogueConfig = USD) -> tuple[dict, LoadIssues]:
    issues = LoadIssues()
    docs = load_catalog(
        DATA / name if isinstance(name, str) else name, config=config, issues=issues
    )
    return {d.id: d for d in docs}, issues


def product(doc) -> Product:
    return Product.from_metadata(doc.metadata)


def lines(errors: list[LoadError]) -> dict[int | None, str]:
    return {e.line: e.reason for e in errors}


# ---------------------------------------------------------------- detection
@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("shopify_products.csv", "shopify"),
        ("woocommerce_products.csv", "woocommerce"),
        ("merchant_feed.tsv", "google"),
    ],
)
def test_exports_are_told_apart_by_their_header(name, fmt):
    path = DATA / name
    table = open_table(path, path.read_text(encoding="utf-8-sig"))
    assert detect_format(table.header) == fmt


def test_the_demo_header_is_shopbots_own_and_an_unknown_header_says_what_to_do(tmp_path):
    assert detect_format("sku,title,description,price".split(",")) == "shopbot"
    assert detect_format(["Item No", "Name"], mapping=True) == "mapped"
    path = tmp_path / "export.csv"
    path.write_text("Item No,Name,Cost\n1,Mug,3\n", encoding="utf-8")
    with pytest.raises(LoadError) as info:
        load_catalog(path)
    message = str(info.value)
    assert info.value.line == 1 and "The header has: Item No, Name, Cost" in message
    assert "Shopify" in message and "knowledge.catalogue.columns" in message


# ---------------------------------------------------------------- Shopify
def test_shopify_variants_become_one_product():
    docs, _ = load("shopify_products.csv")
    assert set(docs) == {
        "product:merino-crew-tee",
        "product:storm-shell-jacket",
        "product:trail-socks",
        "product:dry-bag",
    }
    tee = product(docs["product:merino-crew-tee"])
    assert tee.title == "Merino Crew Tee" and tee.brand == "Kestrel Ridge"
    assert (tee.price, tee.price_max, tee.currency) == (39.0, 45.0, "USD")
    assert tee.compare_at_price == 45.0  # the cheapest variant is on sale
    assert tee.stock == 5 + 0 + 3 and tee.in_stock  # the 'lots' row is not counted
    assert [v.sku for v in tee.variants] == ["KR-MCT-CH-S", "KR-MCT-CH-M", "KR-MCT-EM-S"]
    assert [v.in_stock for v in tee.variants] == [True, False, True]
    assert tee.variants[0].options == {"color": "Charcoal", "size": "S"}
    assert tee.variants[0].gtin == "0812345000011"
    assert tee.attributes == {
        "gender": "Unisex",
        "age_group": "Adult",
        "color": "Charcoal/Ember",
        "size": "S/M",
    }
    assert tee.image.endswith("/tee-charcoal.jpg")  # the first image row
    assert tee.category == "T-Shirts"
    assert tee.category_path == "Apparel & Accessories > Clothing > Shirts & Tops"
    assert tee.tags == ["merino", "base layer", "travel"]
    assert docs["product:merino-crew-tee"].metadata["line"] == 3


def test_shopify_body_html_reads_as_text():
    docs, _ = load("shopify_products.csv")
    tee = docs["product:merino-crew-tee"]
    assert tee.metadata["description"] == (
        "Soft 150 g/m² merino & Tencel™ jersey that stays fresh for days.\n\n"
        "- Odour resistant\n- Flatlock seams – no chafing"
    )
    assert "dataLayer" not in tee.text and "color:red" not in tee.text
    assert "Price: 39.00–45.00 USD (was 45.00)" in tee.text
    assert "Charcoal / M (45.00 USD, out of stock)" in tee.text


def test_shopify_variant_rows_before_their_product_row_and_without_a_price():
    docs, issues = load("shopify_products.csv")
    shell = product(docs["product:storm-shell-jacket"])
    assert [v.options["size"] for v in shell.variants] == ["L", "M", "XL"]
    assert shell.stock == 7 and shell.price == 329.0 and shell.price_max is None
    assert shell.variants[2].price is None
    assert docs["product:storm-shell-jacket"].metadata["line"] == 13  # the product's row
    assert "KR-SSJ-XL of 'storm-shell-jacket' have no price" in lines(issues.notes)[13]


def test_shopify_stock_untracked_oversold_and_sold_on():
    docs, _ = load("shopify_products.csv")
    socks = product(docs["product:trail-socks"])
    assert socks.stock is None and socks.in_stock  # inventory not tracked
    assert socks.variants[0].options == {}  # "Default Title" is no option
    bag = product(docs["product:dry-bag"])
    assert bag.stock == 0 and not bag.in_stock  # -2 (oversold) counts as 0
    assert bag.availability == "backorder"  # the 20 L keeps selling
    assert "On backorder" in docs["product:dry-bag"].text


def test_shopify_bad_rows_are_skipped_with_their_line_and_drafts_noted():
    _, issues = load("shopify_products.csv")
    skipped = lines(issues.skipped)
    assert set(skipped) == {11, 21}
    assert "KR-MCT-EM-M" in skipped[11] and "must be a whole number, got 'lots'" in skipped[11]
    assert (
        "handle 'merino-crew-tee' is already the product 'Merino Crew Tee' (line 3)"
        in (skipped[21])
    )
    assert all(str(e).startswith(str(DATA / "shopify_products.csv")) for e in issues.skipped)
    notes = lines(issues.notes)
    assert "'summit-beanie' is a draft" in notes[16]
    assert "'old-gaiter' is archived" in notes[17]
    assert "'headlamp-300' is not published" in notes[18]


def test_url_template_fills_product_pages():
    config = CatalogueConfig(currency="USD", url_template="https://shop.example/products/{handle}")
    docs, _ = load("shopify_products.csv", config)
    assert docs["product:dry-bag"].metadata["url"] == "https://shop.example/products/dry-bag"


def test_shopify_without_a_product_row_for_a_handle(tmp_path):
    path = tmp_path / "products_export.csv"
    path.write_text(
        "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Price\n"
        "tee,Tee,Size,M,T-M,20\n"
        "cap,,,One size,C-1,12\n",
        encoding="utf-8",
    )
    docs, issues = load(path)
    assert set(docs) == {"product:tee"}
    (error,) = issues.skipped
    assert error.line == 3 and "handle 'cap' has no row with its Title" in error.reason


def test_shopify_renamed_columns_and_a_repeated_variant_row(tmp_path):
    """The newer template's names (URL handle, Price, Inventory quantity...) read the same;
    a variant row exported twice is skipped, naming the first."""
    path = tmp_path / "products_export_1.csv"
    path.write_text(
        "Title,URL handle,Description,Vendor,Type,Status,SKU,Option1 name,Option1 value,"
        "Price,Compare-at price,Inventory tracker,Inventory quantity,Product image URL\n"
        "Camp Mug,camp-mug,<p>Enamel</p>,Acme,Mugs,Active,MUG-S,Size,Small,12.00,,shopify,4,"
        "https://cdn.example/mug.jpg\n"
        ",camp-mug,,,,,MUG-L,,Large,14.00,16.00,shopify,0,\n"
        ",camp-mug,,,,,MUG-L,,Large,14.00,16.00,shopify,0,\n",
        encoding="utf-8",
    )
    docs, issues = load(path)
    mug = product(docs["product:camp-mug"])
    assert (mug.price, mug.price_max, mug.stock, mug.description) == (12.0, 14.0, 4, "Enamel")
    assert [v.options for v in mug.variants] == [{"size": "Small"}, {"size": "Large"}]
    assert mug.image == "https://cdn.example/mug.jpg"
    (error,) = issues.skipped
    assert error.line == 4 and "variant 'MUG-L' of 'camp-mug' is already on line 3" in error.reason


SHOPIFY_HEAD = (
    "Handle,Title,Body (HTML),Vendor,Option1 Name,Option1 Value,Variant SKU,Variant Price\n"
)


def test_shopify_body_lines_with_commas_are_not_taken_for_rows(tmp_path):
    path = tmp_path / "products_export.csv"
    path.write_text(
        SHOPIFY_HEAD + 'beanie,Beanie,"<p>Warm.</p>\nMaterials:,100% merino wool\n<p>Hand-wash, dry flat</p>",'
        "Acme,Title,Default Title,B-1,25\n",
        encoding="utf-8",
    )  # fmt: skip
    docs, issues = load(path)
    assert docs["product:beanie"].metadata["description"] == (
        "Warm.\n\nMaterials:,100% merino wool\n\nHand-wash, dry flat"
    )
    assert not issues.skipped


def test_shopify_body_quote_left_open_stops_at_its_line(tmp_path):
    path = tmp_path / "products_export.csv"
    path.write_text(
        SHOPIFY_HEAD + 'beanie,Beanie,"<p>Warm.</p>,Acme,Title,Default Title,B-1,25\n'
        "gloves,Fleece Gloves,<p>Soft</p>,Acme,Title,Default Title,G-1,19\n"
        'scarf,Wool Scarf,"<p>Long, warm</p>",Acme,Title,Default Title,S-1,35\n',
        encoding="utf-8",
    )  # fmt: skip
    with pytest.raises(LoadError) as info:
        load_catalog(path)
    assert info.value.line == 2 and "not closed before line 3" in str(info.value)


# ---------------------------------------------------------------- WooCommerce
def test_woocommerce_simple_and_variable_products():
    docs, _ = load("woocommerce_products.csv")
    assert set(docs) == {"product:WOO-MUG", "product:WOO-HOOD", "product:id-220", "product:WOO-GPS"}
    mug = product(docs["product:WOO-MUG"])
    assert (mug.price, mug.compare_at_price, mug.stock, mug.in_stock) == (12.5, 16.0, 40, True)
    assert (
        mug.description == "Tough enamel mug.\n\nHolds 350 ml.\n\n- Dishwasher safe\n- Won’t rust"
    )
    assert (mug.category, mug.category_path) == ("Drinkware", "Kitchen > Drinkware")
    assert mug.image.endswith("/mug.jpg") and mug.tags == ["camp", "mug"]
    hoodie = product(docs["product:WOO-HOOD"])
    # one variation before its parent (Parent id:210), one naming it by SKU
    assert [v.sku for v in hoodie.variants] == ["WOO-HOOD-BLU-M", "WOO-HOOD-GRN-L"]
    assert (hoodie.price, hoodie.price_max) == (55.0, 65.0)
    assert hoodie.stock == 7 and hoodie.in_stock
    assert hoodie.variants[1].options == {"color": "Green", "size": "L"}
    assert not hoodie.variants[1].in_stock
    assert hoodie.attributes == {"color": "Blue/Green", "size": "M/L"}


def test_woocommerce_without_sku_backorder_and_external():
    docs, _ = load("woocommerce_products.csv")
    maps = product(docs["product:id-220"])
    assert maps.availability == "backorder" and not maps.in_stock
    gps = product(docs["product:WOO-GPS"])
    assert gps.url == "https://partner.example/gps" and gps.price == 299.0


def test_woocommerce_problems_name_their_rows():
    _, issues = load("woocommerce_products.csv")
    skipped = lines(issues.skipped)
    assert set(skipped) == {6, 8}
    assert "Stock must be a whole number, got 'a few'" in skipped[6]
    assert "refers to the parent 'WOO-CAP', which is not in the file" in skipped[8]
    notes = lines(issues.notes)
    assert "'WOO-HOOD-GRN-M' of 'WOO-HOOD' is disabled" in notes[7]
    assert "'WOO-STOVE' is a draft" in notes[10]
    assert "grouped product" in notes[11]


# ---------------------------------------------------------------- Google Merchant Center
def test_merchant_feed_tsv_groups_items_into_a_product():
    docs, issues = load("merchant_feed.tsv")
    assert set(docs) == {"product:TEE", "product:LAMP-1", "product:NOPRICE-1"}
    tee = product(docs["product:TEE"])
    assert tee.title == "Merino Crew Tee"  # what the variants' titles share
    assert (tee.price, tee.price_max, tee.currency) == (39.0, 45.0, "USD")
    assert [v.options for v in tee.variants] == [
        {"color": "Charcoal", "size": "S"},
        {"color": "Ember", "size": "M"},
    ]
    assert [v.in_stock for v in tee.variants] == [True, False] and tee.in_stock
    assert tee.url == "https://shop.example/p/tee?variant=1"
    assert tee.image == "https://shop.example/i/tee-ch.jpg"
    assert tee.attributes["gender"] == "unisex" and "gtin" not in tee.attributes
    assert tee.description == "Soft merino & Tencel™ jersey."
    lamp = product(docs["product:LAMP-1"])
    assert (lamp.price, lamp.currency) == (34.9, "EUR")  # "34,90 EUR"
    assert lamp.availability == "preorder" and not lamp.in_stock
    assert lamp.description == "Warm light, 300 lm.\n\nUSB-C charging."
    assert lamp.category == ""  # a numeric Google category id is no name
    (error,) = issues.skipped
    assert error.line == 5 and "item 'BAD-1': price must be a number" in error.reason
    assert "'NOPRICE-1' has no price" in lines(issues.notes)[6]


def test_merchant_feed_xml_reads_as_the_tsv():
    tsv, _ = load("merchant_feed.tsv")
    xml, issues = load("merchant_feed.xml")
    assert set(xml) == set(tsv)
    for doc_id, doc in xml.items():
        other = tsv[doc_id]
        assert doc.text == other.text
        assert {k: v for k, v in doc.metadata.items() if k not in ("source", "line")} == {
            k: v for k, v in other.metadata.items() if k not in ("source", "line")
        }
    (error,) = issues.skipped
    assert error.line == 61 and "BAD-1" in error.reason  # the line of its <item>
    assert xml["product:LAMP-1"].metadata["line"] == 48


ATOM = """<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://base.google.com/ns/1.0">
  <title>Store</title>
  <entry>
    <id>tag:shop.example,2024:1</id>
    <title>Camp Chair</title>
    <link href="https://shop.example/p/chair"/>
    <summary>Folds flat &amp; weighs 900 g.</summary>
    <g:id>CHAIR-1</g:id>
    <g:price>59.00 USD</g:price>
    <g:availability>in_stock</g:availability>
  </entry>
</feed>
"""


def test_merchant_feed_atom(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text(ATOM, encoding="utf-8")
    docs, _ = load(path)
    chair = product(docs["product:CHAIR-1"])
    assert chair.title == "Camp Chair" and chair.url == "https://shop.example/p/chair"
    assert chair.description == "Folds flat & weighs 900 g." and chair.price == 59.0
    assert docs["product:CHAIR-1"].metadata["line"] == 4


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (
            '<?xml version="1.0"?>\n<!-- feed -->\n<!DOCTYPE rss [<!ENTITY x "xxxxxxxx">]>\n'
            "<rss><channel><item><title>&x;</title></item></channel></rss>",
            3,
            "declares a DOCTYPE",
        ),
        (
            '<!DOCTYPE rss SYSTEM "file:///etc/passwd">\n<rss/>',
            1,
            "declares a DOCTYPE",
        ),
        ('<?xml version="1.0"?>\n<products><product/></products>', 2, "root element is <products>"),
        ("<rss><channel>\n<item><g:id>1</item></channel></rss>", 2, "not valid XML"),
    ],
)
def test_unsafe_or_foreign_xml_is_refused(tmp_path, text, line, fragment):
    path = tmp_path / "feed.xml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LoadError) as info:
        load_catalog(path)
    assert info.value.line == line and fragment in str(info.value)


# ---------------------------------------------------------------- shopbot's own CSV, as Excel saves it
def test_own_csv_with_bom_semicolons_crlf_and_decimal_commas(tmp_path):
    text = (
        "sku;title;description;price;currency;category;attributes;stock;url\r\n"
        'BTL-1;Steel Bottle;"Keeps drinks cold; 24 h";24,90;EUR;bottles;'
        '"color=Sage; volume=750 ml";15;https://shop.example/p/btl-1\r\n'
        'BTL-2;Kids Bottle;"<p>Leak-proof &amp; light</p>";1.299,00 €;;bottles;;;\r\n'
        "BTL-3;Broken Bottle;;free;EUR;bottles;;2;\r\n"
    )
    path = tmp_path / "catalog.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    docs, issues = load(path, CatalogueConfig())
    first = product(docs["product:BTL-1"])
    assert (first.price, first.currency, first.stock) == (24.9, "EUR", 15)
    assert first.attributes == {"color": "Sage", "volume": "750 ml"}
    assert first.description == "Keeps drinks cold; 24 h"
    second = product(docs["product:BTL-2"])
    assert (second.price, second.currency) == (1299.0, "EUR")
    assert second.description == "Leak-proof & light"
    (error,) = issues.skipped
    assert error.line == 4 and "price of 'BTL-3' must be a number" in error.reason


def test_the_demo_catalogue_reads_as_before(store_dir):
    """Native-format products keep exactly the metadata they had: no new keys, so an
    existing index does not re-embed them after an upgrade."""
    (doc, *_) = load_catalog(store_dir / "catalog.csv")
    assert set(doc.metadata) == {
        "kind",
        "sku",
        "title",
        "description",
        "category",
        "price",
        "currency",
        "attributes",
        "stock",
        "in_stock",
        "source",
        "line",
        "url",
    }
    assert doc.text == (
        "Summit Rain Jacket\nWaterproof breathable shell for hiking.\nCategory: jackets\n"
        "Price: 189.00 USD\ncolor: Slate Blue; sizes: S/M/L\nIn stock"
    )


# ---------------------------------------------------------------- column mapping
SUPPLIER = (
    "Item No;Name;Cost;On hand;Colour;Size;Maker;Link\n"
    "A-100;Canvas Tote;19,50 €;12;Natural;;Acme;https://shop.example/tote\n"
    "A-101;Wool Scarf;$35;0;Grey;One size;Acme;\n"
    "A-102;Leather Belt;thirty;3;Brown;M;Acme;\n"
)
MAPPING = {
    "columns": {"sku": "Item No", "title": "Name", "price": "Cost", "stock": "On hand",
                "brand": "Maker", "url": "Link"},
    "attributes": {"colour": "Colour", "size": "Size"},
}  # fmt: skip


def test_column_mapping_reads_any_csv(tmp_path):
    path = tmp_path / "supplier.csv"
    path.write_text(SUPPLIER, encoding="utf-8")
    docs, issues = load(path, CatalogueConfig(**MAPPING))
    tote = product(docs["product:A-100"])
    assert (tote.price, tote.currency, tote.stock, tote.brand) == (19.5, "EUR", 12, "Acme")
    assert tote.attributes == {"color": "Natural"} and tote.url == "https://shop.example/tote"
    scarf = product(docs["product:A-101"])
    assert (scarf.price, scarf.currency, scarf.in_stock) == (35.0, "USD", False)
    assert scarf.attributes == {"color": "Grey", "size": "One size"}
    (error,) = issues.skipped
    assert error.line == 4 and "product 'A-102': Cost must be a number" in error.reason


def test_column_mapping_reads_nested_json(tmp_path):
    data = {
        "data": {
            "items": [
                {"code": "J-1", "name": "Rain Poncho", "pricing": {"amount": 25, "currency": "gbp"},
                 "details": "<p>Packs into its pocket.</p>", "tags": ["rain", "travel"],
                 "variant_of": "PONCHO", "colour": "Yellow"},
                {"code": "J-2", "name": "Rain Poncho", "pricing": {"amount": 27, "currency": "gbp"},
                 "details": "<p>Packs into its pocket.</p>", "tags": ["rain", "travel"],
                 "variant_of": "PONCHO", "colour": "Navy"},
                {"code": "J-3", "name": "Dry Sack", "pricing": {"amount": "9.99"}},
            ]
        }
    }  # fmt: skip
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    config = CatalogueConfig(
        columns={
            "sku": "code",
            "title": "name",
            "price": "pricing.amount",
            "currency": "pricing.currency",
            "description": "details",
            "group": "variant_of",
        },
        attributes={"color": "colour"},
        records_key="data.items",
    )
    docs, _ = load(path, config)
    assert set(docs) == {"product:PONCHO", "product:J-3"}
    poncho = product(docs["product:PONCHO"])
    assert (poncho.price, poncho.price_max, poncho.currency) == (25.0, 27.0, "GBP")
    assert [v.options for v in poncho.variants] == [{"color": "Yellow"}, {"color": "Navy"}]
    assert poncho.description == "Packs into its pocket." and poncho.tags == ["rain", "travel"]
    assert docs["product:PONCHO"].metadata["line"] == 4  # the first item's line in the file
    assert product(docs["product:J-3"]).price == 9.99


def test_a_mapped_column_the_file_lacks_lists_the_columns_it_has(tmp_path):
    path = tmp_path / "supplier.csv"
    path.write_text(SUPPLIER, encoding="utf-8")
    config = CatalogueConfig(columns={"sku": "Item No", "title": "Name", "price": "Price"})
    with pytest.raises(LoadError) as info:
        load_catalog(path, config=config)
    assert info.value.line == 1
    assert "column 'Price' (knowledge.catalogue.columns: price) is not in the header" in str(
        info.value
    )
    assert "the file has: Item No, Name, Cost, On hand, Colour, Size, Maker, Link" in str(
        info.value
    )


def test_records_key_that_is_not_there(tmp_path):
    path = tmp_path / "feed.json"
    path.write_text(json.dumps({"data": {"products": []}}), encoding="utf-8")
    with pytest.raises(LoadError, match=r"no 'items' under data .*it has: products"):
        load_catalog(path, config=CatalogueConfig(columns={"sku": "id"}, records_key="data.items"))


@pytest.mark.parametrize(
    ("yaml_text", "fragment"),
    [
        (
            "knowledge:\n  catalogue:\n    columns: {sku: Item No, prize: Cost}\n",
            "line 3: knowledge.catalogue.columns: Value error, unknown product field 'prize' "
            "(did you mean 'price'?)",
        ),
        ("knowledge:\n  catalogue:\n    format: mapped\n", "map at least sku and title"),
        ("knowledge:\n  catalogue:\n    currency: dollars\n", "three-letter ISO 4217 code"),
        (
            "knowledge:\n  catalogue:\n    url_template: https://x/{slug}\n",
            "must name the product with {sku} or {handle}",
        ),
        (
            "knowledge:\n  sources:\n    - type: faq\n      path: faq.csv\n"
            "      catalogue: {currency: EUR}\n",
            "catalogue applies to sources of type catalog",
        ),
    ],
)
def test_catalogue_config_errors_say_what_to_fix(tmp_path, yaml_text, fragment):
    from pydantic import BaseModel

    class Root(BaseModel):
        knowledge: KnowledgeConfig

    path = tmp_path / "config.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_yaml_model(path, Root, environ={})
    assert fragment in str(info.value)


def test_a_source_may_have_its_own_catalogue_settings(tmp_path):
    (tmp_path / "supplier.csv").write_text(SUPPLIER, encoding="utf-8")
    sources = [
        SourceConfig(type="catalog", path="supplier.csv", catalogue=CatalogueConfig(**MAPPING)),
        SourceConfig(type="catalog", path=str(DATA / "merchant_feed.tsv")),
    ]
    issues = LoadIssues()
    docs = load_sources(sources, base_dir=tmp_path, catalogue=USD, issues=issues)
    assert {"product:A-100", "product:TEE"} <= {d.id for d in docs}
    assert len(issues.skipped) == 2  # one from each file


# ---------------------------------------------------------------- values
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15.00 USD", (15.0, "USD")),
        ("$15", (15.0, "USD")),
        ("15,00 €", (15.0, "EUR")),
        ("€1.299,50", (1299.5, "EUR")),
        ("1,299.00", (1299.0, "")),
        ("1,299", (1299.0, "")),
        ("0,5", (0.5, "")),
        ("GBP 12", (12.0, "GBP")),
        ("¥1280", (1280.0, "JPY")),
        ("1 299,00 zł", (1299.0, "PLN")),
        ("", (None, "")),
        (19.99, (19.99, "")),
    ],
)
def test_prices_keep_their_currency(text, expected):
    assert parse_price(text) == expected


def test_ambiguous_symbols_follow_the_configured_currency():
    assert parse_price("$15", default_currency="CAD") == (15.0, "CAD")
    assert parse_price("¥99", default_currency="CNY") == (99.0, "CNY")
    assert parse_price("15", default_currency="EUR") == (15.0, "EUR")


@pytest.mark.parametrize("text", ["twelve", "12 USD EUR", "-5", "12..5", "$"])
def test_bad_prices_are_refused(text):
    with pytest.raises(ValueError, match="must"):
        parse_price(text)


def test_html_to_text():
    html = (
        "<div><h2>Features</h2><ul><li>Light&nbsp;&amp; packable</li><li>Pit&#8209;zips</li>"
        "</ul><p>Care:<br>wash cold</p><table><tr><th>Size</th><th>Chest</th></tr>"
        "<tr><td>M</td><td>102 cm</td></tr></table><!-- hidden --><script>x()</script>"
        "<style>p{}</style><p>Caf&eacute;</p></div>"
    )
    assert html_to_text(html) == (
        "Features\n\n- Light & packable\n- Pit‑zips\n\nCare:\nwash cold\n\n"
        "Size | Chest\nM | 102 cm\n\nCafé"
    )
    assert description_text("Fast & light, 2 < 3") == "Fast & light, 2 < 3"  # not HTML


# ---------------------------------------------------------------- incremental indexing
def shopify_kb(tmp_path: Path, fake_embedder) -> tuple[KnowledgeBase, Path]:
    catalogue = tmp_path / "products_export.csv"
    catalogue.write_bytes((DATA / "shopify_products.csv").read_bytes())
    knowledge = KnowledgeConfig(
        sources=[SourceConfig(type="catalog", path=catalogue.name)],
        index_dir="index",
        catalogue=USD,
    )
    from knowledge.config import EmbedderConfig, RetrievalConfig

    kb = KnowledgeBase(
        knowledge,
        EmbedderConfig(backend="fake"),
        RetrievalConfig(),
        base_dir=tmp_path,
        embedder_instance=fake_embedder,
    )
    return kb, catalogue


def edit(path: Path, old: str, new: str) -> None:
    data = path.read_bytes()
    assert data.count(old.encode()) == 1, old
    path.write_bytes(data.replace(old.encode(), new.encode()))


def test_a_price_change_re_embeds_that_product_only(tmp_path, fake_embedder):
    kb, catalogue = shopify_kb(tmp_path, fake_embedder)
    first = kb.update()
    assert first.added == 4 and len(kb.load_issues.skipped) == 2
    # the Ember / S tee goes from 39.00 to 41.00
    edit(catalogue, "39.00,45.00", "41.00,45.00")
    calls = fake_embedder.calls
    report = kb.update()
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 1, 0, 3)
    assert report.changed_ids == ["product:merino-crew-tee"]
    assert fake_embedder.calls - calls == 1  # one product, one text
    (hit,) = [c for c in kb.index.chunks if c.doc_id == "product:merino-crew-tee"]
    assert hit.metadata["price"] == 41.0 and "41.00–45.00 USD" in hit.text


def test_a_stock_change_re_indexes_that_product_only(tmp_path, fake_embedder):
    kb, catalogue = shopify_kb(tmp_path, fake_embedder)
    kb.update()
    edit(catalogue, "KR-SSJ-M,430,shopify,4,", "KR-SSJ-M,430,shopify,0,")
    calls = fake_embedder.calls
    report = kb.update()
    assert report.changed_ids == ["product:storm-shell-jacket"] and report.unchanged == 3
    assert fake_embedder.calls - calls == 1
    (shell,) = [c for c in kb.index.chunks if c.doc_id == "product:storm-shell-jacket"]
    assert shell.metadata["stock"] == 3


def test_rows_moving_in_the_file_re_embed_nothing(tmp_path, fake_embedder):
    """A product added at the top shifts every line below it: only it is embedded."""
    kb, catalogue = shopify_kb(tmp_path, fake_embedder)
    kb.update()
    data = catalogue.read_bytes()
    header, rest = data.split(b"\r\n", 1)
    catalogue.write_bytes(header + b"\r\nwater-bottle,Water Bottle,,,,,,TRUE,,,,,,,KR-WB," + (
        b",,,,,18.00" + b"," * 21 + b"active\r\n"
    ) + rest)  # fmt: skip
    calls = fake_embedder.calls
    report = kb.update()
    assert (report.added, report.updated, report.unchanged) == (1, 0, 4), kb.load_issues.skipped
    assert report.changed_ids == ["product:water-bottle"]
    assert fake_embedder.calls - calls == 1
