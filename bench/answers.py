"""Answer benchmark: the ``shopbot eval`` metrics on CLINC150 and Banking77, latency of the
FAQ path and of the generated path, and the generator's speed.

Each intent is one FAQ entry (its training utterances are the question variants, its name
the answer); the test utterances are the queries, CLINC150's ``oos_test`` the out-of-scope
ones. Each set goes through exactly what ``shopbot eval`` does: a temporary knowledge base
from the FAQ file, calibrated on that file alone, then every query answered in a session of
its own. Side by side: the same bot with the naive policy the issue warns about, one top-1
similarity threshold calibrated the same way (leave-one-out over the FAQ), and a plain
MiniLM 1-NN (the nearest question variant by cosine) whose threshold is picked *on the test
queries*: an upper bound for any bot deciding by one similarity threshold.

Each set comes in two forms: the full one (every training utterance a variant) and the
one-question-per-entry one (the first training utterance per intent only, the rest unused),
which is what most real FAQ pages look like. Retrieval top-1 (is the right entry first,
answered or not) is reported beside in-scope accuracy: the gap is what the policy loses.

    python bench/answers.py [DATA_DIR] [--json OUT] [--skip-generation] [--sets a,b]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from retrieval import load_banking, load_clinc  # noqa: E402

from bot.confidence import ConfidenceModel, best_threshold  # noqa: E402
from bot.engine import Bot  # noqa: E402
from bot.sessions import MemorySessionStore  # noqa: E402
from bot.types import IncomingMessage  # noqa: E402
from connectors.config import ShopbotConfig  # noqa: E402
from connectors.evaluate import Query, build_eval_bot, evaluate  # noqa: E402
from knowledge.evidence import FEATURES, calibration_set  # noqa: E402

# Demo-store questions answered only by its policy pages (the generated path).
POLICY_QUESTIONS = [
    "do you ship to PO boxes",
    "which courier do you use for Canada",
    "what time do orders need to be placed to ship the same day",
    "how do I make a warranty claim",
    "do you repair zippers",
    "can I return hiking boots I wore on a trail",
    "do you ship to APO addresses",
    "how much does a return label cost",
]


def write_eval_files(entries, queries, folder: Path) -> tuple[Path, list[Query]]:
    faq = folder / "faq.csv"
    with open(faq, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "question", "answer"])
        for intent, variants in entries.items():
            for n, variant in enumerate(dict.fromkeys(variants)):
                writer.writerow([intent, variant, intent.replace("_", " ") if n == 0 else ""])
    return faq, [Query(text, intent, 0) for text, intent in queries]


def single_threshold_bot(bot: Bot) -> tuple[Bot, float]:
    """The same bot whose policy is one top-1 cosine threshold, chosen by MCC on the same
    leave-one-out questions the real confidence model is fitted on."""
    x, y, _, _ = calibration_set(bot.retriever)
    dense = x[:, FEATURES.index("dense")]
    cut, _ = best_threshold(dense, y)
    weights = np.zeros(len(FEATURES))
    weights[FEATURES.index("dense")] = 1000.0
    model = ConfidenceModel(
        weights=weights,
        bias=-1000.0 * cut,
        mean=np.zeros(len(FEATURES)),
        scale=np.ones(len(FEATURES)),
        threshold=0.5,
        high=0.5,  # no stricter bar for unknown words
        low=0.5,  # no clarifying band
        method="single threshold",
    )
    naive = Bot(bot.kb, sessions=MemorySessionStore(), config=bot.config, generator=bot._generator)
    naive.confidence = model
    naive.policy.model = model
    naive.policy.unknown_terms = lambda text: []  # type: ignore[method-assign]
    return naive, cut


def one_question(entries: dict[str, list[str]]) -> dict[str, list[str]]:
    """The first training utterance per intent as the entry's only question."""
    return {intent: variants[:1] for intent, variants in entries.items()}


def retrieval_top1(bot: Bot, labelled: list[Query]) -> float:
    """Share of in-scope queries whose first retrieved entry is the right one."""
    scope = [q for q in labelled if q.expected is not None]
    right = 0
    for q in scope:
        hits = bot.retriever.retrieve(q.text, k=1)
        right += bool(hits) and hits[0].doc_id == f"faq:{q.expected}"
    return right / len(scope) if scope else float("nan")


