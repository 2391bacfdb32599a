"""Where the confidence cut could lie: in-scope accuracy and out-of-scope recall at fixed cuts.

The answer engine's acceptance cut is chosen on the store's own calibration questions
(``bot.confidence``). This benchmark holds the fitted model fixed and sweeps the cut, printing
side by side what the store's own evidence says at each cut (right in-scope calibration
questions accepted; left-out-entry questions declined, the nearest thing to a question the
store has no entry for) and what the test queries get. It shows whether a target is out of
the model's reach or only of its cut. The test queries choose nothing here: the shipped cut
is marked, the others are a fixed grid.

    python bench/cut_curve.py ../shared/data [--set clinc|banking] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from answers import embedder_line, write_eval_files  # noqa: E402
from retrieval import load_banking, load_clinc  # noqa: E402

from connectors.config import load_config  # noqa: E402
from connectors.evaluate import build_eval_bot  # noqa: E402
from knowledge.evidence import calibration_set  # noqa: E402

GRID = (0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the shared data folder (clinc150/, banking77/)")
    parser.add_argument("--set", choices=("clinc", "banking"), default="clinc")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    entries, queries = (load_clinc if args.set == "clinc" else load_banking)(args.data)
    work = Path(tempfile.mkdtemp(prefix="cut-curve-"))
    faq, labelled = write_eval_files(entries, queries, work)
    bot = build_eval_bot(load_config(None), faq, work)
    print(embedder_line(bot))  # the backend and the CPU it was chosen on
    model, retriever, index = bot.confidence, bot.retriever, bot.retriever.index

    # the store's own calibration questions, as the shipped model was fitted on them
    x, y, right, _ = calibration_set(retriever)
    p_cal = np.asarray(model.probability(x))
    in_scope, right_top = y.astype(bool), right.astype(bool)

    p_test, test_right, oos = [], [], []
    for query in labelled:
        found = retriever.query(query.text, k=5)
        p_test.append(model.score(index, found.hits, found.tokens, found.coverage, found.vector))
        test_right.append(bool(found.hits) and found.hits[0].doc_id == f"faq:{query.expected}")
        oos.append(query.expected is None)
    p_t, ok, out = np.array(p_test), np.array(test_right), np.array(oos)

    rows = []
    for cut in sorted({*GRID, round(model.threshold, 3)}):
        rows.append(
            {
                "cut": cut,
                "shipped": cut == round(model.threshold, 3),
                "calibration_right_accepted": float((p_cal >= cut)[in_scope & right_top].mean()),
                "calibration_left_out_declined": float((p_cal < cut)[~in_scope].mean()),
                "test_in_scope_accuracy": float(((p_t >= cut) & ok)[~out].mean()),
                "test_oos_recall": float((p_t < cut)[out].mean()) if out.any() else None,
            }
        )
    print(f"\n{args.set}: retrieval top-1 on in-scope test queries {ok[~out].mean():.4f}")
    print(
        "| cut | calib.: right in-scope accepted | calib.: left-out-entry declined "
        "| test: in-scope acc. | test: OOS recall |"
    )
    print("|---|---|---|---|---|")
    for r in rows:
        mark = " (shipped)" if r["shipped"] else ""
        oos_recall = "n/a" if r["test_oos_recall"] is None else f"{r['test_oos_recall']:.3f}"
        print(
            f"| {r['cut']:.3f}{mark} | {r['calibration_right_accepted']:.3f} "
            f"| {r['calibration_left_out_declined']:.3f} | {r['test_in_scope_accuracy']:.3f} "
            f"| {oos_recall} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"set": args.set, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
