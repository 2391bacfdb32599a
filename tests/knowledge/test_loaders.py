import json
from pathlib import Path

import pytest

from knowledge.errors import LoadError
from knowledge.loaders import load_catalog, load_faq, load_pages
from knowledge.loaders.common import LoadIssues


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- FAQ, good files
def test_faq_csv_groups_variants_under_one_entry(store_dir):
    docs = {d.id: d for d in load_faq(store_dir / "faq.csv")}
    assert set(docs) == {"faq:ship-time", "faq:returns", "faq:pay", "faq:zh-return", "faq:zh-ship"}
    ship = docs["faq:ship-time"]
    assert ship.text == "Standard delivery takes 3-5 business days."
    assert ship.metadata["questions"] == [
        "How long does delivery take?",
        "When will my order arrive?",
        "How many days is shipping?",
    ]
    assert ship.metadata["category"] == "shipping"
    assert ship.metadata["line"] == 2
    assert docs["faq:zh-return"].metadata["lang"] == "zh"
    assert ship.metadata["lang"] == "en"


def test_faq_answer_may_repeat_identically(tmp_path):
    path = write(tmp_path / "f.csv", "id,question,answer\na,Q1?,Same.\na,Q2?,Same.\n")
    (doc,) = load_faq(path)
    assert doc.metadata["questions"] == ["Q1?", "Q2?"]


def test_faq_ids_and_hashes_are_stable(store_dir):
    first = {d.id: d.hash for d in load_faq(store_dir / "faq.csv")}
    second = {d.id: d.hash for d in load_faq(store_dir / "faq.csv")}
    assert first == second


def test_faq_json_yaml_and_markdown_agree(tmp_path):
    records = [
        {
            "id": "ship",
            "questions": ["How long is delivery?", "Delivery time?"],
            "answer": "3-5 days.",
        }
    ]
    json_docs = load_faq(write(tmp_path / "f.json", json.dumps(records)))
    yaml_docs = load_faq(
        write(
            tmp_path / "f.yaml",
            "faqs:\n  - id: ship\n    questions:\n      - How long is delivery?\n"
            "      - Delivery time?\n    answer: 3-5 days.\n",
        )
    )
    md_docs = load_faq(
        write(
            tmp_path / "f.md",
            "# Our FAQ\n\nIntro text.\n\n## How long is delivery?\n<!-- id: ship -->\n"
            "Q: Delivery time?\n\nA: 3-5 days.\n",
        )
    )
    for docs in (json_docs, yaml_docs, md_docs):
        assert [(d.id, d.text, d.metadata["questions"]) for d in docs] == [
            ("faq:ship", "3-5 days.", ["How long is delivery?", "Delivery time?"])
        ]


def test_markdown_faq_derives_ids_and_keeps_multiline_answers(tmp_path):
    text = "## 可以退货吗？\n问：怎么退货\n答：30天内可以退货。\n请保留吊牌。\n\n## Do you ship abroad?\nYes.\n"
    docs = load_faq(write(tmp_path / "faq.md", text))
    assert docs[0].text == "30天内可以退货。\n请保留吊牌。"
    assert docs[0].metadata["questions"] == ["可以退货吗？", "怎么退货"]
    assert docs[0].id.startswith("faq:q-")
    assert docs[1].id == "faq:do-you-ship-abroad"


def test_faq_folder_loads_every_file(tmp_path):
    write(tmp_path / "a.csv", "id,question,answer\na,Q?,A.\n")
    write(tmp_path / "b.yaml", "- id: b\n  question: Q2?\n  answer: B.\n")
    assert sorted(d.id for d in load_faq(tmp_path)) == ["faq:a", "faq:b"]


# ---------------------------------------------------------------- FAQ, malformed files
@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("id,question\na,Q?\n", 1, "missing column(s) answer"),
        ("id,question,answer\na,Q?,\n", 2, "empty answer"),
        (
            "id,question,answer\na,Q1?,One.\nb,Q?,B.\na,Q2?,Two.\n",
            4,
            "different answer here than on line 2",
        ),
        ("id,question,answer\n,Q?,A.\n", 2, "empty id"),
        ("id,question,answer\na,,A.\n", 2, "empty question"),
        ("id,question,answer\na,Q?,A.,extra\n", 2, "expected 3 fields, found 4"),
        ("", 1, "empty file"),
    ],
)
def test_malformed_faq_csv_names_file_line_and_fix(tmp_path, text, line, fragment):
    path = write(tmp_path / "faq.csv", text)
    with pytest.raises(LoadError) as info:
        load_faq(path)
    assert info.value.line == line
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_bad_encoding_reports_the_line(tmp_path):
    path = write(
        tmp_path / "faq.csv", "id,question,answer\na,Q?,A.\nb,caf\xe9?,B.\n".encode("latin-1")
    )
    with pytest.raises(LoadError) as info:
        load_faq(path)
    assert info.value.line == 3
    assert "UTF-8" in str(info.value)


