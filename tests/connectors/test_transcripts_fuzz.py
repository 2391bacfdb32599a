"""Property-based tests of the transcript readers: whatever a file holds, reading it yields
conversations and Malformed records or raises TranscriptError, nothing else; and what the
readers are given in a valid file comes back exactly. A fixed number of cases, derandomized.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.transcripts import (
    FORMATS,
    Conversation,
    Malformed,
    TranscriptError,
    read_transcripts,
)

CASES = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
FORMAT = st.sampled_from([None, *FORMATS])
CHUNK = st.integers(min_value=1, max_value=64)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
KEYS = st.sampled_from(
    ["conversation_id", "turns", "role", "text", "timestamp", "meta", "dialogHeader",
     "sessionID", "dialogContent", "client", "agent", "message", "agentURL", "url_utterance",
     "convo_id", "original", "scenario", "flow"]
)  # fmt: skip
#: objects with the readers' own keys and values of any kind: near misses of every format
SHAPED = st.recursive(
    JSON,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=14,
)


def read_all(content: bytes, fmt: str | None, chunk: int, suffix: str = ".txt") -> list:
    """Every item of the file, or the TranscriptError that stopped the reading."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"t{suffix}"
        path.write_bytes(content)
        items: list = []
        try:
            for item in read_transcripts(path, fmt, chunk_size=chunk):
                items.append(item)
        except TranscriptError as exc:
            assert str(exc)
            items.append(exc)
    for item in items:
        assert isinstance(item, Conversation | Malformed | TranscriptError), item
        if isinstance(item, Malformed):
            assert item.where and item.reason
        if isinstance(item, Conversation):
            assert item.id and item.turns
            assert all(turn.text.strip() for turn in item.turns)
    return items


@CASES
@given(content=st.binary(max_size=300), fmt=FORMAT, chunk=CHUNK)
def test_any_bytes(content, fmt, chunk):
    read_all(content, fmt, chunk)


@CASES
@given(
    lines=st.lists(SHAPED, max_size=5),
    fmt=FORMAT,
    chunk=CHUNK,
    suffix=st.sampled_from([".jsonl", ".json", ".csv"]),
)
def test_json_lines_and_arrays_of_anything(lines, fmt, chunk, suffix):
    as_lines = "\n".join(json.dumps(line) for line in lines).encode()
    read_all(as_lines, fmt, chunk, suffix)
    read_all(json.dumps(lines).encode(), fmt, chunk, suffix)


CELL = st.text(st.characters(codec="utf-8"), max_size=20)


@CASES
@given(rows=st.lists(st.lists(CELL, min_size=1, max_size=5), max_size=6), chunk=CHUNK)
def test_csv_of_anything_under_a_valid_header(rows, chunk):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["conversation_id", "role", "text", "timestamp"])
    writer.writerows(rows)
    read_all(out.getvalue().encode(), "csv", chunk, ".csv")


TEXT = CELL.filter(lambda t: t.strip())
ROLE = st.sampled_from(["customer", "agent", "system", "user", "Assistant", "BOT"])
TURNS = st.lists(st.tuples(ROLE, TEXT), min_size=1, max_size=4).map(
    lambda turns: [("customer", turns[0][1]), *turns[1:]]  # a conversation needs a customer
)
CONVERSATIONS = st.lists(TURNS, min_size=1, max_size=4)
READ_AS = {"user": "customer", "assistant": "agent", "bot": "agent"}


def expected(conversations) -> list[tuple[str, list[tuple[str, str]]]]:
    return [
        (f"c-{n}", [(READ_AS.get(role.lower(), role.lower()), text) for role, text in turns])
        for n, turns in enumerate(conversations)
    ]


def got(items) -> list[tuple[str, list[tuple[str, str]]]]:
    assert all(isinstance(item, Conversation) for item in items), items
    return [(item.id, [(t.role, t.text) for t in item.turns]) for item in items]


@CASES
@given(conversations=CONVERSATIONS, chunk=CHUNK)
def test_valid_jsonl_and_csv_come_back_exactly(conversations, chunk):
    jsonl = "\n".join(
        json.dumps(
            {
                "conversation_id": f"c-{n}",
                "turns": [{"role": role, "text": text} for role, text in turns],
            },
            ensure_ascii=False,
        )
        for n, turns in enumerate(conversations)
    )
    assert got(read_all(jsonl.encode(), "jsonl", chunk)) == expected(conversations)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["conversation_id", "role", "text"])
    for n, turns in enumerate(conversations):
        writer.writerows([f"c-{n}", role, text] for role, text in turns)
    assert got(read_all(out.getvalue().encode(), "csv", chunk)) == expected(conversations)
