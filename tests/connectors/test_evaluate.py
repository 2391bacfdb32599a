import json

import pytest
from typer.testing import CliRunner

from connectors.cli import app
from connectors.evaluate import load_queries, metrics
from knowledge.errors import LoadError


def test_metrics_by_hand():
    # 2 in-scope (one right), 2 out-of-scope (one declined), one in-scope wrongly declined
    correct = [True, False, True, False, False]
    declined = [False, False, True, False, True]
    out_of_scope = [False, False, True, True, False]
    m = metrics(correct, declined, out_of_scope, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert m["accuracy"] == pytest.approx(2 / 5)
    assert m["in_scope_accuracy"] == pytest.approx(1 / 3)
    assert m["oos_recall"] == pytest.approx(1 / 2)
    assert m["oos_precision"] == pytest.approx(1 / 2)
    # tp=1 fp=1 fn=1 tn=2: (2 - 1) / sqrt(2 * 2 * 3 * 3)
    assert m["mcc"] == pytest.approx(1 / 6)
    assert m["latency_ms_p50"] == 3.0
    assert m["n_queries"] == 5


def test_queries_file_is_validated(tmp_path):
    bad = tmp_path / "q.csv"
    bad.write_text("text,label\nhi,x\n", encoding="utf-8")
    with pytest.raises(LoadError, match="query,expected_id"):
        load_queries(bad)
    good = tmp_path / "good.csv"
    good.write_text("query,expected_id\nhow long is shipping,ship\nweather?,\n", encoding="utf-8")
    assert [(q.text, q.expected) for q in load_queries(good)] == [
        ("how long is shipping", "ship"),
        ("weather?", None),
    ]


def test_eval_command_writes_the_metrics(store_dir, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("embedder: {backend: fake}\n", encoding="utf-8")
    queries = tmp_path / "queries.csv"
    queries.write_text(
        "query,expected_id\n"
        "How long does delivery take?,ship-time\n"
        "Can I pay with PayPal?,pay\n"
        "zzqx vlorp,\n",
        encoding="utf-8",
    )
    out = tmp_path / "metrics.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "--faq",
            str(store_dir / "faq.csv"),
            "--queries",
            str(queries),
            "--config",
            str(config),
            "--json",
            str(out),
            "--report",
            str(tmp_path / "report"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    # the report agrees with the metrics, and draws the threshold curve
    assert summary["accuracy"] == pytest.approx(data["accuracy"])
    assert summary["n_queries"] == 3 and len(summary["threshold_curve"]) > 10
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<svg" in html and "threshold" in html.lower()
    for key in (
        "accuracy",
        "in_scope_accuracy",
        "oos_recall",
        "oos_precision",
        "mcc",
        "latency_ms_p50",
        "latency_ms_p95",
        "n_queries",
    ):
        assert key in data
    assert data["n_queries"] == 3
    assert data["accuracy"] == 1.0  # exact FAQ questions answered, nonsense declined

    # the report opens in a real browser without errors
    from tests.connectors.browser import artifact, chromium_page

    with chromium_page() as (page, errors):
        page.goto((tmp_path / "report" / "report.html").as_uri())
        assert page.locator("svg").count() >= 1
        page.screenshot(path=str(artifact("eval-report.png")), full_page=True)
    assert errors == []


def test_eval_says_when_it_cannot_write(store_dir, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("embedder: {backend: fake}\n", encoding="utf-8")
    queries = tmp_path / "queries.csv"
    queries.write_text("query,expected_id\nHow long does delivery take?,ship-time\n")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    base = ["eval", "--faq", str(store_dir / "faq.csv"), "--queries", str(queries)]
    for option in ("--json", "--report"):
        args = [*base, "--config", str(config), option, str(blocker / "out")]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, result.output
        assert "cannot write" in result.output and "Traceback" not in result.output
