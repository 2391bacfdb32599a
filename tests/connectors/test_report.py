"""The replay and eval reports: figures by hand, clustering, HTML safety, atomic writes."""

from __future__ import annotations

import json
import math
import os
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from connectors.report import (
    AGREEMENT_EDGES,
    LATENCY_EDGES_MS,
    GapCluster,
    asks_for_person,
    cluster_questions,
    eval_report_html,
    is_knowledge_gap,
    iter_jsonl,
    render_eval_html,
    render_html,
    summarize,
    summarize_eval,
    write_eval_report,
    write_report,
)


def rec(conv, turn, action, *, latency, agreement, company=None, text="ok", agent="agent says"):
    meta = {} if company is None else {"company": company}
    return {
        "conversation_id": conv,
        "turn": turn,
        "customer": f"question {conv}.{turn}",
        "agent": agent,
        "bot": {
            "text": text,
            "action": action,
            "confidence": 0.5,
            "latency_ms": latency,
            "citations": [],
        },
        "agreement": agreement,
        "meta": meta,
    }


def records() -> list[dict]:
    return [
        rec("c1", 0, "answer_faq", latency=1.0, agreement=0.8, company="A"),
        rec("c1", 1, "generate", latency=3.0, agreement=0.6, company="A"),
        rec("c2", 0, "clarify", latency=2.0, agreement=0.1, company="B"),
        rec("c2", 1, "handoff", latency=4.0, agreement=None, company="B", text="", agent=None),
        rec("c3", 0, "dont_know", latency=10.0, agreement=-0.2, company="A"),
        rec("c4", 0, "answer_faq", latency=5.0, agreement=1.0),
    ]


# --------------------------------------------------------------------------------------
# replay summary


def test_summary_figures_by_hand():
    s = summarize(records())
    assert s["conversations"] == 4 and s["turns"] == 6
    assert {a: v["count"] for a, v in s["actions"].items()} == {
        "answer_faq": 2,
        "generate": 1,
        "clarify": 1,
        "dont_know": 1,
        "handoff": 1,
    }
    assert s["actions"]["answer_faq"]["share"] == pytest.approx(2 / 6, abs=1e-6)
    assert s["actions"]["handoff"]["share"] == pytest.approx(1 / 6, abs=1e-6)  # 6 decimals
    assert s["handled"] == {"count": 3, "share": 0.5}
    assert s["silent_turns"] == 1 and s["turns_without_agent"] == 1
    # c2 handed off; c1 and c4 answered every turn, c3 did not know
    assert s["conversations_contained"] == {"count": 3, "share": 0.75}
    assert s["conversations_fully_handled"] == {"count": 2, "share": 0.5}

    lat = s["latency_ms"]
    assert lat["exact"] and lat["n"] == 6
    assert lat["p50"] == 3.5  # 1 2 3 | 4 5 10
    assert lat["p95"] == pytest.approx(float(np.percentile([1, 2, 3, 4, 5, 10], 95)))
    assert lat["max"] == 10.0
    assert lat["histogram"]["edges"] == list(LATENCY_EDGES_MS)
    assert lat["histogram"]["counts"][:6] == [0, 1, 3, 1, 1, 0]  # [1,2) [2,5) [5,10) [10,20)
    assert sum(lat["histogram"]["counts"]) == 6
    assert lat["by_action"]["answer_faq"] == {"n": 2, "p50": 3.0, "p95": 4.8}

    agr = s["agreement"]
    assert agr["n"] == 5
    assert agr["mean"] == pytest.approx(0.46)
    assert agr["median"] == pytest.approx(0.6)
    counts = agr["histogram"]["counts"]
    assert agr["histogram"]["edges"] == list(AGREEMENT_EDGES)
    assert len(counts) == 21 and sum(counts) == 5
    # [-1,0) holds -0.2; 0.1 in [0.1,0.15); 0.6 in [0.6,0.65); 0.8 in [0.8,0.85); 1.0 last
    assert {i: c for i, c in enumerate(counts) if c} == {0: 1, 3: 1, 13: 1, 17: 1, 20: 1}
    assert agr["by_action"]["answer_faq"] == {"n": 2, "mean": 0.9}