def test_utf8_bom_is_accepted(tmp_path):
    path = write(tmp_path / "faq.csv", "\ufeffid,question,answer\na,Q?,A.\n")
    assert load_faq(path)[0].id == "faq:a"


def test_malformed_json_and_yaml(tmp_path):
    with pytest.raises(LoadError, match="not valid JSON") as info:
        load_faq(write(tmp_path / "f.json", '[{"id": "a",\n "answer": }]'))
    assert info.value.line == 2
    with pytest.raises(LoadError, match="empty answer") as info:
        load_faq(
            write(
                tmp_path / "g.yaml",
                "- id: a\n  question: Q?\n  answer: ok\n- id: b\n  question: Q?\n  answer: ''\n",
            )
        )
    assert info.value.line == 4
    with pytest.raises(LoadError, match="duplicate FAQ id 'a'"):
        load_faq(
            write(
                tmp_path / "h.yaml",
                "- {id: a, question: 'Q?', answer: x}\n- {id: a, question: 'R?', answer: y}\n",
            )
        )


def test_duplicate_ids_across_files_are_an_error(tmp_path):
    write(tmp_path / "a.csv", "id,question,answer\nx,Q?,A.\n")
    write(tmp_path / "b.csv", "id,question,answer\nx,Other?,B.\n")
    with pytest.raises(LoadError, match="also defined in"):
        load_faq(tmp_path)


def test_missing_path_is_reported(tmp_path):
    with pytest.raises(LoadError, match="does not exist"):
        load_faq(tmp_path / "nope")


# ---------------------------------------------------------------- catalogue
def test_catalog_csv(store_dir):
    docs = {d.id: d for d in load_catalog(store_dir / "catalog.csv")}
    jacket = docs["product:KR-JKT-001"]
    assert jacket.metadata["price"] == 189.0
    assert jacket.metadata["attributes"] == {"color": "Slate Blue", "sizes": "S/M/L"}
    assert jacket.metadata["in_stock"] is True
    assert docs["product:KR-JKT-002"].metadata["in_stock"] is False
    assert "Summit Rain Jacket" in jacket.text and "189.00 USD" in jacket.text


def test_catalog_json(tmp_path):
    data = {
        "products": [
            {"sku": "A", "title": "Mug", "price": 12.5, "attributes": {"color": "red"}, "stock": 2}
        ]
    }
    (doc,) = load_catalog(write(tmp_path / "c.json", json.dumps(data)))
    assert doc.metadata["attributes"] == {"color": "red"} and doc.metadata["price"] == 12.5


def test_catalog_without_its_key_columns_stops(tmp_path):
    with pytest.raises(LoadError) as info:
        load_catalog(write(tmp_path / "c.csv", "title,price\nMug,3\n"))
    assert info.value.line == 1 and "missing column(s) sku" in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("sku,title,price\nA,Mug,cheap\nB,Cup,3\n", 2, "price of 'A' must be a number"),
        ("sku,title,stock\nA,Mug,-1\nB,Cup,3\n", 2, "must not be negative"),
        ("sku,title\nB,Cup\nA,Mug\nA,Cup\n", 4, "duplicate SKU 'A' (first on line 3)"),
        ("sku,title,attributes\nA,Mug,red\nB,Cup,\n", 2, "key=value"),
        ("sku,title\nA,\nB,Cup\n", 2, "empty title"),
    ],
)
def test_a_bad_catalog_row_is_skipped_with_its_line(tmp_path, text, line, fragment):
    issues = LoadIssues()
    docs = load_catalog(write(tmp_path / "c.csv", text), issues=issues)
    assert "product:B" in {d.id for d in docs}  # the rest still loads
    (skipped,) = issues.skipped
    assert skipped.line == line and fragment in str(skipped)


