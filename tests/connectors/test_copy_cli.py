"""`shopbot write`: copy for a catalogue file from the command line, resumable, with the
scripted generator (generator backend fake) so no model loads."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli import app

runner = CliRunner()

SHOPIFY = """Handle,Title,Body (HTML),Vendor,Type,Tags,Option1 Name,Option1 Value,Variant SKU,Variant Price,Variant Inventory Qty,Image Src
trail-tee,Trail Tee,<p>A <b>merino</b> tee that weighs 125 g.</p>,Kestrel Ridge,Shirts,"hiking, merino",Size,S,TT-S,59.00,4,https://shop.example/tee.jpg
trail-tee,,,,,,Size,M,TT-M,59.00,0,
camp-mug,Camp Mug,<p>A 350 ml titanium mug.</p>,Kestrel Ridge,Kitchen,camping,Title,Default Title,MUG-1,24.00,10,
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "config.yaml"
    config.write_text(
        "bot:\n  generator: {backend: fake}\nembedder: {backend: fake}\n", encoding="utf-8"
    )
    catalogue = tmp_path / "products.csv"
    catalogue.write_text(SHOPIFY, encoding="utf-8")
    return config, catalogue


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_write_descriptions_for_a_shopify_export_then_resume(setup, tmp_path):
    config, catalogue = setup
    out = tmp_path / "descriptions.csv"
    first = run("write", "description", str(catalogue), "--out", str(out), "-c", str(config))
    assert first.exit_code == 0, first.output
    assert "2 products, 2 written now (fallback 2" in first.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == ["trail-tee", "camp-mug"]  # Shopify handles
    # the fake's reply is too short to be copy: the product's own words are used instead
    assert rows[1]["text"].startswith("A 350 ml titanium mug.")
    assert json.loads(rows[1]["rejected"])[0]["reasons"][0]["why"].startswith("too short")
    assert (tmp_path / "descriptions.csv.jsonl").is_file()

    again = run("write", "description", str(catalogue), "--out", str(out), "-c", str(config))
    assert "0 written now (nothing new), 2 already done" in again.output

    other = run(
        "write", "description", str(catalogue), "--out", str(out), "-c", str(config),
        "--tone", "playful",
    )  # fmt: skip
    assert other.exit_code == 1 and "--restart" in other.output


def test_review_summary_needs_reviews(setup, tmp_path):
    config, catalogue = setup
    result = run("write", "review-summary", str(catalogue), "-c", str(config))
    assert result.exit_code == 1 and "needs --reviews FILE" in result.output
    reviews = tmp_path / "reviews.csv"
    reviews.write_text(
        "product_id,review\ncamp-mug,Keeps coffee hot. Light enough for backpacking.\n"
        "camp-mug,The handle gets hot. Light enough for backpacking trips.\n",
        encoding="utf-8",
    )
    out = tmp_path / "summaries.json"
    result = run(
        "write", "review-summary", str(catalogue), "--reviews", str(reviews),
        "--out", str(out), "-c", str(config),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 product(s) without reviews left out" in result.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["task"] == "review-summary" and list(written["items"]) == ["camp-mug"]
    assert "backpacking" in written["items"]["camp-mug"]["text"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["poem"], "unknown task 'poem'"),
        (["ad", "--length", "huge"], "length must be short, medium, long"),
        (["ad", "--out", "x.xlsx"], "name it .csv, .json or .jsonl"),
        (["ad", "--language", "xx"], "unknown language 'xx'"),
    ],
)
def test_mistakes_are_named_before_any_model_loads(setup, args, message):
    config, catalogue = setup
    task, *rest = args
    result = run("write", task, str(catalogue), "-c", str(config), *rest)
    assert result.exit_code == 1 and message in " ".join(result.output.split())
