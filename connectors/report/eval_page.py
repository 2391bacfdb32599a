"""The eval report as one self-contained HTML page."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connectors.report.charts import (
    action_color,
    action_label,
    cards_html,
    esc,
    figure_html,
    fmt_dec,
    fmt_int,
    fmt_ms,
    fmt_pct,
    legend_html,
    page_html,
    pill_html,
    svg_hbars,
    svg_lines,
)
from connectors.report.evaluation import summarize_eval


def render_eval_html(summary: dict[str, Any], *, title: str) -> str:
    """The eval report as one self-contained HTML page."""
    n = summary.get("n_queries", 0)
    point = summary.get("operating_point")
    cards = cards_html(
        [
            (fmt_int(n), "queries", f"{summary.get('n_out_of_scope', 0):,} out of scope"),
            (fmt_pct(summary.get("accuracy")), "accuracy", "right entry, or declined when OOS"),
            (fmt_pct(summary.get("in_scope_accuracy")), "in-scope accuracy", ""),
            (fmt_pct(summary.get("oos_recall")), "OOS recall", "out-of-scope queries declined"),
            (fmt_pct(summary.get("oos_precision")), "OOS precision", "declines that were OOS"),
            (fmt_dec(summary.get("mcc"), 3), "MCC", "decline vs out of scope"),
            (fmt_pct(summary.get("answered_share")), "answered", ""),
            (fmt_ms(summary.get("latency_ms_p50")), "latency p50", ""),
        ]
    )
    curve = summary.get("threshold_curve") or []

    def points(key: str) -> list[tuple[float, float]]:
        return [(c["threshold"], c[key]) for c in curve if c.get(key) is not None]

    series = [
        ("in-scope accuracy", "#1565c0", points("in_scope_accuracy"), ""),
        ("OOS recall", "#c62828", points("oos_recall"), ""),
        ("answered share", "#78909c", points("answered_share"), "5 4"),
    ]
    marks = []
    if point:
        marks = [
            (point[k], color)
            for k, color in (("in_scope_accuracy", "#1565c0"), ("oos_recall", "#c62828"))
            if point.get(k) is not None
        ]
    curve_svg = svg_lines(
        series,
        title="threshold curve",
        marker_x=point["threshold"] if point else None,
        marker_points=marks,
        x_title="decline when confidence is below",
    )
    caption = (
        "If the bot also declined every answer below a confidence threshold: in-scope "
        "accuracy falls and OOS recall rises as the threshold rises. "
        + (
            f"The dashed line marks the current operating point ({point['threshold']:.2f}, "
            f"{'given' if point['source'] == 'given' else 'the lowest confidence answered'})."
            if point
            else "The bot answered nothing, so there is no operating point."
        )
    )
    acts = summary.get("actions") or {}
    mix = svg_hbars(
        [
            (action_label(a), float(c), action_color(a), f"{c:,} ({fmt_pct(c / n if n else None)})")
            for a, c in acts.items()
        ],
        title="action mix",
    )
    charts = (
        '<section><h2>Threshold and actions</h2><div class="grid">'
        + figure_html(
            legend_html(
                [
                    ("a-generate", "in-scope accuracy"),
                    ("a-dont_know", "OOS recall"),
                    ("a-other", "answered share"),
                ]
            )
            + curve_svg,
            esc(caption),
        )
        + figure_html(mix, "Actions over all queries.")
        + "</div></section>"
    )
    conf = summary.get("confusions") or {}
    top = conf.get("top") or []
    if top:
        biggest = max(c["count"] for c in top)
        rows = "".join(
            f"<tr><td class='txt'>{esc(c['expected'])}</td><td class='txt'>{esc(c['predicted'])}"
            f"</td><td class='num'><span class='bar' style='width:"
            f"{max(4, 80 * c['count'] / biggest):.0f}px'></span>{c['count']:,}</td>"
            + "<td><ul>"
            + "".join(f'<li class="txt">{esc(x)}</li>' for x in c["examples"])
            + "</ul></td></tr>"
            for c in top
        )
        confusion_html = (
            f"<p class='muted'>{conf.get('total', 0):,} in-scope queries answered with another "
            f"entry, in {conf.get('pairs', 0):,} expected → predicted pairs; the most frequent:"
            "</p><div class='wrap'><table><thead><tr><th>expected</th><th>predicted</th>"
            f"<th class='num'>count</th><th>examples</th></tr></thead><tbody>{rows}</tbody>"
            "</table></div>"
        )
    else:
        confusion_html = "<p class='muted'>No in-scope query was answered with another entry.</p>"

    def error_table(section: dict[str, Any], entry: str, heading: str, empty: str) -> str:
        items = section.get("items") or []
        if not items:
            return f"<h3>{esc(heading)}</h3><p class='muted'>{esc(empty)}</p>"
        rows = "".join(
            f"<tr><td class='txt'>{esc(i['query'])}</td><td class='txt'>{esc(i.get(entry))}</td>"
            f"<td>{pill_html(i['action'])}</td>"
            f"<td class='num'>{fmt_dec(i.get('confidence'))}</td></tr>"
            for i in items
        )
        more = section.get("count", 0) - len(items)
        return (
            f"<h3>{esc(heading)} ({section.get('count', 0):,})</h3>"
            + "<div class='wrap'><table><thead><tr><th>query</th>"
            f"<th>{'entry given' if entry == 'predicted' else 'expected entry'}</th>"
            "<th>action</th><th class='num'>confidence</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
            + (f"<p class='note'>{more:,} more not shown.</p>" if more > 0 else "")
        )

    errors = (
        "<section><h2>Out-of-scope errors</h2><div class='grid'><div>"
        + error_table(
            summary.get("oos_answered") or {},
            "predicted",
            "Out-of-scope queries answered",
            "None: every out-of-scope query was declined.",
        )
        + "</div><div>"
        + error_table(
            summary.get("in_scope_declined") or {},
            "expected",
            "In-scope queries declined",
            "None: every in-scope query was answered.",
        )
        + "</div></div><p class='note'>Most confident first.</p></section>"
    )
    return page_html(
        title,
        f"{fmt_int(n)} labelled queries: {summary.get('n_in_scope', 0):,} in scope, "
        f"{summary.get('n_out_of_scope', 0):,} out of scope.",
        cards + charts + f"<section><h2>Confusions</h2>{confusion_html}</section>" + errors,
    )


def eval_report_html(
    results: Iterable[dict[str, Any]], *, title: str, threshold: float | None = None
) -> str:
    """``render_eval_html(summarize_eval(results, threshold=threshold), title=title)``."""
    return render_eval_html(summarize_eval(results, threshold=threshold), title=title)