def test_a_catalog_none_of_whose_rows_load_stops(tmp_path):
    with pytest.raises(LoadError) as info:
        load_catalog(write(tmp_path / "c.csv", "sku,title,price\nA,Mug,cheap\nB,Cup,dear\n"))
    assert info.value.line == 2
    assert "no product could be read" in str(info.value) and "1 more row" in str(info.value)


# ---------------------------------------------------------------- pages
def test_pages_markdown_html_and_text(tmp_path):
    write(
        tmp_path / "ship.md",
        "---\nurl: https://shop.example/shipping\n---\n# Shipping\n\nWe ship fast.\n",
    )
    write(
        tmp_path / "about.html",
        "<html><head><title>About us</title><style>p{}</style></head><body><nav>menu</nav>"
        "<h1>About</h1><p>We sell &amp; ship tents.</p><script>var x=1;</script></body></html>",
    )
    write(tmp_path / "notes.txt", "Plain text page.")
    docs = {d.id: d for d in load_pages(tmp_path, kind="policy")}
    assert set(docs) == {"page:ship.md", "page:about.html", "page:notes.txt"}
    assert docs["page:ship.md"].metadata["url"] == "https://shop.example/shipping"
    assert docs["page:ship.md"].title == "Shipping"
    about = docs["page:about.html"]
    assert about.title == "About"
    assert "We sell & ship tents." in about.text
    assert "var x" not in about.text and "menu" not in about.text and "p{}" not in about.text
    assert docs["page:notes.txt"].kind == "policy"


def test_empty_page_is_an_error(tmp_path):
    with pytest.raises(LoadError, match="empty"):
        load_pages(write(tmp_path / "e.md", "   \n"))


def test_rows_may_leave_out_trailing_empty_cells(tmp_path):
    path = write(tmp_path / "faq.csv", "id,question,answer,category\na,Q?,A.\na,Q2?\n")
    (doc,) = load_faq(path)
    assert doc.metadata["questions"] == ["Q?", "Q2?"] and "category" not in doc.metadata


# ---------------------------------------------------------------- a quote left open
@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        # the runaway value swallows the next rows up to the next quote in the file
        (
            "id,question,answer,category\n"
            'ship,How long does delivery take?,"3-5 days,shipping\n'
            "ship,When will my order arrive?,,\n"
            'pay,Which payment methods?,"Visa, Mastercard",payment\n',
            2,
            "not closed before line 3",
        ),
        # ... or to the end of the file
        (
            "id,question,answer\nship,How long?,3-5 days.\n"
            'pay,Which payment methods do you accept?,"Visa and PayPal\n',
            3,
            "never closed",
        ),
    ],
)
def test_unclosed_quote_in_faq_csv_names_the_line_it_opened(tmp_path, text, line, fragment):
    with pytest.raises(LoadError) as info:
        load_faq(write(tmp_path / "faq.csv", text))
    assert info.value.line == line
    assert fragment in str(info.value) and "closing double quote" in str(info.value)


def test_unclosed_quote_in_catalog_csv(tmp_path):
    text = (
        "sku,title,description,price\n"
        'KR-1,Summit Rain Jacket,"Waterproof shell,189\n'
        "KR-2,Ember Down Jacket,Warm down,249\n"
        'KR-3,Hollow Tent,"Two-person, freestanding",329\n'
    )
    with pytest.raises(LoadError) as info:
        load_catalog(write(tmp_path / "c.csv", text))
    assert info.value.line == 2 and "not closed before line 3" in str(info.value)


def test_multiline_quoted_values_still_load(tmp_path):
    faq = write(
        tmp_path / "faq.csv",
        "id,question,answer\n"
        'ship,How long?,"Standard: 3-5 days.\nExpress: 1-2 days, for $15."\n'
        "ship,When will it arrive?,\n"
        'colours,Which colours?,"We have:\nred,green,blue"\n',
    )
    docs = {d.id: d for d in load_faq(faq)}
    assert docs["faq:ship"].text == "Standard: 3-5 days.\nExpress: 1-2 days, for $15."
    assert docs["faq:ship"].metadata["questions"] == ["How long?", "When will it arrive?"]
    assert docs["faq:colours"].text == "We have:\nred,green,blue"
    catalog = write(
        tmp_path / "c.csv",
        'sku,title,description,price\nKR-1,Rain Jacket,"Waterproof.\nLight, packable.",189\n'
        "KR-2,Down Jacket,Warm,249\n",
    )
    products = load_catalog(catalog)
    assert [p.metadata["description"] for p in products] == [
        "Waterproof.\nLight, packable.",
        "Warm",
    ]
