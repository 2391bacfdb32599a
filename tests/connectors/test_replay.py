"""Transcript replay: records, resumption, malformed input, determinism, the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.engine import Bot
from bot.generators.fake import FakeGenerator
from bot.sessions import MemorySessionStore
from connectors.replay import (
    MALFORMED,
    REPLIES,
    ReplayError,
    _agent_replies,
    replay,
    write_replay_report,
)
from connectors.transcripts import Conversation, TranscriptTurn

DATA = Path(__file__).parent / "data" / "transcripts"


@pytest.fixture(scope="module")
def bot(demo_kb) -> Bot:
    return Bot(demo_kb, sessions=MemorySessionStore(), generator=FakeGenerator())


def write_jsonl(path: Path, conversations: list[dict]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in conversations), encoding="utf-8")
    return path


def conversation(cid: str, *turns: tuple[str, str]) -> dict:
    return {"conversation_id": cid, "turns": [{"role": r, "text": t} for r, t in turns]}


def read(out: Path, name: str = REPLIES) -> list[dict]:
    return [json.loads(line) for line in (out / name).read_text().splitlines() if line]


def without_timing(records: list[dict]) -> list[dict]:
    for record in records:
        record["bot"].pop("latency_ms", None)
    return records


STORE = [
    conversation(
        "a",
        ("customer", "How long does delivery take?"),
        ("agent", "Usually 3-5 business days."),
        ("customer", "and can I return boots I wore outside?"),
        ("agent", "Sorry, worn footwear can't be returned."),
        ("agent", "Unless it's defective."),
    ),
    conversation(
        "b",
        ("customer", "my email is jane.doe@example.com, what's the weather in Paris?"),
        ("customer", "hello??"),
        ("agent", "We only help with orders, Jane."),
    ),
    conversation("c", ("customer", "I want to talk to a human"), ("customer", "still there?")),
]


def test_agent_replies_pair_each_customer_turn_with_what_followed():
    turns = [
        TranscriptTurn("agent", "Hi!"),  # before any customer turn: nothing to pair with
        TranscriptTurn("customer", "q1"),
        TranscriptTurn("customer", "q2"),
        TranscriptTurn("agent", "a2"),
        TranscriptTurn("system", "note"),
        TranscriptTurn("agent", "a2b"),
        TranscriptTurn("customer", "q3"),
    ]
    pairs = _agent_replies(Conversation("x", turns))
    assert [(i, q, a) for i, q, a, _ in pairs] == [
        (0, "q1", None),
        (1, "q2", "a2\na2b"),
        (2, "q3", None),
    ]


def test_replay_records_each_customer_turn_beside_the_agent(bot, tmp_path):
    source = write_jsonl(tmp_path / "t.jsonl", STORE)
    stats = replay(bot, source, tmp_path / "out")
    assert (stats.conversations, stats.turns, stats.malformed) == (3, 6, 0)
    records = read(tmp_path / "out")
    assert [(r["conversation_id"], r["turn"]) for r in records] == [
        ("a", 0), ("a", 1), ("b", 0), ("b", 1), ("c", 0), ("c", 1)
    ]  # fmt: skip
    first = records[0]
    assert first["bot"]["action"] == "answer_faq"
    assert first["bot"]["citations"][0]["doc_id"] == "faq:delivery-times"
    assert first["agent"] == "Usually 3-5 business days."
    assert -1 <= first["agreement"] <= 1
    assert records[1]["agent"] == "Sorry, worn footwear can't be returned.\nUnless it's defective."
    # personal data is redacted in everything written
    assert "jane.doe@example.com" not in (tmp_path / "out" / REPLIES).read_text()
    assert records[2]["bot"]["action"] in ("dont_know", "handoff", "clarify")
    assert records[2]["agent"] is None and records[2]["agreement"] is None
    # one session per conversation: the handoff silences the rest of "c"
    assert records[4]["bot"]["action"] == "handoff" and records[4]["bot"]["text"]
    assert records[5]["bot"]["text"] == "" and records[5]["bot"]["action"] == "handoff"
    assert bot.sessions.list_sessions() == []  # replay leaves no sessions behind


def test_resume_skips_what_is_done_and_cuts_a_half_written_line(bot, tmp_path):
    source = write_jsonl(tmp_path / "t.jsonl", STORE)
    out = tmp_path / "out"
    first = replay(bot, source, out, limit=1)
    assert first.conversations == 1
    with (out / REPLIES).open("a") as handle:
        handle.write('{"conversation_id": "b", "turn": 0, "cust')  # killed mid-write
    second = replay(bot, source, out)
    assert (second.skipped, second.conversations) == (1, 2)
    ids = [r["conversation_id"] for r in read(out)]
    assert ids == ["a", "a", "b", "b", "c", "c"]
    third = replay(bot, source, out)
    assert (third.skipped, third.conversations) == (3, 0)


def test_malformed_conversation_is_reported_and_skipped(bot, tmp_path):
    source = tmp_path / "t.jsonl"
    lines = [
        json.dumps(STORE[0]),
        '{"conversation_id": "broken", "turns": [{"role": "customer"}]}',
        "{not json at all",
        json.dumps(STORE[2]),
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    stats = replay(bot, source, tmp_path / "out")
    assert (stats.conversations, stats.malformed) == (2, 2)
    problems = read(tmp_path / "out", MALFORMED)
    assert problems[0]["conversation_id"] == "broken" and "line 2" in problems[0]["where"]
    assert "line 3" in problems[1]["where"] and problems[1]["reason"]
    # a resumed run does not report them twice
    replay(bot, source, tmp_path / "out")
    assert len(read(tmp_path / "out", MALFORMED)) == 2


def test_same_input_same_output(bot, tmp_path):
    source = write_jsonl(tmp_path / "t.jsonl", STORE)
    replay(bot, source, tmp_path / "one")
    replay(bot, source, tmp_path / "two")
    assert without_timing(read(tmp_path / "one")) == without_timing(read(tmp_path / "two"))


def test_an_output_folder_of_another_replay_is_refused(bot, tmp_path):
    one = write_jsonl(tmp_path / "one.jsonl", STORE[:1])
    two = write_jsonl(tmp_path / "two.jsonl", STORE[1:])
    replay(bot, one, tmp_path / "out")
    with pytest.raises(ReplayError, match="choose another --out"):
        replay(bot, two, tmp_path / "out")


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("generic.jsonl", "jsonl"),
        ("generic.csv", "csv"),
        ("twitter_small.json", "twitter"),
        ("abcd_small.json", "abcd"),
    ],
)
def test_every_format_replays_and_reports(bot, tmp_path, name, fmt):
    out = tmp_path / "out"
    stats = replay(bot, DATA / name, out)
    assert stats.turns > 0
    assert json.loads((out / "replay.json").read_text())["format"] == fmt
    summary_path, report_path = write_replay_report(bot, out, title=f"Replay of {name}")
    summary = json.loads(summary_path.read_text())
    assert summary["turns"] == stats.turns
    assert summary["conversations"] == stats.conversations
    assert "<svg" in report_path.read_text()


def test_an_unwritable_output_folder_is_a_clear_error(bot, tmp_path):
    source = write_jsonl(tmp_path / "t.jsonl", STORE[:1])
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ReplayError, match="cannot write to the output folder"):
        replay(bot, source, blocker / "out")


def test_a_request_for_a_person_is_not_listed_as_a_knowledge_gap(bot, tmp_path):
    source = write_jsonl(
        tmp_path / "t.jsonl",
        [
            conversation("h", ("customer", "I want to speak to a human"), ("agent", "Sure.")),
            conversation("w", ("customer", "what's the weather in Paris?"), ("agent", "No idea")),
        ],
    )
    out = tmp_path / "out"
    replay(bot, source, out)
    assert read(out)[0]["bot"]["action"] == "handoff"
    summary = json.loads(write_replay_report(bot, out, title="t")[0].read_text())
    listed = [c["representative"] for c in summary["gaps"]["top"]]
    listed += [x for c in summary["gaps"]["top"] for x in c["examples"]]
    assert "I want to speak to a human" not in listed
    assert "what's the weather in Paris?" in listed
    assert summary["asked_for_person"]["count"] == 1
