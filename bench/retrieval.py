"""Retrieval benchmark: shopbot's hybrid retriever vs BM25 alone vs LangChain's FAISS store.

Each intent of CLINC150 and Banking77 becomes one FAQ entry whose question variants are its
training utterances; the test utterances are the queries. A query is answered correctly when
the retrieved entry is its intent. Nothing is tuned on these sets: every system runs with
shopbot's defaults (50 candidates per side; the lexical weight of score fusion calibrated by
leave-one-out over the FAQ variants themselves, never the queries), and all systems index
exactly the same texts: the variants (the sets have no answers to index).

    python bench/retrieval.py [DATA_DIR] [--backend auto|onnx-int8|sentence-transformers]

DATA_DIR defaults to ../shared/data. Prints a table per dataset and the embedders'
throughput; ``--json OUT`` also writes the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.config import EmbedderConfig, RetrievalConfig  # noqa: E402
from knowledge.documents import Document  # noqa: E402
from knowledge.embedders import Embedder, describe_embedder, make_embedder  # noqa: E402
from knowledge.index import KnowledgeIndex, build_bm25  # noqa: E402
from knowledge.retriever import HybridRetriever  # noqa: E402
from knowledge.text import tokenize  # noqa: E402

Query = tuple[str, str | None]  # (text, expected intent or None for out-of-scope)


# ---------------------------------------------------------------------------- datasets
def load_clinc(data: Path) -> tuple[dict[str, list[str]], list[Query]]:
    raw = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    entries: dict[str, list[str]] = {}
    for text, intent in raw["train"]:
        entries.setdefault(intent, []).append(text)
    queries: list[Query] = [(t, i) for t, i in raw["test"]]
    queries += [(t, None) for t, _ in raw["oos_test"]]
    return entries, queries


def load_banking(data: Path) -> tuple[dict[str, list[str]], list[Query]]:
    def rows(name: str) -> list[tuple[str, str]]:
        with open(data / "banking77" / name, encoding="utf-8", newline="") as fh:
            return [(r["text"], r["category"]) for r in csv.DictReader(fh)]

    entries: dict[str, list[str]] = {}
    for text, intent in rows("train.csv"):
        entries.setdefault(intent, []).append(text)
    return entries, [(t, i) for t, i in rows("test.csv")]


def as_documents(entries: dict[str, list[str]]) -> list[Document]:
    return [
        Document(
            f"faq:{intent}",
            intent.replace("_", " "),
            {"kind": "faq", "title": intent, "questions": list(dict.fromkeys(variants))},
        )
        for intent, variants in entries.items()
    ]


# ---------------------------------------------------------------------------- metrics
def evaluate(search: Callable[[str], list[str]], queries: list[Query]) -> dict[str, float]:
    """top-1 / top-5 / MRR@10 on in-scope queries; latency over every query (ms)."""
    latencies, top1, top5, rr = [], 0, 0, 0.0
    n_in = 0
    for text, expected in queries:
        start = time.perf_counter()
        ranked = search(text)
        latencies.append((time.perf_counter() - start) * 1000)
        if expected is None:
            continue
        n_in += 1
        expected_id = f"faq:{expected}"
        if ranked[:1] == [expected_id]:
            top1 += 1
        if expected_id in ranked[:5]:
            top5 += 1
        if expected_id in ranked[:10]:
            rr += 1.0 / (ranked.index(expected_id) + 1)
    return {
        "top1": top1 / n_in,
        "top5": top5 / n_in,
        "mrr": rr / n_in,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p95_ms": float(np.percentile(latencies, 95)),
        "queries": len(queries),
        "in_scope": n_in,
    }


def dedupe(ids: list[str], k: int = 10) -> list[str]:
    return list(dict.fromkeys(ids))[:k]


# ---------------------------------------------------------------------------- systems
def run_dataset(name: str, entries, queries, embedder: Embedder, workdir: Path) -> dict:
    docs = as_documents(entries)
    n_variants = sum(len(d.metadata["questions"]) for d in docs)
    print(
        f"\n{name}: {len(docs)} entries, {n_variants} variants, {len(queries)} queries", flush=True
    )
    results: dict[str, dict] = {}

    start = time.perf_counter()
    index, _ = KnowledgeIndex.update(
        workdir / name, docs, embedder, faq_answer_as_key=False, rebuild=True
    )
    hybrid_build = time.perf_counter() - start
    config = RetrievalConfig()

    fusion = index.manifest["extras"]["fusion"]
    print(
        f"calibrated lexical weight {fusion['lexical_weight']}, centroid share "
        f"{fusion.get('centroid_weight', 0)} ({fusion['method']} over {fusion['samples']} "
        "FAQ variants)",
        flush=True,
    )
    hybrid = HybridRetriever(index, embedder, config=config)
    results["shopbot hybrid (default: calibrated score fusion)"] = evaluate(
        lambda q: [h.doc_id for h in hybrid.retrieve(q, k=10)], queries
    ) | {"build_s": hybrid_build}

    rrf = HybridRetriever(index, embedder, config=RetrievalConfig(fusion="rrf"))
    results["shopbot hybrid, plain RRF (k=60)"] = evaluate(
        lambda q: [h.doc_id for h in rrf.retrieve(q, k=10)], queries
    ) | {"build_s": hybrid_build}

    dense = HybridRetriever(index, embedder, config=config, mode="dense")
    results["shopbot dense only"] = evaluate(
        lambda q: [h.doc_id for h in dense.retrieve(q, k=10)], queries
    ) | {"build_s": hybrid_build}

    start = time.perf_counter()
    tokens = [tokenize(text) for text in index.key_text]
    build_bm25(tokens)
    bm25_build = time.perf_counter() - start
    lexical = HybridRetriever(index, embedder, config=config, mode="lexical")
    results["BM25 alone (bm25s)"] = evaluate(
        lambda q: [h.doc_id for h in lexical.retrieve(q, k=10)], queries
    ) | {"build_s": bm25_build}

    results["LangChain FAISS (same embeddings)"] = run_langchain(docs, queries, embedder)
    print_table(name, results)
    return results


def run_langchain(docs: list[Document], queries: list[Query], embedder: Embedder) -> dict:
    from langchain_community.vectorstores import FAISS

    from knowledge.langchain_adapter import ShopbotEmbeddings

    texts, metas = [], []
    for doc in docs:
        for question in doc.metadata["questions"]:
            texts.append(question)
            metas.append({"doc_id": doc.id})
    start = time.perf_counter()
    store = FAISS.from_texts(texts, ShopbotEmbeddings(embedder), metadatas=metas)
    build = time.perf_counter() - start

    def search(q: str) -> list[str]:
        # variants of one entry crowd the top; ask for enough to rank 10 distinct entries
        return dedupe([d.metadata["doc_id"] for d in store.similarity_search(q, k=50)])

    return evaluate(search, queries) | {"build_s": build}


def print_table(name: str, results: dict[str, dict]) -> None:
    print(f"\n| {name} | top-1 | top-5 | MRR@10 | build s | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for system, r in results.items():
        print(
            f"| {system} | {r['top1']:.4f} | {r['top5']:.4f} | {r['mrr']:.4f} | "
            f"{r['build_s']:.1f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} |"
        )


# ---------------------------------------------------------------------------- embedders
def throughput(backend: str, sentences: list[str], cache_dir: Path) -> dict[str, float]:
    """Batch rate and one-query latency of one backend (run alone in its own process:
    torch and onnxruntime thread pools in one process slow each other down)."""
    embedder = make_embedder(EmbedderConfig(backend=backend), cache_dir=cache_dir)
    embedder.embed_documents(sentences[:64])  # warm up
    start = time.perf_counter()
    embedder.embed_documents(sentences, batch_size=64)
    rate = len(sentences) / (time.perf_counter() - start)
    single = []
    for text in sentences[:300]:
        t0 = time.perf_counter()
        embedder.embed_query(text)
        single.append((time.perf_counter() - t0) * 1000)
    return {"sentences_per_s": rate, "query_ms_p50": statistics.median(single)}


def embedder_throughput(data: Path, cache_dir: Path) -> dict[str, dict]:
    out = {}
    for backend in ("onnx-int8", "sentence-transformers"):
        cmd = [
            sys.executable,
            __file__,
            str(data),
            "--throughput",
            backend,
            "--cache",
            str(cache_dir),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out[backend] = json.loads(result.stdout.strip().splitlines()[-1])
    print("\n| embedder backend | sentences/s (batch 64) | one query p50 ms |")
    print("|---|---|---|")
    for backend, r in out.items():
        print(f"| {backend} | {r['sentences_per_s']:.0f} | {r['query_ms_p50']:.2f} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--backend", default="auto", help="embedder backend for the retrievers")
    parser.add_argument("--json", dest="json_out", help="also write the figures here")
    parser.add_argument("--throughput", help=argparse.SUPPRESS)  # internal: one backend
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "clinc150").is_dir():
        sys.exit(f"no CLINC150 under {data}: pass the shared data folder as the first argument")
    if args.throughput:
        sentences = [text for text, _ in load_clinc(data)[1][:2000]]
        print(json.dumps(throughput(args.throughput, sentences, Path(args.cache))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        embedder = make_embedder(EmbedderConfig(backend=args.backend), cache_dir=workdir / "models")
        print(f"embedder: {describe_embedder(embedder)}; {os.cpu_count()} CPUs")
        report: dict = {"embedder": {"model": embedder.model_id, "backend": embedder.backend}}
        clinc = load_clinc(data)
        report["clinc150"] = run_dataset("CLINC150", *clinc, embedder, workdir)
        report["banking77"] = run_dataset("Banking77", *load_banking(data), embedder, workdir)
        del embedder
        report["embedders"] = embedder_throughput(data, workdir / "models")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
