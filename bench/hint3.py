"""HINT3 benchmark: ``shopbot eval`` on three real companies' FAQ bots, side by side with the
commercial NLU platforms' figures published with the data set.

HINT3 (Arora et al. 2020, Haptik; https://github.com/hellohaptik/HINT3, ODbL / DbCL):
SOFMattress (a mattress store), Curekart (a health-products store) and Powerplay11 (a
fantasy-sports app); each a training file of labelled questions (``sentence,label``) and a
test file whose out-of-scope questions are labelled ``NO_NODES_DETECTED``. The data set is
not in this repository: pass the folder holding ``{name}_train.csv`` and ``{name}_test.csv``.

Each training file becomes an FAQ file (a label is an entry, its sentences the variants);
the test file the queries. Exactly what ``shopbot eval`` does: calibrated on the FAQ file
alone, nothing tuned on the test queries. The platforms' figures are from the authors'
``results/{platform}_{dataset}.csv`` (accuracy over all queries, in-scope accuracy, OOS
recall, and MCC over all labels with out-of-scope one of them, which is what the shopbot row
reports too), at their default threshold 0.1, and at the threshold that maximised MCC *on
the test set itself* (an oracle choice no deployed bot can make; shown as an upper bound).

    python bench/hint3.py HINT3_DIR [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.config import load_config  # noqa: E402
from connectors.evaluate import Query, build_eval_bot, evaluate  # noqa: E402

DATASETS = ("sofmattress", "curekart", "powerplay11")
OOS_LABEL = "NO_NODES_DETECTED"

# (accuracy, in-scope accuracy, OOS recall, MCC) from hellohaptik/HINT3 results/*.csv
PUBLISHED_T01 = {
    "sofmattress": {
        "Dialogflow": (0.6499, 0.7316, 0.5361, 0.6089),
        "Rasa": (0.4030, 0.6926, 0.0000, 0.4295),
        "LUIS": (0.6599, 0.5931, 0.7530, 0.5807),
        "Haptik": (0.5088, 0.7229, 0.2108, 0.5086),
        "BERT": (0.4282, 0.7359, 0.0000, 0.4571),
    },
    "curekart": {
        "Dialogflow": (0.6418, 0.7500, 0.5510, 0.5476),
        "Rasa": (0.3835, 0.8407, 0.0000, 0.3965),
        "LUIS": (0.4521, 0.7257, 0.2226, 0.4005),
        "Haptik": (0.4309, 0.8031, 0.1187, 0.4129),
        "BERT": (0.3814, 0.8363, 0.0000, 0.3914),
    },
    "powerplay11": {
        "Dialogflow": (0.3499, 0.5964, 0.2542, 0.3027),
        "Rasa": (0.1373, 0.4909, 0.0000, 0.1889),
        "LUIS": (0.5331, 0.4800, 0.5537, 0.3353),
        "Haptik": (0.2635, 0.6655, 0.1073, 0.2861),
        "BERT": (0.1658, 0.5855, 0.0028, 0.2266),
    },
}
# best MCC over thresholds 0.1..0.9 chosen on the test set: (threshold, in-scope, recall, MCC)
PUBLISHED_ORACLE = {
    "sofmattress": {
        "Dialogflow": (0.4, 0.7186, 0.6446, 0.6375),
        "Rasa": (0.9, 0.4805, 0.8554, 0.5258),
        "LUIS": (0.1, 0.5931, 0.7530, 0.5807),
        "Haptik": (0.3, 0.6537, 0.6687, 0.5876),
        "BERT": (0.9, 0.6364, 0.7651, 0.6168),
    },
    "curekart": {
        "Dialogflow": (0.6, 0.5730, 0.8646, 0.5783),
        "Rasa": (0.9, 0.7389, 0.5584, 0.5108),
        "LUIS": (0.6, 0.5088, 0.8794, 0.5386),
        "Haptik": (0.6, 0.6040, 0.8683, 0.6027),
        "BERT": (0.9, 0.8031, 0.5232, 0.5532),
    },
    "powerplay11": {
        "Dialogflow": (0.6, 0.4764, 0.6766, 0.3526),
        "Rasa": (0.8, 0.3164, 0.8729, 0.3400),
        "LUIS": (0.2, 0.4145, 0.7288, 0.3589),
        "Haptik": (0.3, 0.6145, 0.6172, 0.4247),
        "BERT": (0.9, 0.4364, 0.7542, 0.3473),
    },
}


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            {k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)
        ]


def write_faq(train: Path, out: Path) -> Path:
    """``id,question,answer``: one row per training sentence (columns read by name)."""
    rows = read_rows(train)
    seen: set[str] = set()
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "question", "answer"])
        for row in rows:
            label = row["label"]
            answer = row.get("answer") or label.replace("_", " ")
            writer.writerow([label, row["sentence"], answer if label not in seen else ""])
            seen.add(label)
    return out


def queries(test: Path) -> list[Query]:
    return [
        Query(row["sentence"], None if row["label"] == OOS_LABEL else row["label"], n)
        for n, row in enumerate(read_rows(test), start=2)
    ]


def multiclass_mcc(records: list[dict]) -> float:
    """Matthews correlation over all labels, out-of-scope one of them (as HINT3 computes it
    with scikit-learn's ``matthews_corrcoef``)."""
    from collections import Counter

    truth = [r["expected"] or OOS_LABEL for r in records]
    predicted = [r["predicted"] or OOS_LABEL for r in records]
    t, p = Counter(truth), Counter(predicted)
    s = len(records)
    c = sum(a == b for a, b in zip(truth, predicted, strict=True))
    covariance = c * s - sum(p[k] * t[k] for k in set(t) | set(p))
    denominator = (
        (s * s - sum(v * v for v in p.values())) * (s * s - sum(v * v for v in t.values()))
    ) ** 0.5
    return covariance / denominator if denominator else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="folder with the HINT3 train and test CSVs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    config = load_config(ROOT / "config.yaml")
    results = {}
    for name in DATASETS:
        with tempfile.TemporaryDirectory() as tmp:
            faq = write_faq(args.data / f"{name}_train.csv", Path(tmp) / "faq.csv")
            bot = build_eval_bot(config, faq, Path(tmp) / "work")
            labelled = queries(args.data / f"{name}_test.csv")
            records: list[dict] = []
            result = evaluate(bot, labelled, results=records)
            in_scope = [q for q in labelled if q.expected is not None]
            top1 = sum(
                (hits := bot.retriever.retrieve(q.text, k=1)) != []
                and hits[0].doc_id == f"faq:{q.expected}"
                for q in in_scope
            )
            result["retrieval_top1_in_scope"] = top1 / len(in_scope)
        result["mcc_multiclass"] = multiclass_mcc(records)
        results[name] = result
        print(
            f"\n{name}: {len(labelled)} queries ({result['n_out_of_scope']} out of scope); "
            f"retrieval top-1 on the in-scope ones {result['retrieval_top1_in_scope']:.4f}"
        )
        print(f"{'system':<34} {'accuracy':>8} {'in-scope':>8} {'OOS rec':>8} {'MCC':>7}")
        print(
            f"{'shopbot (calibrated on the FAQ)':<34} {result['accuracy']:>8.4f} "
            f"{result['in_scope_accuracy']:>8.4f} {result['oos_recall']:>8.4f} "
            f"{result['mcc_multiclass']:>7.4f}"
        )
        for platform, (acc, ins, rec, mcc) in PUBLISHED_T01[name].items():
            label = f"{platform} (published, t=0.1)"
            print(f"{label:<34} {acc:>8.4f} {ins:>8.4f} {rec:>8.4f} {mcc:>7.4f}")
        for platform, (t, ins, rec, mcc) in PUBLISHED_ORACLE[name].items():
            label = f"{platform} (oracle t={t})"
            print(f"{label:<34} {'':>8} {ins:>8.4f} {rec:>8.4f} {mcc:>7.4f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
