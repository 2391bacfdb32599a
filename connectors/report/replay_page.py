"""The replay report as one self-contained HTML page."""

from __future__ import annotations

from typing import Any

from connectors.report.charts import (
    FILTER_JS,
    action_color,
    action_label,
    action_legend,
    bin_position,
    cards_html,
    esc,
    figure_html,
    fmt_dec,
    fmt_int,
    fmt_ms,
    fmt_pct,
    latency_label,
    page_html,
    pill_html,
    safe_url,
    svg_columns,
    svg_hbars,
    svg_stacked,
)


def render_html(summary: dict[str, Any], *, title: str) -> str:
    """The replay report as one self-contained HTML page (inline CSS, SVG; JS optional)."""
    actions: dict[str, dict[str, Any]] = summary.get("actions", {})
    order = list(actions)
    turns = summary.get("turns", 0)
    latency = summary.get("latency_ms", {})
    agreement = summary.get("agreement", {})
    handled = summary.get("handled", {})
    contained = summary.get("conversations_contained", {})
    fully = summary.get("conversations_fully_handled", {})

    def share_of(action: str) -> float | None:
        return actions.get(action, {}).get("share")

    cards = cards_html(
        [
            (fmt_int(summary.get("conversations")), "conversations", ""),
            (fmt_int(turns), "customer turns", "one record per customer turn"),
            (fmt_pct(handled.get("share")), "handled by the bot", "answered from FAQ or generated"),
            (fmt_pct(share_of("answer_faq")), "answered from FAQ", ""),
            (fmt_pct(share_of("generate")), "generated", ""),
            (fmt_pct(share_of("clarify")), "clarifying question", ""),
            (fmt_pct(share_of("dont_know")), "don't know", ""),
            (fmt_pct(share_of("handoff")), "handed off", "includes silent turns"),
            (
                fmt_pct((summary.get("asked_for_person") or {}).get("share")),
                "asked for a person",
                "the customer asked for a human",
            ),
            (
                fmt_pct(contained.get("share")),
                "conversations without handoff",
                "no turn of the conversation was handed off",
            ),
            (
                fmt_pct(fully.get("share")),
                "conversations fully handled",
                "every turn answered from FAQ or generated",
            ),
            (fmt_ms(latency.get("p50")), "latency p50", ""),
            (fmt_ms(latency.get("p95")), "latency p95", f"max {fmt_ms(latency.get('max'))}"),
            (fmt_dec(agreement.get("mean")), "agreement with agents (mean)", "cosine similarity"),
        ]
    )

    mix = svg_hbars(
        [
            (
                action_label(a),
                float(actions[a]["count"]),
                action_color(a),
                f"{actions[a]['count']:,} ({fmt_pct(actions[a]['share'])})",
            )
            for a in order
        ]
        if turns
        else [],
        title="action mix",
    )
    lat_hist = latency.get("histogram", {"edges": [], "counts": []})
    lat_edges = lat_hist["edges"]
    lat_labels = [latency_label(lat_edges[i], lat_edges[i + 1]) for i in range(len(lat_edges) - 1)]
    lat_markers = [
        (pos, label)
        for pos, label in (
            (bin_position(lat_edges, latency.get("p50")), "p50"),
            (bin_position(lat_edges, latency.get("p95")), "p95"),
        )
        if pos is not None
    ]
    lat_svg = svg_columns(
        lat_labels,
        lat_hist["counts"],
        title="latency histogram",
        color="#1565c0",
        markers=lat_markers,
        x_title="milliseconds (bins widen to the right)",
    )
    agr_hist = agreement.get("histogram", {"edges": [], "counts": []})
    agr_edges = agr_hist["edges"]
    agr_labels = [
        "<0" if agr_edges[i] < 0 else f"{agr_edges[i]:.2f}" for i in range(len(agr_edges) - 1)
    ]
    agr_markers = [
        (pos, label)
        for pos, label in (
            (bin_position(agr_edges, agreement.get("mean")), "mean"),
            (bin_position(agr_edges, agreement.get("median")), "median"),
        )
        if pos is not None
    ]
    agr_svg = svg_columns(
        agr_labels,
        agr_hist["counts"],
        title="agreement distribution",
        color="#00897b",
        markers=agr_markers,
        x_title="cosine similarity of bot and agent replies (bin start)",
    )
    by_action = agreement.get("by_action", {})
    agr_note = ", ".join(
        f"{action_label(a)} {fmt_dec(v['mean'])} (n={v['n']:,})" for a, v in by_action.items()
    )
    lat_note = ", ".join(
        f"{action_label(a)} p50 {fmt_ms(v['p50'])}" for a, v in latency.get("by_action", {}).items()
    )
    charts = (
        '<section><h2>What the bot did</h2><div class="grid">'
        + figure_html(
            mix,
            f"Share of {fmt_int(turns)} customer turns by the bot's action. "
            f"{fmt_int(summary.get('silent_turns'))} handoff turns were silent "
            "(a human already had the conversation).",
        )
        + figure_html(
            lat_svg,
            f"Latency: p50 {esc(fmt_ms(latency.get('p50')))}, "
            f"p95 {esc(fmt_ms(latency.get('p95')))}, "
            f"max {esc(fmt_ms(latency.get('max')))}"
            + ("" if latency.get("exact", True) else " (percentiles from 1% bins)")
            + (f". {esc(lat_note)}" if lat_note else ""),
        )
        + "</div></section>"
        + '<section><h2>Agreement with the human agents</h2><div class="grid">'
        + figure_html(
            agr_svg,
            f"{fmt_int(agreement.get('n'))} turns with both a bot and an agent reply: "
            f"mean {fmt_dec(agreement.get('mean'))}, median {fmt_dec(agreement.get('median'))}. "
            f"{fmt_int(summary.get('turns_without_agent'))} turns had no agent reply."
            + (f" By action: {esc(agr_note)}." if agr_note else ""),
        )
        + figure_html(
            svg_hbars(
                [
                    (
                        action_label(a),
                        max(v["mean"] or 0.0, 0.0),
                        action_color(a),
                        f"{fmt_dec(v['mean'])}",
                    )
                    for a, v in by_action.items()
                ],
                title="mean agreement by action",
                scale=1.0,
            ),
            "Mean agreement with the agent's reply by the bot's action (full width: 1).",
        )
        + "</div></section>"
    )
    return page_html(
        title,
        f"Replay of {fmt_int(summary.get('conversations'))} conversations, {fmt_int(turns)} "
        "customer turns through the bot.",
        cards
        + charts
        + _groups_html(summary.get("groups") or {}, order)
        + _gaps_html(summary.get("gaps"), summary.get("asked_for_person"))
        + _table_html(summary.get("sample") or {}, order),
        FILTER_JS,
    )


