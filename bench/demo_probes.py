"""What the answer policy does with a fixed set of questions to the demo store.

A development check, not a benchmark of accuracy: the questions were written for shopbot's
demo store (English and Chinese; in scope, in the clarifying band, and out of scope) to see
what a store owner would see after a change to the confidence or the policy. Each line
shows the action, the confidence, what the question was written to get, and the top hit; the
Chinese sets end with counts (rewordings answered with the right entry, out-of-scope
questions not answered). No cut or weight is taken from these questions.

    python bench/demo_probes.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.confidence import calibrate_confidence  # noqa: E402
from bot.policy import Policy  # noqa: E402
from connectors.app import build_knowledge  # noqa: E402
from connectors.config import load_config  # noqa: E402
from knowledge.embedders import describe_embedder  # noqa: E402

#: (question, what it was written to get: answer / clarify / decline / ? for either)
ENGLISH = [
    ("can I return shoes I already wore outside?", "answer"),
    ("do you ship to PO boxes", "answer"),
    ("How long does delivery take?", "answer"),
    ("my aunt bought me a jacket, can I exchange it for a bigger size", "answer"),
    ("how do I make a warranty claim", "answer"),
    ("is my data sold to advertisers", "answer"),
    ("my boots leak, is that covered", "answer"),
    ("how much does a return label cost", "?"),
    ("which courier do you use for Canada", "?"),
    ("can I wash my down jacket", "?"),
    ("do you price match", "?"),
    ("do you offer student discounts", "?"),
    ("can I pay in installments with klarna", "?"),
    ("jacket", "clarify"),
    ("how much", "clarify"),
    ("do you sell sandals", "?"),
    ("what's the weather in Paris", "decline"),
    ("can I pay with bitcoin", "decline"),
    ("what is the capital of France", "decline"),
    ("do you sell bicycles", "decline"),
    ("who is the CEO of the company", "decline"),
    ("can I bring my dog into the store", "decline"),
    ("how do I bake sourdough bread", "decline"),
    ("tell me a joke", "decline"),
    ("who won the world cup", "decline"),
    ("can you help me file my taxes", "decline"),
    ("how do I reset my router", "decline"),
]
#: (Chinese rewording, a word of the right entry's id)
CHINESE_IN = [
    ("鞋子穿出去过还能退吗", "return"),
    ("我姑姑给我买的外套能换大一号吗", "exchange"),
    ("羽绒服可以放洗衣机洗吗", "down"),
    ("订单寄到成都要几天", "delivery"),
    ("包裹到哪了怎么查", "tracking"),
    ("收到的帐篷破了一个洞怎么办", "damaged"),
    ("下单后还能改收货地址吗", "address"),
    ("能开发票吗", "invoice"),
    ("礼品卡怎么用", "gift"),
    ("刚下的单想取消", "cancel"),
    ("我穿42码的鞋选哪个尺码", "size"),
    ("进口关税谁来付", "customs"),
    ("登山靴开胶了保修吗", "warranty"),
    ("积分怎么兑换", "rewards"),
    ("能寄到香港吗", "regions"),
    ("怎么联系客服", "contact"),
    ("用人民币结算吗", "currency"),
    ("退款退到微信要多久", "refund"),
]
CHINESE_OUT = [
    "可以用比特币付款吗",
    "明天北京天气怎么样",
    "你们老板是谁",
    "你们卖自行车吗",
    "能帮我订机票吗",
    "推荐一部好看的电影",
    "怎么做红烧肉",
    "你们招聘吗",
    "帐篷能带上飞机吗",
    "手机屏幕碎了怎么修",
    "能用狗狗币支付吗",
    "你们有实体店在巴黎吗",
]
ANSWERED = ("answer_faq", "generate")


def show(row: dict, mark: str) -> None:
    print(f"  {row['action']:10s} {row['confidence']:.2f} {mark} {row['question']}  [{row['top']}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write every decision here")
    args = parser.parse_args()

    kb = build_knowledge(load_config(None))
    retriever = kb.retriever()
    model = calibrate_confidence(retriever)
    policy = Policy(model, index=kb.index, embed=kb.embedder.embed_query)
    print(describe_embedder(kb.embedder))
    print(
        f"confidence: {model.method}, threshold {model.threshold:.3f}, high {model.high:.3f}, "
        f"low {model.low:.3f}"
    )
    rows = []

    def decide(question: str) -> dict:
        found = retriever.query(question, k=5)
        decision = policy.decide(found)
        top = found.hits[0].chunk_id if found.hits else "-"
        row = {
            "question": question,
            "action": decision.action,
            "confidence": round(decision.confidence, 4),
            "top": top,
            "unknown_terms": decision.unknown_terms,
        }
        rows.append(row)
        return row

    print("\nEnglish")
    for question, wanted in ENGLISH:
        row = decide(question) | {"written_for": wanted}
        rows[-1] = row
        show(row, f"for={wanted:8s}")
    print("\nChinese rewordings (in scope)")
    right = 0
    for question, entry in CHINESE_IN:
        row = decide(question)
        good = row["action"] in ANSWERED and entry in row["top"].replace("-", "")
        right += good
        show(row, "ok " if good else "-- ")
    print("\nChinese, out of scope")
    declined = 0
    for question in CHINESE_OUT:
        row = decide(question)
        good = row["action"] not in ANSWERED
        declined += good
        show(row, "ok " if good else "-- ")
    print(
        f"\nChinese: {right} of {len(CHINESE_IN)} rewordings answered with the right entry, "
        f"{declined} of {len(CHINESE_OUT)} out-of-scope questions not answered"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
