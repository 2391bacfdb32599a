"""Product copy benchmark: how often the configured chat model's copy passes the grounding
check, how often it is written again, trimmed or replaced by the product's own words, what
the checker catches, and how long an item takes.

Per task (description, ad and social on the bundled demo catalogue; review-summary on the
FewSum Amazon reviews in DATA_DIR/fewsum_amazon/test.csv when present), the first --limit
products go through the same code as ``shopbot write`` (CopyWriter + write_batch).

Two measurements of the checker itself need no model: its flags on text that is grounded by
construction (the demo store's own descriptions; FewSum's human summaries, abstractive but
written from the reviews) and its catch rate on one invented claim of each kind planted in
each demo product's first description sentence.

    python bench/product_copy.py [DATA_DIR] [--limit 10] [--length short] [--retries 2] [--json OUT]
"""

from __future__ import annotations

import os
import sys

# run as a script, this file's folder comes first on sys.path and its name hides the
# standard library's copy module (which dataclasses and argparse import): take it off
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse
import csv
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.commerce.copy import STATUSES, CopySettings, CopyWriter  # noqa: E402
from bot.commerce.copy_batch import write_batch  # noqa: E402
from bot.commerce.copy_check import CopyChecker, split_sentences  # noqa: E402
from bot.commerce.copy_items import CopyItem, items_for  # noqa: E402
from knowledge.loaders import load_catalog  # noqa: E402

DEMO = ROOT / "knowledge" / "demo_store" / "catalog.csv"
PLANTS = {
    "number": "It weighs just {weight} g.",
    "price": "Yours today for only ${price}.",
    "material": "The lining is pure cashmere.",
    "certification": "Every part is bluesign certified.",
    "name": "It is built with a Vibram sole.",
    "superlative": "It is our best-selling pick of the season.",
}


