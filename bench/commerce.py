"""Commerce benchmark (issue 13) on FewSum's Amazon products: review summaries scored with
ROUGE against the human summaries, the grounding checker's flag rate, and recommendation
category precision@5 on a catalogue built from the same data.

Review summaries. The first --limit products of FewSum's *test* split go through the code
path of ``shopbot write review-summary`` (``CopyWriter`` + ``write_batch``, the configured
generator: the bundled local model by default). Each summary is scored with ROUGE-1/2/L F1
(Google's ``rouge-score`` package, Porter stemmer) against the product's three human
summaries; per product the *max* and the *mean* over the three references are taken, then
averaged over products. Beside it, on the same products and at the same length in words:

- lead: the first sentence of each review in turn (review 1, review 2, ...), cut to the
  summary's number of words (the classic lead baseline, over the reviews in file order);
- extractive: shopbot's own fallback (the reviews' most shared sentences, no model), what a
  review summary is when no generated attempt passes the checker, cut the same way.

Both are also scored on all the test products, cut to the target length.

The target length (``--length train``) is the median length of the human summaries of the
*train* split; nothing is set on the test split.

Checker flag rate: the share of the model's attempts the checker rejected, by reason (a
claim not in the reviews, by kind; a quality reason), and what was kept in the end (passed,
regenerated, trimmed, fallback). For scale, the same checker on the human summaries and on
the lead baseline (both state only what reviewers wrote, or nearly).

Recommendations. A catalogue of all 60 FewSum products (train, val and test), each with its
FewSum category (cloth, electronics, health_personal_care, home_kitchen) and, as its
description, its first six reviews. Queries come from text the catalogue does not hold: for
each test product, its 8th review and its first human summary. The query's own product is
excluded from the results (it would be a free hit); a pick is relevant when it is in the
query product's category; precision@5 is the share of the 5 picks in that category (a
recommender that shows fewer than 5 counts the empty places as misses; the share of what it
shows is reported too). Compared on the same index: shopbot's recommender
(``Recommender.recommend``: constraints, hybrid ranking, diversity), the hybrid retriever
alone, plain embedding nearest neighbours (dense only), BM25 alone, and chance.

    python bench/commerce.py /work/shared/data [--limit 10] [--retries 2] [--json OUT]
"""

from __future__ import annotations

import os
import sys

# run as a script, this file's folder comes first on sys.path, and bench/copy.py there hides
# the standard library's copy module (which dataclasses imports): take it off
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse
import csv
import json
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.commerce.copy import STATUSES, CopySettings, CopyWriter  # noqa: E402
from bot.commerce.copy_batch import write_batch  # noqa: E402
from bot.commerce.copy_check import CopyChecker, count_words, split_sentences  # noqa: E402
from bot.commerce.copy_fallback import review_summary  # noqa: E402
from bot.commerce.copy_items import CopyItem, items_for  # noqa: E402
from knowledge.embedders.cpu import cpu_info  # noqa: E402
from knowledge.loaders import load_catalog  # noqa: E402

SPLITS = ("train", "val", "test")
REVIEWS = 8
#: reviews that make a product's description in the recommendation catalogue; the 8th is
#: held out as a query
DESCRIPTION_REVIEWS = 6
PICKS = 5
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


# ---------------------------------------------------------------------------- data
def read_split(data: Path, split: str) -> list[dict[str, str]]:
    """One FewSum split (TSV, no quoting): cat, group_id, rev1..rev8, summ1..summ3, ..."""
    path = data / "fewsum_amazon" / f"{split}.csv"
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def reviews_of(row: dict[str, str]) -> list[str]:
    return [row[f"rev{n}"] for n in range(1, REVIEWS + 1)]


def summaries_of(row: dict[str, str]) -> list[str]:
    return [row[f"summ{n}"] for n in (1, 2, 3)]


def train_length(rows: Sequence[dict[str, str]]) -> int:
    """The median length in words of the train split's human summaries."""
    return int(statistics.median(count_words(s) for r in rows for s in summaries_of(r)))


# ---------------------------------------------------------------------------- summaries
def summary_items(rows: Sequence[dict[str, str]], workdir: Path) -> list[CopyItem]:
    """The products as ``shopbot write`` reads them: a catalogue (ASIN, category) and a
    reviews file's reviews."""
    catalogue = workdir / "fewsum_summaries.csv"
    with catalogue.open("w", encoding="utf-8", newline="") as handle:
        table = csv.writer(handle)
        table.writerow(["sku", "title", "category"])
        table.writerows([r["group_id"], f"Product {r['group_id']}", r["cat"]] for r in rows)
    reviews = {r["group_id"]: reviews_of(r) for r in rows}
    items, _ = items_for(load_catalog(catalogue), reviews=reviews)
    return items


