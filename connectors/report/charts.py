"""The HTML building blocks: formatting, the page frame, inline SVG charts."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from connectors.report.common import ACTION_COLORS, ACTION_LABELS, OTHER_COLOR


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt_pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def fmt_int(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def fmt_dec(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def action_color(action: str) -> str:
    return ACTION_COLORS.get(action, OTHER_COLOR)


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def safe_url(url: str | None) -> str | None:
    if not url:
        return None
    lowered = url.strip().lower()
    return url.strip() if lowered.startswith(("https://", "http://")) else None


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * exponent >= value:
            return step * exponent
    return 10 * exponent


_CSS = """
:root{color-scheme:light;--fg:#1d2733;--muted:#5f6b7a;--line:#dde3ea;--bg:#f6f8fa;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
 "Noto Sans","PingFang SC","Microsoft YaHei",sans-serif;color:var(--fg);background:var(--bg)}
header{padding:24px 32px 8px}
h1{margin:0 0 4px;font-size:24px}
h2{margin:0 0 12px;font-size:18px}
h3{margin:0 0 8px;font-size:15px}
main{padding:8px 32px 40px;max-width:1400px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 20px;
 margin:0 0 20px}
.sub,.muted,figcaption,.note{color:var(--muted)}
.note{font-size:13px;margin:6px 0 0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px;
 background:none;border:0;padding:0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.card .v{font-size:24px;font-weight:600}
.card .k{color:var(--muted);font-size:13px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:20px}
figure{margin:0}
figcaption{font-size:13px;margin-top:4px}
svg{max-width:100%;height:auto;display:block}
svg text{font-size:12px;fill:#33404d}
svg .axis{stroke:#9aa5b1;stroke-width:1}
svg .grid{stroke:#e6eaef;stroke-width:1}
table{border-collapse:collapse;width:100%;font-size:13.5px}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f0f3f6;position:sticky;top:0}
td.num,th.num{text-align:right;white-space:nowrap}
.wrap{max-height:80vh;overflow:auto;border:1px solid var(--line);border-radius:6px}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;
 white-space:nowrap}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:13px;margin:4px 0 8px}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;
 vertical-align:-1px}
