"""`shopbot recommend` on the tiny store (fake embedder): the picks, the history file and
its errors, which name the file and the fix before any model loads."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.cli import app

runner = CliRunner()


@pytest.fixture
def config_file(store_dir: Path) -> Path:
    path = store_dir / "config.yaml"
    path.write_text(
        "knowledge:\n"
        "  sources:\n"
        "    - {type: faq, path: faq.csv}\n"
        "    - {type: catalog, path: catalog.csv}\n"
        "  index_dir: index\n"
        "embedder: {backend: fake}\n",
        encoding="utf-8",
    )
    return path


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_recommend_prints_the_picks_with_reasons(config_file):
    result = run("recommend", "a jacket under $200", "--config", str(config_file))
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "1. Summit Rain Jacket — " in out and "$189" in out
    assert "Ember Down Jacket" not in out  # $249, and sold out


def test_recommend_json_with_a_history_file(config_file, tmp_path):
    history = tmp_path / "history.json"
    history.write_text(json.dumps({"bought": ["KR-FTW-001"]}), encoding="utf-8")
    result = run(
        "recommend",
        "something under $400",
        "--history",
        str(history),
        "--json",
        "--config",
        str(config_file),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["constraints"]["price_max"] == 400
    skus = [card["sku"] for card in data["products"]]
    assert skus and "KR-FTW-001" not in skus  # what was bought is not offered again
    assert all(card["in_stock"] and card["reason"] for card in data["products"])
    assert data["text"].startswith("Here")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "{bought: [1]}",
            "not valid JSON (Expecting property name enclosed in double quotes at line 1, column 2)",
        ),
        ('["KR-FTW-001"]', "expected a JSON object"),
        (
            '{"purchased": ["KR-FTW-001"]}',
            "unknown key(s) 'purchased': the history takes bought, viewed, mentioned",
        ),
        ('{"bought": "KR-FTW-001"}', "'bought' must be a list of SKUs (strings)"),
        (
            '{"bought": ["KR-FTW-01"]}',
            "'KR-FTW-01' is not a product of the catalogue (did you mean KR-FTW-001?)",
        ),
    ],
)
def test_a_bad_history_file_fails_clearly(config_file, tmp_path, content, message):
    history = tmp_path / "history.json"
    history.write_text(content, encoding="utf-8")
    result = run("recommend", "a tent", "--history", str(history), "--config", str(config_file))
    assert result.exit_code == 1
    assert message in flat(result.output) and "history.json" in result.output
    assert "Traceback" not in result.output


def test_a_missing_history_file_is_named(config_file, tmp_path):
    missing = tmp_path / "nope.json"
    result = run("recommend", "a tent", "--history", str(missing), "--config", str(config_file))
    assert result.exit_code == 1
    assert "file not found: check the path given to --history" in flat(result.output)
