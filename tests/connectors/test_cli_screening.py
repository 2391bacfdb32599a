"""`shopbot index` reports the text addressed to the assistant it found, with file and line,
and shows the report again on a run that changes nothing."""

from pathlib import Path

from tests.connectors.test_cli import config_file, flat, run  # noqa: F401  (the fixture)
from tests.knowledge.test_screening import poison


def test_index_lists_what_screening_found_every_time(config_file, store_dir: Path):  # noqa: F811
    poison(store_dir)
    first = run("index", "--config", str(config_file))
    assert first.exit_code == 0, first.output
    out = flat(first.output)
    assert "text addressed to the assistant in the knowledge: 7 (7 withheld" in out
    assert "policies/discounts.md:5 page:discounts.md override [withheld]" in out
    assert "policies/discounts.md:10 page:discounts.md addressed, HTML comment [withheld]" in out
    assert "catalog.csv:4 product:KR-FTW-001 override [withheld]" in out
    assert "catalog.csv:6 product:KR-BAD-001 marker [withheld]" in out
    assert "(title)" not in out  # a product's title is the first line of its text: said once
    assert "faq.csv:18 faq:promo (question) override [withheld]" in out
    assert "faq:bad: nothing left after screening, not indexed" in out

    again = run("index", "--config", str(config_file))
    assert "up to date" in again.output
    assert (
        flat(again.output).split("embedder:")[1].split(" ", 6)[-1]
        == out.split("embedder:")[1].split(" ", 6)[-1]
    )


def test_a_clean_store_reports_nothing(config_file):  # noqa: F811
    result = run("index", "--config", str(config_file))
    assert result.exit_code == 0, result.output
    assert "addressed to the assistant" not in result.output