def test_groups_are_picked_and_broken_down():
    s = summarize(records())
    groups = s["groups"]
    assert groups["key"] == "company" and groups["auto"]
    rows = {r["name"]: r for r in groups["rows"]}
    assert [r["name"] for r in groups["rows"]] == ["A", "B", "(none)"]
    assert rows["A"]["turns"] == 3 and rows["A"]["conversations"] == 2
    assert rows["A"]["actions"] == {"answer_faq": 1, "generate": 1, "dont_know": 1}
    assert rows["A"]["agreement_mean"] == pytest.approx(0.4)
    assert rows["A"]["handled_share"] == pytest.approx(2 / 3)
    assert rows["B"]["actions"] == {"clarify": 1, "handoff": 1}
    assert rows["B"]["agreement_mean"] == pytest.approx(0.1)
    assert rows["(none)"]["turns"] == 1 and rows["(none)"]["agreement_mean"] == 1.0

    top1 = summarize(records(), max_groups=1)["groups"]["rows"]
    assert [(r["name"], r["other"], r["turns"]) for r in top1] == [
        ("A", False, 3),
        ("other", True, 3),
    ]
    assert top1[1]["actions"] == {"answer_faq": 1, "clarify": 1, "handoff": 1}


def test_id_like_meta_keys_are_not_picked_and_a_key_can_be_given():
    data = records()
    for n, r in enumerate(data):
        r["meta"] = {"tweet_id": str(n), **r["meta"], "flow": "billing" if n % 2 else "orders"}
    auto = summarize(data, max_group_values=3)["groups"]
    assert auto["key"] == "flow"  # in every record; tweet_id has too many values
    assert {r["name"]: r["turns"] for r in auto["rows"]} == {"billing": 3, "orders": 3}
    given = summarize(data, group_key="company")["groups"]
    assert given["key"] == "company" and not given["auto"]
    assert [r["name"] for r in given["rows"]] == ["A", "B", "(none)"]
    capped = summarize(data, group_key="tweet_id", max_group_values=2)["groups"]
    assert [(r["name"], r["turns"]) for r in capped["rows"]] == [
        ("0", 1),
        ("1", 1),
        ("other", 4),
    ]
    assert summarize([{"bot": {"action": "generate"}}])["groups"]["key"] is None
    ids = [dict(r, meta={"msg_id": f"m{n}", "company": "A"}) for n, r in enumerate(data * 5)]
    assert summarize(ids, max_groups=2)["groups"]["key"] == "company"  # msg_id is an id


def test_interleaved_turns_and_the_sample():
    data = records()
    interleaved = [data[0], data[2], data[1], data[3], data[4], data[5]]
    s = summarize(interleaved, sample_conversations=2)
    assert s["conversations"] == 4
    assert s["conversations_contained"]["count"] == 3
    assert s["sample"]["conversations"] == 2
    rows = s["sample"]["rows"]
    assert [(r["conversation_id"], r["turn"]) for r in rows] == [
        ("c1", 0),
        ("c1", 1),
        ("c2", 0),
        ("c2", 1),
    ]
    assert rows[3]["agent"] is None and rows[3]["bot_text"] == ""
    assert summarize(data, open_conversations=1)["conversations_fully_handled"]["count"] == 2
    capped = summarize(data, max_sample_rows=3)["sample"]
    assert len(capped["rows"]) == 3 and capped["rows_dropped"] == 3