def lead(reviews: Sequence[str], words: int) -> str:
    """The first sentence of each review in turn, then the second ones, ..., until about
    ``words`` words (the sentence that reaches the length is kept)."""
    sentences = [split_sentences(" ".join(r.split())) for r in reviews]
    kept: list[str] = []
    total = 0
    for depth in range(max((len(s) for s in sentences), default=0)):
        for review in sentences:
            if depth < len(review) and total < words:
                kept.append(review[depth])
                total += count_words(review[depth])
    return " ".join(kept)


def cut(text: str, words: int) -> str:
    """``text`` cut to its first ``words`` words (separated by spaces), so that a baseline
    is scored at the length of the summary it is compared with (ROUGE F1 moves with
    length)."""
    return " ".join(text.split()[:words])


def rouge(texts: dict[str, str], references: dict[str, list[str]]) -> dict[str, float]:
    """ROUGE-1/2/L F1 of each text against its references: max and mean over the
    references per text, averaged over texts (x100)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    best: dict[str, list[float]] = {t: [] for t in ROUGE_TYPES}
    mean: dict[str, list[float]] = {t: [] for t in ROUGE_TYPES}
    for key, text in texts.items():
        scores = [scorer.score(ref, text) for ref in references[key]]
        for t in ROUGE_TYPES:
            values = [s[t].fmeasure for s in scores]
            best[t].append(max(values))
            mean[t].append(sum(values) / len(values))
    out: dict[str, float] = {"texts": len(texts)}
    for t in ROUGE_TYPES:
        out[f"{t}_max"] = 100 * statistics.fmean(best[t]) if texts else 0.0
        out[f"{t}_mean"] = 100 * statistics.fmean(mean[t]) if texts else 0.0
    out["words"] = statistics.fmean(count_words(t) for t in texts.values()) if texts else 0.0
    return out


def reason_label(reason: dict[str, Any]) -> str:
    """A rejection reason as a label: the claim's kind, or a quality reason without its
    figures ("too short", "says little the source says")."""
    if reason["kind"] != "quality":
        return reason["kind"]
    why = reason["why"].split(" (")[0]
    return f"quality: {why}"


def write_summaries(generator: Any, items: list[CopyItem], args: Any, workdir: Path) -> dict:
    """The review summaries as ``shopbot write review-summary`` writes them, and the
    checker's verdicts on every attempt."""
    settings = CopySettings("review-summary", length=str(args.words), retries=args.retries)
    writer = CopyWriter(generator, settings)
    out = workdir / "review-summary.json"
    started = time.perf_counter()
    stats = write_batch(
        writer,
        items,
        out,
        manifest={"task": "review-summary", "words": args.words},
        limit=args.limit,
        progress=lambda done, total, _: print(f"  summaries: {done}/{total}", file=sys.stderr),
    )
    seconds = time.perf_counter() - started
    written = json.loads(out.read_text(encoding="utf-8"))["items"]
    attempts = sum(r["attempts"] for r in written.values())
    rejected = [a for r in written.values() for a in r["rejected"]]
    by_reason: Counter[str] = Counter()
    claims = 0
    for attempt in rejected:
        labels = {reason_label(x) for x in attempt["reasons"]}
        by_reason.update(labels)
        claims += any(x["kind"] not in ("quality", "generator") for x in attempt["reasons"])
    status = Counter(r["status"] for r in written.values())
    n = len(written)
    first = [r["rejected"][0] for r in written.values() if r["rejected"]]
    first = [a for a in first if a["attempt"] == 1]
    return {
        "texts": {key: r["text"] for key, r in written.items()},
        "records": written,
        "items": n,
        "model_attempts": attempts,
        "attempts_rejected": len(rejected) / attempts if attempts else 0.0,
        "attempts_with_unsupported_claims": claims / attempts if attempts else 0.0,
        "attempts_rejected_by_reason": {k: v / attempts for k, v in by_reason.most_common()},
        "status_share": {s: status.get(s, 0) / n for s in STATUSES} if n else {},
        "items_first_attempt_rejected": len(first) / n if n else 0.0,
        "items_first_attempt_with_unsupported_claims": sum(
            any(x["kind"] not in ("quality", "generator") for x in a["reasons"]) for a in first
        )
        / n
        if n
        else 0.0,
        "seconds_per_item": seconds / max(stats.written, 1),
    }


