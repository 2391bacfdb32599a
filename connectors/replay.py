"""``shopbot replay``: past support conversations through the bot, offline, with a report.

For each conversation in a transcript file (see ``connectors.transcripts`` for the formats),
the customer turns go to the bot in order, in one session, through the replay connector;
each bot reply is recorded next to what the human agent actually said after that turn.

Output folder::

    replay.json       what was replayed (input file, format, options): a resumed run must match
    replies.jsonl     one record per customer turn (the report's input)
    malformed.jsonl   conversations that could not be replayed, with where and why
    summary.json      headline figures (see connectors.report)
    report.html       the report: figures, plots, knowledge gaps, a browsable table

Input and output are streamed. A conversation's records are written together once it is
replayed, so an interrupted run loses at most the conversation in flight; re-running with the
same ``--out`` skips every conversation already written (a half-written last line is cut).
Customer and agent text is redacted (e-mail, phone, card numbers, ...) in everything written.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.engine import Bot
from bot.privacy import Redactor
from connectors.base import ChannelRequest
from connectors.replay_channel import ReplayConnector
from connectors.report import (
    cluster_questions,
    gaps_summary,
    is_knowledge_gap,
    iter_jsonl,
    summarize,
    write_report,
)
from connectors.transcripts import Conversation, Malformed, detect_format, read_transcripts
from knowledge.errors import ShopbotError

MANIFEST = "replay.json"
REPLIES = "replies.jsonl"
MALFORMED = "malformed.jsonl"
MAX_GAP_QUESTIONS = 50_000  # questions embedded for the gap clusters (the first ones)


class ReplayError(ShopbotError):
    """The output folder cannot be used for this replay."""


@dataclass
class ReplayStats:
    conversations: int = 0  # replayed in this run
    skipped: int = 0  # already in the output (resumed)
    malformed: int = 0
    turns: int = 0
    seconds: float = 0.0
    out_dir: Path = field(default_factory=Path)

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.seconds if self.seconds else 0.0


def _agent_replies(conversation: Conversation) -> list[tuple[int, str, str | None, str | None]]:
    """(turn index, customer text, the agent's reply after it, timestamp) per customer turn.

    The agent reply is every agent turn up to the next customer turn, joined; a customer turn
    followed directly by another customer turn has none.
    """
    pairs: list[tuple[int, str, str | None, str | None]] = []
    agent: list[str] = []
    for turn in conversation.turns:
        if turn.role == "customer":
            if pairs and agent:
                index, text, _, stamp = pairs[-1]
                pairs[-1] = (index, text, "\n".join(agent), stamp)
            agent = []
            pairs.append((len(pairs), turn.text, None, turn.timestamp))
        elif turn.role == "agent" and pairs:
            agent.append(turn.text)
    if pairs and agent:
        index, text, _, stamp = pairs[-1]
        pairs[-1] = (index, text, "\n".join(agent), stamp)
    return pairs


class Replayer:
    """Replays conversations through a bot via the replay connector."""

    def __init__(self, bot: Bot, *, redactor: Redactor | None = None) -> None:
        self.bot = bot
        self.connector = ReplayConnector()
        self.redactor = redactor  # default: the bot's (keeps the store's own contact details)
        self.embedder = bot.kb.embedder
        self._bot_vectors: dict[str, np.ndarray] = {}  # canned replies repeat: embed once

    def conversation(self, conversation: Conversation) -> list[dict[str, Any]]:
        """One record per customer turn (see the module docstring)."""
        records: list[dict[str, Any]] = []
        session = f"replay:{conversation.id}"
        self.bot.sessions.delete(session)  # a resumed or repeated id starts clean
        redact = self.bot.redact if self.redactor is None else self.redactor.redact
        for index, customer, agent, stamp in _agent_replies(conversation):
            request = ChannelRequest.from_json(
                {"conversation_id": conversation.id, "text": customer, "meta": conversation.meta}
            )
            response = self.connector.handle(request, self.bot)
            payload = response.payload() or {}
            if response.status != 200:  # the bot refused the turn (too long, say)
                error = payload.get("error", {})
                bot = {"text": "", "action": "error", "error": error.get("message", "")}
            else:
                bot = {
                    "text": redact(payload["plain_text"]),
                    "action": payload["action"],
                    "confidence": round(payload["confidence"], 4),
                    "latency_ms": payload.get("latency_ms"),
                    "language": payload["language"],
                    "citations": [
                        {k: c.get(k) for k in ("n", "doc_id", "title", "url")}
                        for c in payload["citations"]
                    ],
                }
            records.append(
                {
                    "conversation_id": conversation.id,
                    "turn": index,
                    "timestamp": stamp,
                    "customer": redact(customer),
                    "agent": redact(agent) if agent else None,
                    "bot": bot,
                    "agreement": None,
                    "meta": conversation.meta,
                }
            )
        self.bot.sessions.delete(session)
        self._agreement(records)
        return records

    def _agreement(self, records: list[dict[str, Any]]) -> None:
        """Cosine between the bot's and the agent's reply, where both said something."""
        pairs = [r for r in records if r["agent"] and r["bot"]["text"]]
        if not pairs:
            return
        cache = self._bot_vectors
        new = list(dict.fromkeys(r["bot"]["text"] for r in pairs if r["bot"]["text"] not in cache))
        if len(cache) + len(new) > 4096:
            cache.clear()
            new = list(dict.fromkeys(r["bot"]["text"] for r in pairs))
        if new:
            cache.update(zip(new, self.embedder.embed_documents(new), strict=True))
        agents = self.embedder.embed_documents([r["agent"] for r in pairs])
        for record, agent in zip(pairs, agents, strict=True):
            score = float(np.dot(cache[record["bot"]["text"]], agent))
            record["agreement"] = round(score, 4)


# ---------------------------------------------------------------------------- the output
def _manifest(source: Path, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
    return {"input": str(source.resolve()), "format": fmt, "options": options}


def _prepare_out(out_dir: Path, manifest: dict[str, Any]) -> set[str]:
    """Check (or write) the manifest; cut a half-written last line; the ids already done."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise ReplayError(
            f"cannot write to the output folder {out_dir} ({exc.strerror}): choose another --out"
        ) from None
    path = out_dir / MANIFEST
    if path.exists():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            previous = None
        if previous != manifest:
            was = previous.get("input") if isinstance(previous, dict) else "something else"
            raise ReplayError(
                f"{out_dir} holds a replay of {was} with other options: choose another --out, "
                "or delete the folder to start over"
            )
    else:
        path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    done: set[str] = set()
    for name in (REPLIES, MALFORMED):
        file = out_dir / name
        if not file.exists():
            continue
        _cut_partial_line(file)
        with file.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    record = json.loads(line)
                    if name == MALFORMED:  # reported once, by where it is in the input
                        done.add(f"@{record.get('where')}")
                    elif record.get("conversation_id") is not None:
                        done.add(str(record["conversation_id"]))
    return done