def test_quantiles_beyond_the_exact_limit_stay_close():
    data = [
        rec(f"c{i}", 0, "answer_faq", latency=float(i), agreement=(i % 100) / 100)
        for i in range(1, 1001)
    ]
    s = summarize(data, exact_limit=50)
    assert not s["latency_ms"]["exact"]
    assert s["latency_ms"]["p50"] == pytest.approx(500.5, rel=0.02)
    assert s["latency_ms"]["p95"] == pytest.approx(950.05, rel=0.02)
    assert s["latency_ms"]["max"] == 1000.0
    assert s["agreement"]["median"] == pytest.approx(0.495, abs=0.01)


def test_empty_input():
    s = summarize([])
    assert s["turns"] == 0 and s["conversations"] == 0
    assert s["handled"]["share"] is None and s["latency_ms"]["p50"] is None
    page = render_html(s, title="nothing")
    assert_well_formed(page)


def test_knowledge_gap_turns():
    data = records()
    assert [is_knowledge_gap(r) for r in data] == [False, False, False, False, True, False]
    spoken = rec("c9", 0, "handoff", latency=1.0, agreement=None, text="Let me get a person.")
    assert is_knowledge_gap(spoken)


def test_a_request_for_a_person_is_not_a_knowledge_gap():
    spoken = "Let me connect you with a member of our team."
    for text in ("I want to speak to a human", "can I talk to a real person please", "转人工"):
        asked = rec("c9", 0, "handoff", latency=1.0, agreement=None, text=spoken)
        asked["customer"] = text
        assert asks_for_person(asked), text
        assert not is_knowledge_gap(asked), text
    # a handoff after failed answers, and a don't-know, still are
    failed = rec("c9", 1, "handoff", latency=1.0, agreement=None, text=spoken)
    failed["customer"] = "what's the weather in Paris"
    assert not asks_for_person(failed) and is_knowledge_gap(failed)


def test_requests_for_a_person_are_counted_and_named_in_the_report():
    data = records()
    data[3]["customer"] = "I want to speak to a human"
    data[3]["bot"]["text"] = "Let me get a person."
    summary = summarize(data, gaps=[])
    assert summary["asked_for_person"] == {"count": 1, "share": round(1 / 6, 6)}
    assert [is_knowledge_gap(r) for r in data] == [False, False, False, False, True, False]
    page = render_html(summary, title="Replay")
    assert_well_formed(page)
    assert "1 turn (16.7%) asked for a person" in page
    assert '<div class="k">asked for a person</div>' in page  # a headline card
    assert summarize(records(), gaps=[])["asked_for_person"] == {"count": 0, "share": 0.0}


