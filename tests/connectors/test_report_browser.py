"""The replay report in Chromium: the chart markers' labels stay apart and on the chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.report import render_html, summarize
from tests.connectors.browser import artifact, chromium_page
from tests.connectors.test_report import rec


def turns(agreements: list[float], latencies: list[float]) -> list[dict]:
    return [
        rec(f"c{i}", 0, "answer_faq", latency=ms, agreement=score)
        for i, (score, ms) in enumerate(zip(agreements, latencies, strict=True))
    ]


def label_boxes(page: Any, chart: str, labels: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Screen boxes of the marker labels of the chart titled ``chart``, and of that chart."""
    return page.evaluate(
        """([chart, labels]) => {
            const svg = [...document.querySelectorAll('svg')]
                .find((s) => s.getAttribute('aria-label') === chart);
            const out = {chart: svg.getBoundingClientRect().toJSON()};
            for (const t of svg.querySelectorAll('text')) {
                if (labels.includes(t.textContent)) out[t.textContent] = t.getBoundingClientRect().toJSON();
            }
            return out;
        }""",
        [chart, list(labels)],
    )


def apart(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["right"] <= b["left"]
        or b["right"] <= a["left"]
        or a["bottom"] <= b["top"]
        or b["bottom"] <= a["top"]
    )


def within(a: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        a["left"] >= outer["left"]
        and a["right"] <= outer["right"]
        and a["top"] >= outer["top"]
        and a["bottom"] <= outer["bottom"]
    )


CASES = {
    # mean a little above the median (a few high scores): the labels used to cross
    "mean-above-median": ([0.50, 0.52, 0.54, 0.60, 0.70], [1.0, 1.1, 1.2, 1.3, 9.0]),
    "mean-below-median": ([0.10, 0.80, 0.82, 0.84, 0.86], [1.0, 2.0, 3.0, 4.0, 5.0]),
    "equal": ([0.5, 0.5, 0.5], [2.0, 2.0, 2.0]),
    "at-the-right-edge": ([1.0, 1.0, 1.0, 0.99], [1.0, 1.0, 1.0, 1.0]),
    "at-the-left-edge": ([-1.0, -1.0, -0.9], [0.0, 0.0, 0.0]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_marker_labels_do_not_overlap(tmp_path: Path, case: str) -> None:
    agreements, latencies = CASES[case]
    summary = summarize(turns(agreements, latencies), gaps=[])
    report = tmp_path / "report.html"
    report.write_text(render_html(summary, title="markers"), encoding="utf-8")
    with chromium_page(viewport={"width": 1280, "height": 900}) as (page, errors):
        page.goto(report.as_uri())
        for chart, labels in (
            ("agreement distribution", ("mean", "median")),
            ("latency histogram", ("p50", "p95")),
        ):
            boxes = label_boxes(page, chart, labels)
            first, second = (boxes[label] for label in labels)
            assert apart(first, second), (case, chart, boxes)
            assert within(first, boxes["chart"]) and within(second, boxes["chart"]), boxes
        if case in ("mean-above-median", "at-the-right-edge"):
            page.locator("svg[aria-label='agreement distribution']").screenshot(
                path=str(artifact(f"report-markers-{case}.png"))
            )
    assert errors == []
