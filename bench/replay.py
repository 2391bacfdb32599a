"""Replay benchmark: throughput (turns/s) and peak memory of ``shopbot replay`` on a transcript
file of at least 100,000 turns made from the shared data, side by side with ``Bot.reply``
called bare on the same customer turns (what replay adds: the connector, agreement
embeddings, redaction, writing), and with a file a tenth the size (memory must not grow with
the input: the input and the output are streamed).

The big file repeats the Twitter customer-care conversations (``twitter_customer_care/
dev.json``) and the ABCD sample chats under new conversation ids until it holds
``--turns`` turns (customer and agent). Every run is a fresh process, so its peak resident
memory is its own; "after load" is the peak once the models are loaded, before replaying.
The demo store answers, generation off (``--no-generate``: policy questions are quoted).

    python bench/replay.py [DATA_DIR] [--turns 100000] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_transcripts(data: Path, target_turns: int, path: Path) -> dict[str, int]:
    """A JSONL transcript file of at least ``target_turns`` turns from the shared sets."""
    from connectors.transcripts import Conversation, read_transcripts

    base: list[Conversation] = []
    for source in (data / "twitter_customer_care" / "dev.json", data / "abcd" / "abcd_sample.json"):
        base.extend(c for c in read_transcripts(source) if isinstance(c, Conversation))
    turns = conversations = customer = 0
    with path.open("w", encoding="utf-8") as out:
        copy = 0
        while turns < target_turns:
            for conversation in base:
                record = {
                    "conversation_id": f"{copy}-{conversation.id}",
                    "meta": conversation.meta,
                    "turns": [
                        {"role": t.role, "text": t.text, "timestamp": t.timestamp}
                        for t in conversation.turns
                    ],
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                turns += len(conversation.turns)
                customer += sum(t.role == "customer" for t in conversation.turns)
                conversations += 1
            copy += 1
    return {"turns": turns, "customer_turns": customer, "conversations": conversations}


def child(mode: str, source: Path, out: Path, limit: int) -> None:
    """One measured run in this (fresh) process; prints a JSON line."""
    from bot.sessions import MemorySessionStore
    from bot.types import IncomingMessage
    from connectors.app import build_bot
    from connectors.config import load_config

    config = load_config(ROOT / "config.yaml")
    config.bot.generation = False
    bot = build_bot(config, sessions=MemorySessionStore())
    bot.warm_up()
    bot.kb.embedder.embed_documents(["warm up"])
    loaded = peak_mb()
    if mode == "bare":
        from connectors.transcripts import Conversation, read_transcripts

        texts: list[tuple[str, str]] = []
        for conversation in read_transcripts(source):
            if isinstance(conversation, Conversation):
                turns = conversation.turns
                texts += [(conversation.id, t.text) for t in turns if t.role == "customer"]
            if len(texts) >= limit:
                break
        started = time.perf_counter()
        for cid, text in texts[:limit]:
            bot.reply(IncomingMessage(text[:2000], session_id=cid, channel="replay"))
        seconds = time.perf_counter() - started
        turns = min(limit, len(texts))
    else:
        from connectors.replay import replay

        stats = replay(bot, source, out)
        seconds, turns = stats.seconds, stats.turns
    from knowledge.embedders import describe_embedder

    record = {"turns": turns, "seconds": seconds, "after_load_mb": loaded, "peak_mb": peak_mb()}
    record["embedder"] = describe_embedder(bot.kb.embedder)
    print(json.dumps(record))


def run_child(mode: str, source: Path, out: Path, limit: int = 0) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(source), str(out), str(limit)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=ROOT / ".." / "shared" / "data")
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--bare-turns", type=int, default=3000, help="turns for the bare run")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    subprocess.run(
        [sys.executable, "-m", "connectors.cli", "index"], cwd=ROOT, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        big, small = folder / "big.jsonl", folder / "small.jsonl"
        sizes = {
            "big": make_transcripts(args.data, args.turns, big),
            "small": make_transcripts(args.data, args.turns // 10, small),
        }
        print(f"transcripts: {sizes['big']} ({big.stat().st_size / 1e6:.1f} MB)", flush=True)
        bare = run_child("bare", big, folder / "unused", args.bare_turns)
        print(f"embedder: {bare['embedder']}", flush=True)
        print(f"bare Bot.reply: {bare['turns'] / bare['seconds']:.1f} turns/s", flush=True)
        runs = {}
        for name, path in (("small", small), ("big", big)):
            runs[name] = run_child("replay", path, folder / f"out-{name}")
            runs[name]["file_mb"] = path.stat().st_size / 1e6
            output = folder / f"out-{name}" / "replies.jsonl"
            runs[name]["output_mb"] = output.stat().st_size / 1e6
            print(f"replay {name}: {runs[name]}", flush=True)

    print()
    print(f"{'run':<28} {'customer turns':>14} {'turns/s':>8} {'after load MB':>14} {'peak MB':>8}")
    rows = [
        ("bare Bot.reply (no replay)", bare),
        (f"replay, {sizes['small']['turns']} turns", runs["small"]),
        (f"replay, {sizes['big']['turns']} turns", runs["big"]),
    ]
    for name, run in rows:
        print(
            f"{name:<28} {run['turns']:>14} {run['turns'] / run['seconds']:>8.1f} "
            f"{run['after_load_mb']:>14.0f} {run['peak_mb']:>8.0f}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"transcripts": sizes, "bare": bare, "replay": runs}, indent=2),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