def test_iter_jsonl(tmp_path):
    path = tmp_path / "replies.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records()) + "\n\n", encoding="utf-8")
    assert summarize(iter_jsonl(path)) == summarize(records())
    path.write_text('{"a": 1}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        list(iter_jsonl(path))


# --------------------------------------------------------------------------------------
# knowledge gaps


def unit(*rows: list[float]) -> np.ndarray:
    x = np.asarray(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_two_groups_and_an_outlier():
    texts = [
        "ship a1",
        "gift b1",
        "ship a2",
        "weather?",
        "gift b2",
        "ship a3",
        "ship a4",
        "Gift B1",
    ]
    vectors = unit(
        [1, 0.1, 0],
        [0, 1, 0.05],
        [1, -0.1, 0],
        [0, 0, 1],
        [0.05, 1, 0],
        [1, 0, 0],  # the centre of the "ship" group
        [1, 0.05, 0.1],
        [0, 1, 0.05],  # the same question as "gift b1", another spelling
    )
    clusters = cluster_questions(texts, vectors, 0.9, max_examples=2)
    assert [c.size for c in clusters] == [4, 3, 1]
    ship, gift, outlier = clusters
    assert ship.representative == "ship a3"
    assert len(ship.examples) == 2 and set(ship.examples) <= {"ship a1", "ship a2", "ship a4"}
    assert "ship a3" not in ship.examples
    assert gift.representative in {"gift b1", "Gift B1"}
    assert [x.casefold() for x in gift.examples] == ["gift b2"]  # "Gift B1" folded away
    assert outlier == GapCluster(1, "weather?", (), pytest.approx(1.0))
    assert 0.9 < ship.cohesion <= 1.0
    assert cluster_questions(texts, vectors, 0.9, max_examples=2) == clusters


def test_cluster_empty_and_one():
    assert cluster_questions([], np.zeros((0, 8), dtype=np.float32), 0.8) == []
    [one] = cluster_questions(["hello?"], unit([0.3, 0.4]), 0.8)
    assert (one.size, one.representative, one.examples) == (1, "hello?", ())
    assert one.cohesion == pytest.approx(1.0)
    with pytest.raises(ValueError):
        cluster_questions(["a", "b"], unit([1, 0]), 0.8)


def naive_clusters(vectors: np.ndarray, threshold: float) -> list[int]:
    sums: list[np.ndarray] = []
    assign = []
    for v in vectors.astype(np.float64):
        if sums:
            cents = np.array([s / np.linalg.norm(s) for s in sums])
            scores = cents @ v
            best = int(np.argmax(scores))
            if scores[best] >= threshold:
                sums[best] = sums[best] + v
                assign.append(best)
                continue
        sums.append(v.copy())
        assign.append(len(sums) - 1)
    return assign


def test_blocked_clustering_matches_the_plain_greedy_algorithm():
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(12, 16))
    x = centres[rng.integers(0, 12, 700)] + rng.normal(size=(700, 16)) * 0.6
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    texts = [f"q{i}" for i in range(len(x))]
    assign = naive_clusters(x, 0.75)
    expected = sorted(np.bincount(assign).tolist(), reverse=True)
    clusters = cluster_questions(texts, x, 0.75)
    assert [c.size for c in clusters] == expected
    assert sum(c.size for c in clusters) == 700
    assert len(clusters) > 12  # the threshold splits some groups: the blocks see new ones


# --------------------------------------------------------------------------------------
# HTML

VOID = {"meta", "link", "input", "br", "hr", "img", "wbr", "col", "area", "base", "source"}


class TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: dict[str, int] = {}
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.hrefs += [v for k, v in attrs if k in ("href", "src") and v is not None]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def assert_well_formed(page: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(page)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    assert page.startswith("<!DOCTYPE html>")
    return checker


def hostile_records() -> list[dict]:
    data = records()
    data[0]["customer"] = "<script>alert(1)</script>"
    data[0]["agent"] = '"><img src=x onerror=alert(2)>'
    data[0]["bot"]["citations"] = [
        {"n": 1, "doc_id": "faq:returns", "title": "Returns & <b>refunds</b>", "url": None},
        {"n": 2, "doc_id": "page:x", "title": "Evil", "url": "javascript:alert(3)"},
        {
            "n": 3,
            "doc_id": "page:ship",
            "title": "Shipping",
            "url": "https://shop.example/s?a=1&b=2",
        },
    ]
    data[1]["meta"]["company"] = "<svg onload=alert(4)>"
    data[2]["bot"]["action"] = "<i>weird</i>"
    return data


def test_user_text_is_escaped_everywhere():
    gaps = [GapCluster(2, "<script>alert(5)</script>", ("</li><li>x",), 0.9)]
    page = render_html(summarize(hostile_records(), gaps=gaps), title="<b>Replay</b>")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in page
    assert "<img" not in page and "<svg onload" not in page and "<i>weird" not in page
    assert "<b>" not in page
    assert page.count("<script") == 1  # the table filter, ours
    checker = assert_well_formed(page)
    assert "javascript:alert(3)" not in checker.hrefs
    assert "https://shop.example/s?a=1&b=2" in checker.hrefs  # a real source is a link
    assert "&amp;b=2" in page
    text = "".join(checker.text)
    assert "<script>alert(1)</script>" in text  # shown to the reader as text


def test_report_is_self_contained_with_charts():
    gaps = [GapCluster(3, "do you ship to mars", ("mars delivery?",), 0.95)]
    page = render_html(summarize(records(), gaps=gaps), title="Replay")
    checker = assert_well_formed(page)
    assert checker.tags.get("svg", 0) >= 5  # actions, latency, agreement x2, groups
    for chart in ("action mix", "latency histogram", "agreement distribution", "by company"):
        assert f'aria-label="{chart}' in page or f'aria-label="action mix {chart}' in page
    assert "do you ship to mars" in page and "mars delivery?" in page
    assert all(h.startswith("data:") for h in checker.hrefs)  # no citations with urls here
    assert "http://www.w3.org/2000/svg" in page  # the SVG namespace, not a fetch
    stripped = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in stripped and "https://" not in stripped
    assert "@import" not in page and "url(" not in page
    assert 'id="filters" hidden' in page  # the filter box appears only with JS
    assert 'data-action="clarify"' in page


def test_same_input_same_bytes(tmp_path):
    gaps = cluster_questions(["a", "b", "c"], unit([1, 0], [0.9, 0.1], [0, 1]), 0.8)
    one = render_html(summarize(records(), gaps=gaps), title="t")
    two = render_html(summarize(records(), gaps=gaps), title="t")
    assert one == two
    a = write_report(tmp_path / "a", summarize(records(), gaps=gaps), title="t")
    b = write_report(tmp_path / "b", summarize(records(), gaps=gaps), title="t")
    for x, y in zip(a, b, strict=True):
        assert x.read_bytes() == y.read_bytes()


# --------------------------------------------------------------------------------------
# writing


def test_write_report_is_atomic_and_leaves_the_sample_out(tmp_path, monkeypatch):
    out = tmp_path / "run"
    summary = summarize(records(), gaps=[])
    json_path, html_path = write_report(out, summary, title="Replay")
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "summary.json"]
    saved = json.loads(json_path.read_text(encoding="utf-8"))
    assert saved["sample"]["rows"] == 6 and saved["turns"] == 6
    assert saved["gaps"] == {"questions": 0, "clusters": 0, "top": []}
    assert html_path.read_text(encoding="utf-8") == render_html(summary, title="Replay")

    full = write_report(tmp_path / "full", summary, title="Replay", include_sample=True)[0]
    reloaded = json.loads(full.read_text(encoding="utf-8"))
    assert render_html(reloaded, title="Replay") == render_html(summary, title="Replay")

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_report(out, summarize(records()[:2]), title="Replay")
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "summary.json"]
    assert json.loads(json_path.read_text(encoding="utf-8"))["turns"] == 6  # untouched