def checker_flags(texts: dict[str, str], items: dict[str, CopyItem]) -> dict[str, Any]:
    """The share of ``texts`` the checker rejects (as ``CopyWriter`` checks a review
    summary: claims, quality and the support floor), by reason."""
    from bot.commerce.copy import SUMMARY_SUPPORT

    checker = CopyChecker(min_words=10)
    kinds: Counter[str] = Counter()
    flagged = 0
    for key, text in texts.items():
        report = checker.check(text, items[key].source, language="en", support=SUMMARY_SUPPORT)
        flagged += not report.passed
        kinds.update({reason_label({"kind": c.kind, "why": c.note}) for c in report.failures})
    n = len(texts)
    return {
        "texts": n,
        "flagged": flagged / n if n else 0.0,
        "by_reason": {k: v / n for k, v in kinds.most_common()},
    }


# ---------------------------------------------------------------------------- recommendations
def recommendation_catalogue(rows: Sequence[dict[str, str]], path: Path) -> None:
    """Every product with its category and its first reviews as its description."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        table = csv.writer(handle)
        table.writerow(["sku", "title", "description", "category"])
        for r in rows:
            description = " ".join(" ".join(reviews_of(r)[:DESCRIPTION_REVIEWS]).split())
            table.writerow([r["group_id"], f"Product {r['group_id']}", description, r["cat"]])


def precision_at_5(
    rank: Callable[[str, str], list[str]],
    queries: Sequence[tuple[str, str, str]],
    category: dict[str, str],
) -> dict[str, float]:
    """Mean precision@5 of ``rank(text, own_sku) -> skus`` over ``(kind, sku, text)``
    queries, per query kind and overall; also the share of shown picks in the category."""
    out: dict[str, float] = {}
    for kind in [*dict.fromkeys(k for k, _, _ in queries), "all"]:
        chosen = [q for q in queries if kind in ("all", q[0])]
        p5, shown, counts = [], [], []
        for _, sku, text in chosen:
            picks = [p for p in rank(text, sku) if p != sku][:PICKS]
            hits = sum(category[p] == category[sku] for p in picks)
            p5.append(hits / PICKS)
            shown.append(hits / len(picks) if picks else 0.0)
            counts.append(len(picks))
        out[f"p@5_{kind}"] = statistics.fmean(p5)
        out[f"shown_precision_{kind}"] = statistics.fmean(shown)
        out[f"picks_{kind}"] = statistics.fmean(counts)
    return out


def recommendations(rows_by_split: dict[str, list[dict[str, str]]], config: Any, workdir: Path):
    from bot.commerce import recommend
    from bot.commerce.recommend import Recommender
    from knowledge.config import SourceConfig
    from knowledge.kb import KnowledgeBase

    rows = [r for split in SPLITS for r in rows_by_split[split]]
    catalogue = workdir / "fewsum_catalogue.csv"
    recommendation_catalogue(rows, catalogue)
    knowledge = config.knowledge.model_copy(
        update={
            "sources": [SourceConfig(type="catalog", path=str(catalogue))],
            "index_dir": str(workdir / "index"),
        }
    )
    kb = KnowledgeBase(
        knowledge,
        config.embedder,
        config.retrieval,
        base_dir=workdir,
        model_cache_dir=config.model_cache_dir,
    )
    kb.update()
    category = {r["group_id"]: r["cat"] for r in rows}
    doc_of = {r["group_id"]: f"product:{r['group_id']}" for r in rows}
    queries = [("review", r["group_id"], r[f"rev{REVIEWS}"]) for r in rows_by_split["test"]]
    queries += [("summary", r["group_id"], r["summ1"]) for r in rows_by_split["test"]]

    recommender = Recommender(kb.retriever(), max_picks=PICKS)
    sku_of = {item.doc_id: item.sku for item in recommender.catalogue.items}
    filtered: list[str] = []

    def shopbot(text: str, own: str) -> list[str]:
        result = recommender.recommend(text, exclude=[doc_of[own]])
        c = result.constraints
        if c.price_min is not None or c.price_max is not None or c.flags or c.nouns:
            filtered.append(own)
        return [p.item.sku for p in result.picks]

    def ablated(**constants: float) -> Callable[[str, str], list[str]]:
        """shopbot's recommender with some of its constants set otherwise (an ablation,
        to read the figures by: not a setting chosen on this data)."""

        def rank(text: str, own: str) -> list[str]:
            saved = {k: getattr(recommend, k) for k in constants}
            try:
                for k, v in constants.items():
                    setattr(recommend, k, v)
                return [
                    p.item.sku for p in recommender.recommend(text, exclude=[doc_of[own]]).picks
                ]
            finally:
                for k, v in saved.items():
                    setattr(recommend, k, v)

        return rank

    def retrieval(mode: str) -> Callable[[str, str], list[str]]:
        retriever = kb.retriever(mode=mode)  # type: ignore[arg-type]

        def rank(text: str, own: str) -> list[str]:
            hits = retriever.query(text, k=PICKS + 1, filters={"kind": "product"}).hits
            return [sku_of.get(h.doc_id, h.doc_id) for h in hits]

        return rank

    methods = {
        "shopbot recommender": shopbot,
        "  ablation: no diversity penalties": ablated(
            SAME_CATEGORY_PENALTY=0.0, SAME_NOUN_PENALTY=0.0
        ),
        "  ablation: no diversity penalties, no relevance cut": ablated(
            SAME_CATEGORY_PENALTY=0.0, SAME_NOUN_PENALTY=0.0, RELEVANT_SHARE=0.0
        ),
        "hybrid retriever (dense + BM25, RRF)": retrieval("hybrid"),
        "embedding nearest neighbours (dense only)": retrieval("dense"),
        "BM25 only": retrieval("lexical"),
    }
    results = {name: precision_at_5(rank, queries, category) for name, rank in methods.items()}
    # chance: 5 products drawn from the other 59, (n_category - 1) / 59 of them relevant
    sizes = Counter(category.values())
    chance = statistics.fmean((sizes[category[s]] - 1) / (len(rows) - 1) for _, s, _ in queries)
    results["chance"] = {"p@5_all": chance, "shown_precision_all": chance, "picks_all": PICKS}
    embedder = kb.embedder
    return results, {
        "catalogue_products": len(rows),
        "queries": len(queries),
        "categories": dict(sizes),
        "embedder": f"{embedder.backend}:{embedder.model_id}",
        "queries_with_a_filter_parsed": len(filtered),
    }


# ---------------------------------------------------------------------------- report
def rouge_table(rows: dict[str, dict[str, float]]) -> str:
    head = (
        "| summary | products | words | R-1 max | R-2 max | R-L max | R-1 mean | R-2 mean "
        "| R-L mean |\n" + "|---" * 9 + "|"
    )
    lines = [
        f"| {name} | {r['texts']} | {r['words']:.0f} | "
        + " | ".join(f"{r[f'{t}_max']:.1f}" for t in ROUGE_TYPES)
        + " | "
        + " | ".join(f"{r[f'{t}_mean']:.1f}" for t in ROUGE_TYPES)
        + " |"
        for name, r in rows.items()
    ]
    return "\n".join([head, *lines])


def precision_table(results: dict[str, dict[str, float]]) -> str:
    head = (
        "| ranking | P@5 (review queries) | P@5 (summary queries) | P@5 (all) | picks shown "
        "| precision of what is shown |\n" + "|---" * 6 + "|"
    )
    lines = []
    for name, r in results.items():
        cells = [f"{r[k]:.3f}" if k in r else "" for k in ("p@5_review", "p@5_summary")]
        lines.append(
            f"| {name} | {cells[0]} | {cells[1]} | {r['p@5_all']:.3f} | {r['picks_all']:.2f} "
            f"| {r['shown_precision_all']:.3f} |"
        )
    return "\n".join([head, *lines])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=20, help="test products to summarise")
    parser.add_argument(
        "--length",
        default="train",
        help="summary length in words, or 'train': the median of the train split's human summaries",
    )
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--backend", default=None, help="generator backend (default: config)")
    parser.add_argument("--skip-summaries", action="store_true", help="recommendations only")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not (args.data / "fewsum_amazon" / "test.csv").exists():
        parser.error(f"no fewsum_amazon/test.csv under {args.data}: pass the shared data folder")

    from connectors.config import load_config

    config = load_config(ROOT / "config.yaml")
    if args.backend:
        config.bot.generator.backend = args.backend
    rows = {split: read_split(args.data, split) for split in SPLITS}
    args.words = train_length(rows["train"]) if args.length == "train" else int(args.length)
    machine: dict[str, Any] = {
        "cpu": cpu_info().model,
        "cpus": os.cpu_count(),
        "load_average_start": os.getloadavg()[0],
    }
    report: dict[str, Any] = {
        "machine": machine,
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if not args.skip_summaries:
            import torch

            torch.manual_seed(0)  # the retries sample
            from connectors.cli import _copy_generator

            generator = _copy_generator(config)
            machine["generator"] = getattr(generator, "name", type(generator).__name__)
            machine["torch_threads"] = torch.get_num_threads()
            items = summary_items(rows["test"], workdir)
            by_id = {item.id: item for item in items}
            written = write_summaries(generator, items, args, workdir)
            texts = written.pop("texts")
            records = written.pop("records")
            done = [by_id[key] for key in texts]
            refs = {r["group_id"]: summaries_of(r) for r in rows["test"]}
            # the baselines at each shopbot summary's own length, on the same products
            lengths = {key: max(len(text.split()), 1) for key, text in texts.items()}
            lead_texts = {i.id: cut(lead(i.reviews, lengths[i.id]), lengths[i.id]) for i in done}
            extractive = {
                i.id: cut(
                    review_summary(i.reviews, words=lengths[i.id], source=i.source),
                    lengths[i.id],
                )
                for i in done
            }
            everyone = {i.id: cut(lead(i.reviews, args.words), args.words) for i in items}
            everyone_x = {
                i.id: cut(review_summary(i.reviews, words=args.words, source=i.source), args.words)
                for i in items
            }
            by_model = {k: t for k, t in texts.items() if records[k]["status"] != "fallback"}
            scores = {
                "shopbot write review-summary (model, checked)": rouge(texts, refs),
                "  of which written by the model (passed, regenerated, trimmed)": rouge(
                    by_model, refs
                ),
                "lead (first review sentences, same length)": rouge(lead_texts, refs),
                "extractive fallback alone (same length)": rouge(extractive, refs),
                f"lead, all {len(items)} test products (cut to {args.words} words)": rouge(
                    everyone, refs
                ),
                f"extractive fallback, all {len(items)} (cut to {args.words} words)": rouge(
                    everyone_x, refs
                ),
            }
            human = {f"{k}#{n}": s for k, ss in refs.items() for n, s in enumerate(ss)}
            human_items = {f"{k}#{n}": by_id[k] for k in refs for n in range(3)}
            written["checker_on_human_summaries"] = checker_flags(human, human_items)
            written["checker_on_lead"] = checker_flags(everyone, by_id)
            report["summaries"] = {"rouge": scores, "checker": written}
            report["summary_examples"] = [
                {
                    "id": key,
                    "status": records[key]["status"],
                    "shopbot": texts[key],
                    "lead": lead_texts[key],
                    "human": refs[key][0],
                }
                for key in list(texts)[:3]
            ]
        results, setup = recommendations(rows, config, workdir)
        report["recommendations"] = {"setup": setup, "precision_at_5": results}
    machine["load_average_end"] = os.getloadavg()[0]
    machine["seconds"] = round(time.perf_counter() - started, 1)

    print(
        f"CPU: {machine['cpu']} ({machine['cpus']} CPUs); load average "
        f"{machine['load_average_start']:.1f} at the start, "
        f"{machine['load_average_end']:.1f} at the end; {machine['seconds']:.0f} s"
    )
    if "summaries" in report:
        checker = report["summaries"]["checker"]
        print(
            f"generator: {machine['generator']} (torch threads {machine['torch_threads']}); "
            f"--limit {args.limit} --retries {args.retries}, target {args.words} words"
        )
        print(
            "\nReview summaries, ROUGE F1 x100 against the 3 human summaries (max / mean "
            "over references, averaged over products):\n"
        )
        print(rouge_table(report["summaries"]["rouge"]))
        print(
            f"\nchecker: {checker['model_attempts']} model attempts on {checker['items']} "
            f"products, {checker['attempts_rejected']:.0%} rejected "
            f"({checker['attempts_with_unsupported_claims']:.0%} for a claim not in the "
            f"reviews); by reason: "
            + json.dumps(
                {k: round(v, 3) for k, v in checker["attempts_rejected_by_reason"].items()}
            )
        )
        print(
            f"first attempts rejected: {checker['items_first_attempt_rejected']:.0%} of the "
            f"products ({checker['items_first_attempt_with_unsupported_claims']:.0%} for a "
            "claim not in the reviews)"
        )
        print(
            "kept:",
            json.dumps({k: round(v, 3) for k, v in checker["status_share"].items()}),
            f"; {checker['seconds_per_item']:.1f} s an item",
        )
        print("checker on human summaries:", json.dumps(checker["checker_on_human_summaries"]))
        print("checker on the lead baseline:", json.dumps(checker["checker_on_lead"]))
    recs = report["recommendations"]
    print(
        f"\nRecommendations: {recs['setup']['catalogue_products']} products, "
        f"{recs['setup']['queries']} queries ({recs['setup']['queries_with_a_filter_parsed']} "
        f"parsed with a price, attribute or noun filter by the recommender), embedder "
        f"{recs['setup']['embedder']}\n"
    )
    print(precision_table(recs["precision_at_5"]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
