"""Replay and eval reports: a ``summary.json`` and one self-contained ``report.html``.

``shopbot replay`` writes one JSON record per customer turn (``replies.jsonl``);
:func:`summarize` reads them in one pass and keeps only counters, fixed-size histograms and
a bounded sample of rows for the browsable table. :func:`cluster_questions` groups the
questions the bot could not answer into knowledge gaps (a request for a person is not one:
:func:`asks_for_person`). :func:`render_html` draws the report as one HTML file with inline
CSS and SVG charts (a few lines of vanilla JS filter the table; everything is readable
without it) and :func:`write_report` writes both files
atomically.

``shopbot eval`` gets the same kind of report from :func:`summarize_eval`,
:func:`render_eval_html` and :func:`write_eval_report`.

Nothing here reads a clock or a random generator: the same input gives the same bytes.

The modules: ``common`` (names, colours, streaming statistics), ``gaps`` (knowledge-gap
clusters), ``summary`` (the replay summary), ``evaluation`` (the eval summary), ``charts``
(formatting, page frame, SVG charts), ``replay_page`` and ``eval_page`` (the two pages),
``files`` (writing).
"""

from connectors.report.common import AGREEMENT_EDGES, LATENCY_EDGES_MS, SUMMARY_VERSION
from connectors.report.eval_page import eval_report_html, render_eval_html
from connectors.report.evaluation import summarize_eval
from connectors.report.files import summary_json, write_eval_report, write_report
from connectors.report.gaps import (
    GapCluster,
    asks_for_person,
    cluster_questions,
    is_knowledge_gap,
)
from connectors.report.replay_page import render_html
from connectors.report.summary import gaps_summary, iter_jsonl, summarize

__all__ = [
    "AGREEMENT_EDGES",
    "LATENCY_EDGES_MS",
    "SUMMARY_VERSION",
    "GapCluster",
    "asks_for_person",
    "cluster_questions",
    "eval_report_html",
    "gaps_summary",
    "is_knowledge_gap",
    "iter_jsonl",
    "render_eval_html",
    "render_html",
    "summarize",
    "summarize_eval",
    "summary_json",
    "write_eval_report",
    "write_report",
]