# --------------------------------------------------------------------------------------
# eval


def results() -> list[dict]:
    def r(query, expected, predicted, confidence, action="answer_faq"):
        return {
            "query": query,
            "expected": expected,
            "predicted": predicted,
            "action": action,
            "confidence": confidence,
            "latency_ms": 2.0,
        }

    return [
        r("how long is shipping", "ship", "faq:ship", 0.9),
        r("when does it arrive", "ship", "faq:returns", 0.8),
        r("delivery time?", "ship", "faq:returns", 0.6),
        r("send it back", "returns", None, 0.2, "dont_know"),
        r("bitcoin?", None, "faq:pay", 0.7),
        r("weather?", None, None, 0.1, "dont_know"),
    ]


def test_eval_summary_by_hand():
    s = summarize_eval(results())
    assert (s["n_queries"], s["n_in_scope"], s["n_out_of_scope"]) == (6, 4, 2)
    assert s["accuracy"] == pytest.approx(2 / 6)
    assert s["in_scope_accuracy"] == pytest.approx(1 / 4)
    # tp=1 (weather) fp=1 (send it back) fn=1 (bitcoin) tn=3
    assert s["oos_recall"] == pytest.approx(0.5)
    assert s["oos_precision"] == pytest.approx(0.5)
    assert s["mcc"] == pytest.approx(0.25)
    assert s["actions"] == {"answer_faq": 4, "dont_know": 2}
    assert s["confusions"] == {
        "total": 2,
        "pairs": 1,
        "top": [
            {
                "expected": "ship",
                "predicted": "returns",
                "count": 2,
                "examples": ["when does it arrive", "delivery time?"],
            }
        ],
    }
    assert [(i["query"], i["predicted"]) for i in s["oos_answered"]["items"]] == [
        ("bitcoin?", "pay")
    ]
    assert [(i["query"], i["expected"]) for i in s["in_scope_declined"]["items"]] == [
        ("send it back", "returns")
    ]
    assert s["operating_point"] == {
        "threshold": 0.6,
        "source": "inferred",
        "in_scope_accuracy": 0.25,
        "oos_recall": 0.5,
        "accuracy": pytest.approx(1 / 3),
    }
    assert summarize_eval(results(), threshold=0.55)["operating_point"]["source"] == "given"