.src{display:block;font-size:12.5px;margin-top:3px}
.txt{white-space:pre-wrap;overflow-wrap:anywhere}
.none{color:var(--muted);font-style:italic}
.conv-start td{border-top:2px solid #b8c2cc}
ol.gaps{padding-left:22px;margin:0}
ol.gaps>li{margin:0 0 12px}
ol.gaps ul{margin:4px 0 0;padding-left:18px;color:var(--muted)}
td ul{margin:0;padding-left:16px}
.bar{display:inline-block;height:9px;background:#c62828;border-radius:2px;vertical-align:1px;
 margin-right:8px}
.filters{display:flex;gap:10px;align-items:center;margin:0 0 10px;flex-wrap:wrap}
.filters input{font:inherit;padding:5px 8px;min-width:280px;border:1px solid #b8c2cc;
 border-radius:5px}
.filters select{font:inherit;padding:5px 8px;border:1px solid #b8c2cc;border-radius:5px}
details{margin-top:10px}
summary{cursor:pointer;color:var(--muted)}
""" + "".join(
    f".a-{a}{{background:{c}}}\n" for a, c in (*ACTION_COLORS.items(), ("other", OTHER_COLOR))
)

FILTER_JS = """
(function () {
  var box = document.getElementById("filters");
  var q = document.getElementById("filter-text");
  var act = document.getElementById("filter-action");
  var shown = document.getElementById("filter-shown");
  var table = document.getElementById("conversations");
  if (!box || !q || !act || !shown || !table) { return; }
  var rows = table.tBodies[0] ? table.tBodies[0].rows : [];
  box.hidden = false;
  function apply() {
    var text = q.value.toLowerCase(), action = act.value, count = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var ok = (!action || row.getAttribute("data-action") === action) &&
        (!text || row.textContent.toLowerCase().indexOf(text) !== -1);
      row.hidden = !ok;
      if (ok) { count++; }
    }
    shown.textContent = String(count);
  }
  q.addEventListener("input", apply);
  act.addEventListener("change", apply);
})();
"""


def page_html(title: str, subtitle: str, body: str, script: str = "") -> str:
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        '<link rel="icon" href="data:,">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f'<header><h1>{esc(title)}</h1><p class="sub">{subtitle}</p></header>',
        "<main>",
        body,
        "</main>",
    ]
    if script:
        parts.append(f"<script>{script}</script>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def cards_html(items: list[tuple[str, str, str]]) -> str:
    """Headline cards: (value, label, tooltip)."""
    cards = "".join(
        f'<div class="card" title="{esc(tip)}"><div class="v">{esc(value)}</div>'
        f'<div class="k">{esc(label)}</div></div>'
        for value, label, tip in items
    )
    return f'<section class="cards" aria-label="headline figures">{cards}</section>'


def figure_html(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def _svg_open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{esc(title)}">'
        f"<title>{esc(title)}</title>"
    )


def _svg_empty(title: str, width: int = 640) -> str:
    return (
        _svg_open(width, 60, title)
        + f'<text x="{width / 2:.0f}" y="34" text-anchor="middle">no data</text></svg>'
    )


def svg_hbars(
    items: list[tuple[str, float, str, str]],
    *,
    title: str,
    width: int = 640,
    scale: float | None = None,
) -> str:
    """Horizontal bars: (label, value, colour, note after the bar); ``scale`` is full width."""
    if not items:
        return _svg_empty(title, width)
    row, top, left, right = 28, 6, 150, 130
    height = top * 2 + row * len(items)
    top_value = scale or max(v for _, v, _, _ in items) or 1.0
    span = width - left - right
    out = [_svg_open(width, height, title)]
    out.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{height - top}"/>')
    for i, (label, value, color, note) in enumerate(items):
        y = top + i * row
        w = span * value / top_value
        out.append(
            f'<text x="{left - 8}" y="{y + row / 2:.1f}" dy=".35em" text-anchor="end">'
            f"{esc(_shorten(label, 22))}</text>"
            f'<rect x="{left}" y="{y + 5}" width="{w:.1f}" height="{row - 10}" rx="3" '
            f'fill="{color}"><title>{esc(label)}: {esc(note)}</title></rect>'
            f'<text x="{left + w + 6:.1f}" y="{y + row / 2:.1f}" dy=".35em">{esc(note)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


_LABEL_ROW = 16  # px between two rows of marker labels (12 px text: 13-14 px tall)
_CHAR_W = 7.5  # a generous width of one character of 12 px chart text


def _place_labels(
    markers: Sequence[tuple[float, str]], *, width: float
) -> list[tuple[str, float, int]]:
    """(text-anchor, x, row) for each marker's label, in the given order.

    A label goes beside its line, the leftmost marker's to the left and the others' to the
    right, so two close markers' labels point apart; a label that would leave the chart or
    touch one already placed takes the other side, then the next row up.
    """
    placed: dict[int, tuple[str, float, int]] = {}
    boxes: list[tuple[float, float, int]] = []  # (x0, x1, row) of the labels placed
    order = sorted(range(len(markers)), key=lambda i: markers[i][0])
    for rank, i in enumerate(order):
        x, label = markers[i]
        w = _CHAR_W * len(label)
        sides = [("end", x - 3, x - 3 - w, x - 3), ("start", x + 3, x + 3, x + 3 + w)]
        if rank > 0:
            sides.reverse()
        choice = None
        for row in range(len(markers)):
            for anchor, x_text, x0, x1 in sides:
                fits = x0 >= 0 and x1 <= width
                free = all(x1 + 4 <= b0 or b1 + 4 <= x0 for b0, b1, r in boxes if r == row)
                if fits and free:
                    choice = (anchor, x_text, row, x0, x1)
                    break
            if choice:
                break
        if choice is None:  # no room anywhere: a row of its own, inside the chart
            x0 = min(max(x - w / 2, 0.0), width - w)
            choice = ("start", x0, len(markers), x0, x0 + w)
        anchor, x_text, row, x0, x1 = choice
        placed[i] = (anchor, x_text, row)
        boxes.append((x0, x1, row))
    return [placed[i] for i in range(len(markers))]


def svg_columns(
    labels: list[str],
    counts: list[int],
    *,
    title: str,
    color: str,
    markers: Sequence[tuple[float, str]] = (),
    width: int = 640,
    x_title: str = "",
) -> str:
    """A histogram: one column per bin; markers at fractional bin positions."""
    if not counts or not sum(counts):
        return _svg_empty(title, width)
    left, right, top, bottom = 48, 12, 22, 52 if x_title else 38
    height = 230
    plot_w = width - left - right
    slot = plot_w / len(counts)
    placed = _place_labels([(left + p * slot, label) for p, label in markers], width=width)
    rows = 1 + max((row for _, _, row in placed), default=0)
    top, height = top + _LABEL_ROW * (rows - 1), height + _LABEL_ROW * (rows - 1)
    plot_h = height - top - bottom
    top_value = _nice_max(max(counts))
    out = [_svg_open(width, height, title)]
    for k in range(5):
        value = top_value * k / 4
        y = top + plot_h - plot_h * k / 4
        out.append(
            f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}"/>'
            f'<text x="{left - 6}" y="{y:.1f}" dy=".35em" text-anchor="end">'
            f"{esc(f'{value:,.0f}' if value.is_integer() else f'{value:g}')}</text>"
        )
    every = max(1, math.ceil(len(labels) / 12))
    for i, (label, count) in enumerate(zip(labels, counts, strict=True)):
        x = left + i * slot
        h = plot_h * count / top_value
        out.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(slot - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="{color}"><title>{esc(label)}: {count:,}</title></rect>'
        )
        if i % every == 0:
            out.append(
                f'<text x="{x + slot / 2:.1f}" y="{top + plot_h + 15}" text-anchor="middle">'
                f"{esc(label)}</text>"
            )
    out.append(
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
        f'y2="{top + plot_h}"/>'
    )
    for (x, label), (anchor, x_text, row) in zip(
        ((left + p * slot, label) for p, label in markers), placed, strict=True
    ):
        y_text = top - 8 - _LABEL_ROW * row
        out.append(
            f'<line x1="{x:.1f}" y1="{y_text + 4}" x2="{x:.1f}" y2="{top + plot_h}" '
            f'stroke="#263238" stroke-width="1.5" stroke-dasharray="4 3"/>'
            f'<text x="{x_text:.1f}" y="{y_text}" text-anchor="{anchor}">{esc(label)}</text>'
        )
    if x_title:
        out.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">'
            f"{esc(x_title)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def svg_stacked(
    rows: list[tuple[str, dict[str, int], str]], order: list[str], *, title: str, width: int = 720
) -> str:
    """100% stacked horizontal bars: (label, counts by action, note)."""
    if not rows:
        return _svg_empty(title, width)
    row, top, left, right = 26, 6, 170, 190
    height = top * 2 + row * len(rows)
    span = width - left - right
    out = [_svg_open(width, height, title)]
    for i, (label, counts, note) in enumerate(rows):
        y = top + i * row
        total = sum(counts.values())
        out.append(
            f'<text x="{left - 8}" y="{y + row / 2:.1f}" dy=".35em" text-anchor="end">'
            f"<title>{esc(label)}</title>{esc(_shorten(label, 24))}</text>"
        )
        x = float(left)
        for action in order:
            count = counts.get(action, 0)
            if not count or not total:
                continue
            w = span * count / total
            out.append(
                f'<rect x="{x:.2f}" y="{y + 4}" width="{w:.2f}" height="{row - 8}" '
                f'fill="{action_color(action)}"><title>{esc(label)} · {esc(action_label(action))}: '
                f"{count:,} ({esc(fmt_pct(count / total))})</title></rect>"
            )
            x += w
        out.append(
            f'<text x="{left + span + 8}" y="{y + row / 2:.1f}" dy=".35em">{esc(note)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def svg_lines(
    series: list[tuple[str, str, list[tuple[float, float]], str]],
    *,
    title: str,
    marker_x: float | None = None,
    marker_points: Sequence[tuple[float, str]] = (),
    width: int = 640,
    x_title: str = "",
) -> str:
    """Lines on [0,1] x [0,1]: (name, colour, points, dash)."""
    if not any(points for _, _, points, _ in series):
        return _svg_empty(title, width)
    left, right, top, bottom = 44, 16, 14, 44
    height = 300
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + plot_w * x

    def py(y: float) -> float:
        return top + plot_h * (1 - y)

    out = [_svg_open(width, height, title)]
    for k in range(5):
        v = k / 4
        out.append(
            f'<line class="grid" x1="{left}" y1="{py(v):.1f}" x2="{width - right}" '
            f'y2="{py(v):.1f}"/><text x="{left - 6}" y="{py(v):.1f}" dy=".35em" '
            f'text-anchor="end">{v:g}</text>'
            f'<text x="{px(v):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{v:g}</text>'
        )
    out.append(
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
        f'y2="{top + plot_h}"/><line class="axis" x1="{left}" y1="{top}" x2="{left}" '
        f'y2="{top + plot_h}"/>'
    )
    for name, color, points, dash in series:
        if not points:
            continue
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dashed}>'
            f"<title>{esc(name)}</title></polyline>"
        )
    if marker_x is not None:
        x = px(min(max(marker_x, 0.0), 1.0))
        out.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#263238" '
            f'stroke-width="1.5" stroke-dasharray="4 3"/>'
            f'<text x="{x + 4:.1f}" y="{top + 12}">current threshold {marker_x:.2f}</text>'
        )
        for y, color in marker_points:
            out.append(
                f'<circle cx="{x:.1f}" cy="{py(y):.1f}" r="5" fill="{color}" stroke="#fff" '
                f'stroke-width="1.5"><title>{y:.3f}</title></circle>'
            )
    if x_title:
        out.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">'
            f"{esc(x_title)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def legend_html(items: list[tuple[str, str]]) -> str:
    spans = "".join(
        f'<span><span class="sw {cls}"></span>{esc(text)}</span>' for cls, text in items
    )
    return f'<div class="legend">{spans}</div>'


def action_legend(order: list[str]) -> str:
    return legend_html(
        [(f"a-{a}" if a in ACTION_COLORS else "a-other", action_label(a)) for a in order]
    )


def pill_html(action: str) -> str:
    cls = f"a-{action}" if action in ACTION_COLORS else "a-other"
    return f'<span class="pill {cls}">{esc(action_label(action))}</span>'


def latency_label(low: float | None, high: float | None) -> str:
    def fmt(v: float) -> str:
        return f"{v / 1000:g}s" if v >= 1000 else f"{v:g}"

    if high is None:
        return f"≥{fmt(low or 0)}"
    return f"{fmt(low or 0)}–{fmt(high)}"


def bin_position(edges: list[float | None], value: float | None) -> float | None:
    """Where ``value`` falls in bin units (bin i spans [i, i+1]), for chart markers."""
    if value is None:
        return None
    for i in range(len(edges) - 1):
        low, high = edges[i], edges[i + 1]
        if high is None:
            return i + 0.5
        if value < high or i == len(edges) - 2:
            low = low if low is not None else 0.0
            frac = (value - low) / (high - low) if high > low else 0.0
            return i + min(max(frac, 0.0), 1.0)
    return None