def fewsum_items(data: Path, workdir: Path) -> tuple[list[CopyItem], list[dict[str, str]]]:
    """FewSum's test products as a catalogue (ASIN, category) and their reviews."""
    with (data / "fewsum_amazon" / "test.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    catalogue = workdir / "fewsum.csv"
    with catalogue.open("w", encoding="utf-8", newline="") as handle:
        table = csv.writer(handle)
        table.writerow(["sku", "title", "category"])
        table.writerows([r["group_id"], f"Product {r['group_id']}", r["cat"]] for r in rows)
    reviews = {r["group_id"]: [r[f"rev{n}"] for n in range(1, 9)] for r in rows}
    items, _ = items_for(load_catalog(catalogue), reviews=reviews)
    return items, rows


def run_task(generator, task: str, items: list[CopyItem], args, workdir: Path) -> dict:
    settings = CopySettings(task, length=args.length, retries=args.retries)
    writer = CopyWriter(generator, settings)
    out = workdir / f"{task}.json"
    started = time.perf_counter()
    stats = write_batch(
        writer,
        items,
        out,
        manifest={"task": task},
        limit=args.limit,
        progress=lambda done, total, _: print(f"  {task}: {done}/{total}", file=sys.stderr),
    )
    seconds = time.perf_counter() - started
    written = json.loads(out.read_text(encoding="utf-8"))["items"]
    records = [{"id": key, **record} for key, record in written.items()]
    n = len(records)
    status = Counter(r["status"] for r in records)
    model_attempts = sum(r["attempts"] for r in records)
    kinds: Counter[str] = Counter()
    flagged = quality = 0
    for record in records:
        for rejected in record["rejected"]:
            reasons = [x for x in rejected["reasons"] if x["kind"] not in ("quality", "generator")]
            flagged += bool(reasons)
            quality += any(x["kind"] == "quality" for x in rejected["reasons"])
            kinds.update(x["kind"] for x in reasons)
    claims = sum(kinds.values())
    return {
        "task": task,
        "items": n,
        **{f"{s}_share": status.get(s, 0) / n for s in STATUSES},
        "model_attempts": model_attempts,
        "attempts_with_unsupported_claims": flagged / model_attempts if model_attempts else 0,
        "attempts_rejected_for_quality": quality / model_attempts if model_attempts else 0,
        "unsupported_claims_caught": claims,
        "unsupported_claims_per_attempt": claims / model_attempts if model_attempts else 0,
        "caught_by_kind": dict(kinds.most_common()),
        "seconds_per_item": seconds / max(stats.written, 1),
        # the first item of each status, to read beside the figures
        "examples": [
            {"id": r["id"], "status": r["status"], "text": r["text"], "rejected": r["rejected"]}
            for s in STATUSES
            for r in [next((r for r in records if r["status"] == s), None)]
            if r is not None
        ],
    }


def checker_on_grounded_text(demo: list[CopyItem], fewsum: list[tuple[CopyItem, list[str]]]):
    checker = CopyChecker(min_words=0)
    own = [checker.check(item.description, item.source) for item in demo if item.description]
    own_sentences = sum(len(r.sentences) for r in own)
    own_flags = sum(len({c.sentence for c in r.failures}) for r in own)
    out = {
        "store_descriptions": len(own),
        "store_sentences_flagged": own_flags / own_sentences if own_sentences else 0,
    }
    if fewsum:
        reports = [checker.check(s, item.source) for item, sums in fewsum for s in sums]
        kinds = Counter(c.kind for r in reports for c in r.failures)
        out["human_summaries"] = len(reports)
        out["human_summaries_flagged"] = sum(not r.passed for r in reports) / len(reports)
        out["human_summary_flags_by_kind"] = dict(kinds.most_common())
    return out


def planted(demo: list[CopyItem]) -> dict[str, float]:
    """One invented claim of each kind after each product's first description sentence."""
    checker = CopyChecker(min_words=0)
    caught: Counter[str] = Counter()
    tried: Counter[str] = Counter()
    for item in demo:
        first = (split_sentences(item.description) or [item.title])[0]
        numbers = {n.value for n in item.source.numbers}
        weight = next(w for w in range(137, 10_000, 37) if w not in numbers)
        prices = item.source.price_values
        price = next(p for p in range(11, 10_000, 10) if float(p) not in prices)
        for kind, plant in PLANTS.items():
            text = plant.format(weight=weight, price=price)
            if kind != "number" and kind != "price" and item.source.has_phrase(text.split()[-2]):
                continue  # the product really has it
            if checker.check(first, item.source).failures:
                continue  # only plants in clean text are counted
            tried[kind] += 1
            report = checker.check(f"{first} {text}", item.source)
            caught[kind] += any(c.sentence == 1 for c in report.failures)
    return {k: caught[k] / tried[k] for k in PLANTS if tried[k]} | {"planted": sum(tried.values())}


def describe_machine(generator) -> dict[str, object]:
    from knowledge.embedders.cpu import cpu_info

    info: dict[str, object] = {
        "model": generator.name,
        "cpu": cpu_info().describe(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return info


def table(results: list[dict]) -> str:
    head = (
        "| task | items | passed first time | regenerated | trimmed | fallback | attempts with "
        "unsupported claims | claims caught / attempt | s / item |\n" + "|---" * 9 + "|"
    )
    rows = [
        f"| {r['task']} | {r['items']} | {r['passed_share']:.0%} | {r['regenerated_share']:.0%} "
        f"| {r['trimmed_share']:.0%} | {r['fallback_share']:.0%} | "
        f"{r['attempts_with_unsupported_claims']:.0%} | {r['unsupported_claims_per_attempt']:.2f} "
        f"| {r['seconds_per_item']:.1f} |"
        for r in results
    ]
    return "\n".join([head, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=10, help="products per task")
    parser.add_argument("--length", default="short")
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--tasks", default="description,ad,social,review-summary")
    parser.add_argument("--backend", default=None, help="generator backend (default: config)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    torch.manual_seed(0)  # the retries sample
    from connectors.cli import _copy_generator
    from connectors.config import load_config

    config = load_config(ROOT / "config.yaml")
    if args.backend:
        config.bot.generator.backend = args.backend
    generator = _copy_generator(config)
    demo = items_for(load_catalog(DEMO))[0]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        fewsum: list[CopyItem] = []
        rows: list[dict[str, str]] = []
        if (args.data / "fewsum_amazon" / "test.csv").exists():
            fewsum, rows = fewsum_items(args.data, workdir)
        machine = describe_machine(generator)
        results = []
        for task in args.tasks.split(","):
            items = fewsum if task == "review-summary" else demo
            if not items:
                print(f"no reviews for {task}: pass the shared data folder", file=sys.stderr)
                continue
            results.append(run_task(generator, task, items, args, workdir))
    summaries = {r["group_id"]: [r["summ1"], r["summ2"], r["summ3"]] for r in rows}
    checker = checker_on_grounded_text(demo, [(i, summaries[i.id]) for i in fewsum])
    plants = planted(demo)
    machine["load_average_end"] = os.getloadavg()[0]
    report = {"machine": machine, "args": {k: str(v) for k, v in vars(args).items()}}
    report |= {"tasks": results, "checker_on_grounded_text": checker, "planted_caught": plants}
    print(
        f"model: {machine['model']} on {machine['cpu']}; {machine['cpus']} CPUs, torch "
        f"threads {machine.get('torch_threads')}, load average {machine['load_average']:.1f} "
        f"at the start, {machine['load_average_end']:.1f} at the end"
    )
    print(f"--length {args.length} --retries {args.retries} --limit {args.limit}\n")
    print(table(results))
    print("\ncaught by kind:", {r["task"]: r["caught_by_kind"] for r in results})
    print("checker on grounded text:", json.dumps(checker))
    print("planted claims caught:", json.dumps({k: round(v, 3) for k, v in plants.items()}))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