def _groups_html(groups: dict[str, Any], order: list[str]) -> str:
    rows = groups.get("rows") or []
    if not groups.get("key") or not rows:
        return (
            "<section><h2>By group</h2><p class='muted'>No grouping key: the records carry "
            "no suitable <code>meta</code> field.</p></section>"
        )
    key = groups["key"]
    svg = svg_stacked(
        [
            (
                r["name"],
                r["actions"],
                f"{r['turns']:,} turns · agr {fmt_dec(r.get('agreement_mean'))}",
            )
            for r in rows
        ],
        order,
        title=f"action mix by {key}",
    )
    head = "".join(f'<th class="num">{esc(action_label(a))}</th>' for a in order)
    body = "".join(
        f"<tr><td>{esc(r['name'])}</td><td class='num'>{r['turns']:,}</td>"
        f"<td class='num'>{r['conversations']:,}</td>"
        f"<td class='num'>{fmt_pct(r.get('handled_share'))}</td>"
        f"<td class='num'>{fmt_dec(r.get('agreement_mean'))}</td>"
        + "".join(f"<td class='num'>{r['actions'].get(a, 0):,}</td>" for a in order)
        + "</tr>"
        for r in rows
    )
    shown = len(rows) - (1 if rows and rows[-1].get("other") else 0)
    more = groups.get("total_groups", 0) - shown
    return (
        f"<section><h2>By {esc(key)}</h2>"
        + action_legend(order)
        + figure_html(
            svg,
            f"Action mix per {esc(key)} ({'picked automatically: ' if groups.get('auto') else ''}"
            f"the biggest {shown:,} by turns"
            + (f"; {more:,} more under “other”" if more > 0 else "")
            + "); on the right, turns and mean agreement with the agents.",
        )
        + "<details><summary>numbers</summary><div class='wrap'><table><thead><tr>"
        f"<th>{esc(key)}</th><th class='num'>turns</th><th class='num'>conversations</th>"
        "<th class='num'>handled</th><th class='num'>agreement</th>"
        + head
        + f"</tr></thead><tbody>{body}</tbody></table></div></details></section>"
    )


def _person_note(asked: dict[str, Any] | None) -> str:
    count = (asked or {}).get("count") or 0
    if not count:
        return ""
    return (
        f"<p class='muted' id='asked-for-person'>{count:,} "
        + ("turn" if count == 1 else "turns")
        + f" ({fmt_pct(asked.get('share'))}) asked for a person. A handoff the customer "
        "chose is not a gap in the store's knowledge: not counted here.</p>"
    )