def test_eval_metrics_agree_with_shopbot_eval():
    from connectors.evaluate import metrics

    s = summarize_eval(results())
    data = results()
    declined = [r["predicted"] is None for r in data]
    oos = [r["expected"] is None for r in data]
    correct = [
        d if o else r["predicted"] == f"faq:{r['expected']}"
        for r, d, o in zip(data, declined, oos, strict=True)
    ]
    m = metrics(correct, declined, oos, [2.0] * len(data))
    for key in ("accuracy", "in_scope_accuracy", "oos_recall", "oos_precision", "mcc"):
        assert s[key] == pytest.approx(m[key], abs=1e-6)


def test_threshold_curve():
    curve = summarize_eval(results())["threshold_curve"]
    assert len(curve) == 101 and curve[0]["threshold"] == 0 and curve[-1]["threshold"] == 1
    at = {round(c["threshold"], 2): c for c in curve}
    assert (at[0.0]["in_scope_accuracy"], at[0.0]["oos_recall"]) == (0.25, 0.5)  # as it is
    assert (at[0.65]["in_scope_accuracy"], at[0.65]["oos_recall"]) == (0.25, 0.5)
    assert (at[0.75]["in_scope_accuracy"], at[0.75]["oos_recall"]) == (0.25, 1.0)
    assert (at[0.95]["in_scope_accuracy"], at[0.95]["oos_recall"]) == (0.0, 1.0)
    assert at[0.95]["answered_share"] == 0.0
    recall = [c["oos_recall"] for c in curve]
    accuracy = [c["in_scope_accuracy"] for c in curve]
    answered = [c["answered_share"] for c in curve]
    assert all(a <= b for a, b in pairwise(recall))
    assert all(a >= b for a, b in pairwise(accuracy))
    assert all(a >= b for a, b in pairwise(answered))


def test_eval_html_and_write(tmp_path):
    data = results()
    data[1]["query"] = "<script>alert(1)</script>"
    summary = summarize_eval(data)
    page = render_eval_html(summary, title="Eval <1>")
    assert page == eval_report_html(data, title="Eval <1>")
    checker = assert_well_formed(page)
    assert "<script" not in page  # no JS needed here
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert checker.tags.get("svg", 0) >= 2 and checker.tags.get("polyline", 0) >= 2
    assert "current threshold 0.60" in page
    json_path, html_path = write_eval_report(tmp_path, summary, title="Eval <1>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "summary.json"]
    assert json.loads(json_path.read_text(encoding="utf-8"))["mcc"] == summary["mcc"]
    assert html_path.read_bytes() == page.encode("utf-8")

    empty = summarize_eval([])
    assert empty["n_queries"] == 0 and empty["operating_point"] is None
    assert all(
        c["in_scope_accuracy"] is None or not math.isnan(c["in_scope_accuracy"])
        for c in empty["threshold_curve"]
    )
    assert_well_formed(render_eval_html(empty, title="empty"))


def test_paths_are_returned(tmp_path: Path):
    j, h = write_report(tmp_path, summarize(records()), title="x")
    assert (j.name, h.name) == ("summary.json", "report.html") and j.parent == tmp_path