def _cut_partial_line(file: Path) -> None:
    """Drop a last line without its newline (the run stopped while writing it)."""
    size = file.stat().st_size
    if not size:
        return
    with file.open("rb+") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        position = size - 1
        while position > 0:
            step = min(65536, position)
            handle.seek(position - step)
            block = handle.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                handle.truncate(position - step + cut + 1)
                return
            position -= step
        handle.truncate(0)


def replay(
    bot: Bot,
    source: Path,
    out_dir: Path,
    *,
    fmt: str | None = None,
    limit: int | None = None,
    options: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayStats:
    """Replay ``source`` into ``out_dir`` (resuming a previous run there)."""
    fmt = fmt or detect_format(source)
    done = _prepare_out(out_dir, _manifest(source, fmt, options or {}))
    stats = ReplayStats(skipped=0, out_dir=out_dir)
    replayer = Replayer(bot)
    started = time.perf_counter()
    with (
        (out_dir / REPLIES).open("a", encoding="utf-8") as replies,
        (out_dir / MALFORMED).open("a", encoding="utf-8") as malformed,
    ):
        for item in read_transcripts(source, fmt):
            if limit is not None and stats.conversations + stats.malformed >= limit:
                break
            if isinstance(item, Malformed):
                if f"@{item.where}" in done:
                    continue
                record = {"conversation_id": item.id, "where": item.where, "reason": item.reason}
                malformed.write(json.dumps(record, ensure_ascii=False) + "\n")
                malformed.flush()
                stats.malformed += 1
                continue
            if item.id in done:
                stats.skipped += 1
                continue
            records = replayer.conversation(item)
            replies.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
            replies.flush()
            done.add(item.id)
            stats.conversations += 1
            stats.turns += len(records)
            if progress:
                progress(stats.conversations, stats.turns)
        os.fsync(replies.fileno())
    stats.seconds = time.perf_counter() - started
    return stats


def knowledge_gaps(bot: Bot, questions: list[str], *, threshold: float | None = None) -> list:
    """The unanswered customer questions, clustered at the store's own paraphrase floor
    (how alike two wordings of one question are in this store's FAQ)."""
    if not questions:
        return []
    if threshold is None:
        threshold = float(bot.confidence.stats.get("paraphrase_floor") or 0.6)
    vectors = bot.kb.embedder.embed_documents(questions)
    return cluster_questions(questions, np.asarray(vectors, dtype=np.float32), threshold)


def write_replay_report(bot: Bot, out_dir: Path, *, title: str) -> tuple[Path, Path]:
    """summary.json and report.html from the records in ``out_dir`` (read once)."""
    questions: list[str] = []

    def noting_gaps(records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for record in records:
            if is_knowledge_gap(record) and len(questions) < MAX_GAP_QUESTIONS:
                questions.append(record["customer"])
            yield record

    summary = summarize(noting_gaps(iter_jsonl(out_dir / REPLIES)))
    summary["gaps"] = gaps_summary(knowledge_gaps(bot, questions))
    return write_report(out_dir, summary, title=title)