def _gaps_html(gaps: dict[str, Any] | None, asked: dict[str, Any] | None = None) -> str:
    if gaps is None:
        return ""
    top = gaps.get("top") or []
    if not top:
        return (
            "<section><h2>Knowledge gaps</h2><p class='muted'>No unanswered questions.</p>"
            + _person_note(asked)
            + "</section>"
        )
    biggest = max(c["size"] for c in top) or 1
    items = []
    for cluster in top:
        examples = "".join(f"<li class='txt'>{esc(x)}</li>" for x in cluster.get("examples", []))
        items.append(
            f"<li><span class='bar' style='width:{max(4, 160 * cluster['size'] / biggest):.0f}px'>"
            f"</span><strong>{cluster['size']:,}×</strong> "
            f"<span class='txt'>{esc(cluster['representative'])}</span>"
            + (f"<ul>{examples}</ul>" if examples else "")
            + "</li>"
        )
    shown = len(top)
    return (
        "<section><h2>Knowledge gaps</h2>"
        f"<p class='muted'>{gaps.get('questions', 0):,} questions the bot could not answer, in "
        f"{gaps.get('clusters', 0):,} clusters of similar questions"
        + (f" (the biggest {shown:,} shown)" if shown < gaps.get("clusters", 0) else "")
        + ", biggest first, each with the question closest to its centre and other examples."
        "</p>" + _person_note(asked) + "<ol class='gaps'>" + "".join(items) + "</ol></section>"
    )


def _citations_html(citations: list[dict[str, Any]]) -> str:
    out = []
    for c in citations:
        label = f"[{c.get('n')}] " if c.get("n") is not None else ""
        name = c.get("title") or c.get("doc_id") or "source"
        url = safe_url(c.get("url"))
        tip = f' title="{esc(c.get("doc_id"))}"' if c.get("doc_id") else ""
        if url:
            out.append(
                f'<a class="src" href="{esc(url)}" rel="noopener noreferrer"{tip}>'
                f"{esc(label)}{esc(name)}</a>"
            )
        else:
            out.append(f'<span class="src"{tip}>{esc(label)}{esc(name)}</span>')
    return "".join(out)


def _table_html(sample: dict[str, Any], order: list[str]) -> str:
    rows = sample.get("rows") or []
    if not isinstance(rows, list) or not rows:
        return (
            "<section><h2>Conversations</h2><p class='muted'>No rows in this summary.</p></section>"
        )
    options = "".join(f'<option value="{esc(a)}">{esc(action_label(a))}</option>' for a in order)
    body = []
    previous = None
    for r in rows:
        start = r["conversation_id"] != previous
        previous = r["conversation_id"]
        bot_text = r.get("bot_text") or ""
        bot_cell = (
            f"<span class='txt'>{esc(bot_text)}</span>"
            if bot_text
            else "<span class='none'>(silent)</span>"
        )
        agent = r.get("agent")
        agent_cell = (
            "<span class='none'>(no agent reply)</span>"
            if agent is None
            else f"<span class='txt'>{esc(agent)}</span>"
        )
        turn = "" if r.get("turn") is None else f" · {r['turn']}"
        body.append(
            f'<tr data-action="{esc(r["action"])}"'
            + (' class="conv-start"' if start else "")
            + f"><td class='txt'>{esc(r['conversation_id'])}{esc(turn)}</td>"
            f"<td class='txt'>{esc(r.get('customer'))}</td>"
            f"<td>{bot_cell}{_citations_html(r.get('citations') or [])}</td>"
            f"<td>{pill_html(r['action'])}</td>"
            f"<td class='num'>{fmt_dec(r.get('confidence'))}</td>"
            f"<td>{agent_cell}</td>"
            f"<td class='num'>{fmt_dec(r.get('agreement'))}</td></tr>"
        )
    limit = sample.get("limit_conversations")
    note = (
        f"Every turn of the first {sample.get('conversations', 0):,} conversations"
        + (f" (at most {limit:,})" if limit else "")
        + (
            f"; {sample['rows_dropped']:,} further turns left out"
            if sample.get("rows_dropped")
            else ""
        )
        + "."
    )
    return (
        "<section><h2>Conversations</h2>"
        f"<p class='muted'>{note}</p>"
        '<div class="filters" id="filters" hidden>'
        '<label>Filter <input id="filter-text" type="search" '
        'placeholder="text in any column"></label>'
        '<label>Action <select id="filter-action"><option value="">all</option>'
        f"{options}</select></label>"
        f'<span class="muted"><span id="filter-shown">{len(rows):,}</span> of {len(rows):,} '
        "turns</span></div>"
        '<div class="wrap"><table id="conversations"><thead><tr>'
        "<th>conversation · turn</th><th>customer</th><th>bot (sources)</th><th>action</th>"
        "<th class='num'>confidence</th><th>agent</th><th class='num'>agreement</th>"
        "</tr></thead><tbody>" + "".join(body) + "</tbody></table></div></section>"
    )