def nearest_neighbour_oracle(bot: Bot, entries, labelled: list[Query]) -> dict:
    """Plain 1-NN over the question variants (same embedder, no BM25, no policy), answering
    when its cosine clears the threshold that is best *on these queries*."""
    intents = [intent for intent, variants in entries.items() for _ in dict.fromkeys(variants)]
    texts = [v for variants in entries.values() for v in dict.fromkeys(variants)]
    embedder = bot.kb.embedder
    keys = embedder.embed_documents(texts)
    queries = embedder.embed_documents([q.text for q in labelled])
    sims = queries @ keys.T
    best = sims.argmax(axis=1)
    top = sims[np.arange(len(labelled)), best]
    expected = [q.expected for q in labelled]
    right = np.array([intents[b] == e for b, e in zip(best, expected, strict=True)])
    oos = np.array([e is None for e in expected])
    scores = []
    for cut in np.unique(np.round(top, 3)):
        accept = top >= cut
        correct = np.where(oos, ~accept, accept & right)
        scores.append((float(correct.mean()), float(cut)))
    accuracy, cut = max(scores)
    accept = top >= cut
    return {
        "accuracy": accuracy,
        "in_scope_accuracy": float((accept & right)[~oos].mean()),
        "oos_recall": float((~accept)[oos].mean()) if oos.any() else None,
        "cut": cut,
        "top1": float(right[~oos].mean()),
    }


def run_set(name: str, entries, queries, config: ShopbotConfig, workdir: Path) -> dict:
    folder = workdir / name
    folder.mkdir()
    faq, labelled = write_eval_files(entries, queries, folder)
    print(f"\n{name}: {len(entries)} entries, {len(labelled)} queries", flush=True)
    started = time.perf_counter()
    bot = build_eval_bot(config, faq, folder)
    build_s = time.perf_counter() - started
    model = bot.confidence
    print(
        f"  indexed and calibrated in {build_s:.1f}s ({embedder_line(bot)}): threshold "
        f"{model.threshold:.3f}, high {model.high:.3f}, low {model.low:.3f}, method "
        f"{model.method} ({model.stats})",
        flush=True,
    )
    results = {"shopbot (calibrated multi-evidence confidence)": evaluate(bot, labelled)}
    naive, cut = single_threshold_bot(bot)
    print(f"  single-threshold baseline: top-1 cosine >= {cut:.3f}", flush=True)
    results["baseline: one top-1 similarity threshold"] = evaluate(naive, labelled)
    top1 = retrieval_top1(bot, labelled)
    oracle = nearest_neighbour_oracle(bot, entries, labelled)
    print_table(name, results)
    print(
        f"  retrieval top-1 (in scope): shopbot {top1:.4f}; plain 1-NN {oracle['top1']:.4f}\n"
        f"  plain MiniLM 1-NN, threshold picked on the test queries (>= {oracle['cut']:.3f}): "
        f"accuracy {oracle['accuracy']:.4f}, in-scope {oracle['in_scope_accuracy']:.4f}, "
        f"OOS recall {fmt(oracle['oos_recall'])}",
        flush=True,
    )
    return {
        "build_s": build_s,
        "threshold": model.to_json(),
        "single_cut": cut,
        "retrieval_top1": top1,
        "nn_oracle": oracle,
    } | results


def embedder_line(bot: Bot) -> str:
    from knowledge.embedders import describe_embedder

    return describe_embedder(bot.kb.embedder)


def fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def print_table(name: str, results: dict) -> None:
    print(
        f"\n| {name} | accuracy | in-scope acc. | OOS recall | OOS precision | MCC "
        "| p50 ms | p95 ms | FAQ-path p50 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for system, r in results.items():
        faq_path = r["per_action"].get("answer_faq", {}).get("latency_ms_p50")
        print(
            f"| {system} | {fmt(r['accuracy'])} | {fmt(r['in_scope_accuracy'])} | "
            f"{fmt(r['oos_recall'])} | {fmt(r['oos_precision'])} | {fmt(r['mcc'])} | "
            f"{r['latency_ms_p50']:.2f} | {r['latency_ms_p95']:.2f} | {fmt(faq_path)} |"
        )
    for system, r in results.items():
        print(f"  {system}: actions {r['actions']}")


def generated_path(config: ShopbotConfig) -> dict:
    """The demo store's policy questions through the real local model."""
    from connectors.app import build_bot

    bot = build_bot(config, sessions=MemorySessionStore())
    started = time.perf_counter()
    bot.generator  # noqa: B018 - load it outside the timings
    load_s = time.perf_counter() - started
    rows = []
    for n, question in enumerate(POLICY_QUESTIONS):
        t0 = time.perf_counter()
        first = None
        for event in bot.stream(IncomingMessage(question, session_id=f"gen-{n}")):
            if isinstance(event, str) and first is None and event.strip():
                first = time.perf_counter() - t0
        reply = event
        total = time.perf_counter() - t0
        rows.append(
            {
                "question": question,
                "action": reply.action,
                "citations": [c.doc_id for c in reply.citations],
                "first_token_ms": (first or total) * 1000,
                "total_ms": total * 1000,
                "completion_tokens": reply.meta.get("completion_tokens"),
                "generation_s": reply.meta.get("generation_s"),
                "text": reply.text,
            }
        )
    generated = [r for r in rows if r["action"] == "generate"]
    print(f"\nGenerated path (demo store, {bot.generator.name}, load {load_s:.1f}s):")
    for r in rows:
        print(f"  {r['question']!r}: {r['action']} {r['citations']} {r['total_ms']:.0f} ms")
    from bot.generators import make_generator

    started = time.perf_counter()
    again = make_generator(bot.config.generator)  # from the converted copy just written
    reload_s = time.perf_counter() - started
    print(f"  load again ({getattr(again, 'loaded_from', '?')}): {reload_s:.2f}s")
    del again
    summary = {"load_s": load_s, "reload_s": reload_s, "rows": rows}
    if generated:
        ttft = [r["first_token_ms"] for r in generated]
        total = [r["total_ms"] for r in generated]
        # tokens/s from answers the model finished (a cut answer stops the model early)
        speed = [
            r["completion_tokens"] / r["generation_s"]
            for r in generated
            if r["completion_tokens"] and r["generation_s"]
        ]
        summary |= {
            "n": len(generated),
            "first_token_ms_p50": float(np.percentile(ttft, 50)),
            "first_token_ms_p95": float(np.percentile(ttft, 95)),
            "total_ms_p50": float(np.percentile(total, 50)),
            "total_ms_p95": float(np.percentile(total, 95)),
            "tokens_per_s": statistics.median(speed) if speed else None,
        }
        print(
            f"  {len(generated)} generated: first token p50 {summary['first_token_ms_p50']:.0f} ms "
            f"/ p95 {summary['first_token_ms_p95']:.0f} ms; total p50 "
            f"{summary['total_ms_p50']:.0f} / p95 {summary['total_ms_p95']:.0f} ms; "
            f"{summary['tokens_per_s'] or 0:.1f} tokens/s ({len(speed)} finished answers)"
        )
    for r in rows:
        print(f"  {r['question']!r} -> {r['text'][:160]!r}")
    # the generator's own speed, on a prompt the size of a typical answer prompt
    from bot.prompts import PromptBuilder

    hits = bot.retriever.retrieve("how do I make a warranty claim", k=4)
    prompt = PromptBuilder(bot.generator, store_name="Kestrel Ridge").build(
        "how do I make a warranty claim", hits
    )
    speeds = []
    for _ in range(3):
        bot.generator.generate(prompt.messages, max_new_tokens=128)
        stats = bot.generator.last_stats
        speeds.append(stats.completion_tokens / stats.total_s)
    summary["generator"] = {
        "prompt_tokens": prompt.prompt_tokens,
        "max_new_tokens": 128,
        "first_token_s": stats.first_token_s,
        "tokens_per_s_median": statistics.median(speeds),
    }
    print(
        f"  generator alone: prompt {prompt.prompt_tokens} tokens, first token "
        f"{stats.first_token_s * 1000:.0f} ms, {statistics.median(speeds):.1f} tokens/s "
        "(median of 3, 128 new tokens, including the prompt pass)"
    )

    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--json", dest="json_out")
    parser.add_argument("--skip-generation", action="store_true")
    parser.add_argument("--only-generation", action="store_true")
    parser.add_argument(
        "--sets",
        default="clinc150,clinc150-1q,banking77,banking77-1q",
        help="comma-separated: clinc150, clinc150-1q, banking77, banking77-1q",
    )
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "clinc150").is_dir():
        sys.exit(f"no CLINC150 under {data}: pass the shared data folder as the first argument")
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        config = ShopbotConfig(base_dir=workdir)
        config.knowledge.index_dir = str(workdir / "demo-index")
        config.embedder.cache_dir = str(workdir / "models")
        if not args.only_generation:
            wanted = args.sets.split(",")
            for key, label, load in (
                ("clinc150", "CLINC150", load_clinc),
                ("banking77", "Banking77", load_banking),
            ):
                if key not in wanted and f"{key}-1q" not in wanted:
                    continue
                entries, queries = load(data)
                if key in wanted:
                    report[key] = run_set(label, entries, queries, config, workdir)
                if f"{key}-1q" in wanted:
                    report[f"{key}-1q"] = run_set(
                        f"{label}, one question per entry",
                        one_question(entries),
                        queries,
                        config,
                        workdir,
                    )
        if not args.skip_generation:
            report["generated"] = generated_path(config)
    if args.json_out:
        out = Path(args.json_out)
        if args.only_generation and out.exists():  # keep the eval figures of the last run
            report = json.loads(out.read_text(encoding="utf-8")) | report
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
