import collections
import gzip
import json
import shutil
from pathlib import Path

import pytest

from connectors.transcripts import (
    FORMATS,
    Conversation,
    Malformed,
    TranscriptError,
    TranscriptTurn,
    detect_format,
    read_transcripts,
)
from knowledge.errors import ShopbotError

DATA = Path(__file__).parent / "data" / "transcripts"
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
TWITTER_DEV = SHARED / "twitter_customer_care" / "dev.json"
ABCD_SAMPLE = SHARED / "abcd" / "abcd_sample.json"


def _real(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"shared data set not present: {path}")
    return path


def _summary(items):
    return [
        (type(i).__name__, i.id, i.where if isinstance(i, Malformed) else len(i.turns))
        for i in items
    ]


# ---------------------------------------------------------------- the four formats


def test_jsonl_reads_conversations_and_reports_bad_lines():
    items = list(read_transcripts(DATA / "generic.jsonl"))
    assert _summary(items) == [
        ("Conversation", "c-1", 2),
        ("Conversation", "42", 5),
        ("Malformed", "c-bad-json", "generic.jsonl, line 4"),
        ("Malformed", "c-no-text", "generic.jsonl, line 5"),
        ("Malformed", "c-role", "generic.jsonl, line 6"),
        ("Malformed", "c-empty", "generic.jsonl, line 7"),
        ("Malformed", "c-agent-only", "generic.jsonl, line 8"),
        ("Malformed", "c-1", "generic.jsonl, line 9"),
        ("Conversation", "c-last", 1),
    ]
    first, synonyms = items[0], items[1]
    assert first == Conversation(
        "c-1",
        [
            TranscriptTurn("customer", "Where is my order?", "2024-05-01T09:30:00Z"),
            TranscriptTurn("agent", "It left our warehouse this morning."),
        ],
        {"channel": "email"},
    )
    # user -> customer; assistant, bot, human_agent -> agent; text kept exactly (spaces too)
    assert [(t.role, t.text) for t in synonyms.turns] == [
        ("customer", "  Do you ship to Canada?  "),
        ("agent", "Yes, in 5-8 days."),
        ("agent", "Anything else?"),
        ("agent", "Hi, Sam here."),
        ("system", "transferred to Sam"),
    ]
    assert synonyms.meta == {}
    reasons = {i.id: i.reason for i in items if isinstance(i, Malformed)}
    assert "not valid JSON" in reasons["c-bad-json"]
    assert "column 79" in reasons["c-bad-json"]
    assert reasons["c-no-text"].startswith('turn 1: no "text"')
    assert "unknown role 'moderator'" in reasons["c-role"]
    assert "user for customer" in reasons["c-role"]
    assert "no turns" in reasons["c-empty"]
    assert "no customer turn" in reasons["c-agent-only"]
    assert "already used at line 1" in reasons["c-1"]
    assert items[-1].turns[0].text == "Does the tent fit two? 帐篷能睡两个人吗"


def test_csv_groups_contiguous_rows_and_reports_bad_ones():
    items = list(read_transcripts(DATA / "generic.csv"))
    assert _summary(items) == [
        ("Conversation", "c-1", 2),
        ("Conversation", "c-2", 2),
        ("Malformed", "c-3", "generic.csv, line 8"),
        ("Malformed", "c-1", "generic.csv, line 9"),
        ("Malformed", "c-4", "generic.csv, line 10"),
        ("Malformed", "c-5", "generic.csv, line 11"),
        ("Conversation", "c-6", 1),
    ]
    c1, c2 = items[0], items[1]
    assert c1.turns == [
        TranscriptTurn("customer", "Where is my order?", "2024-05-01T09:30:00Z"),
        TranscriptTurn("agent", "It left our warehouse this morning, tracking follows.", None),
    ]
    assert c1.meta == {"company": "Kestrel"}
    # a quoted field with a line break and doubled quotes; meta comes from the first row
    assert c2.turns[0] == TranscriptTurn("customer", 'Two lines:\nsecond line with "quotes"')
    assert c2.turns[1].role == "agent"
    assert c2.meta == {"company": "Kestrel"}
    reasons = {(i.id, i.where): i.reason for i in items if isinstance(i, Malformed)}
    assert "unknown role 'wizard'" in reasons[("c-3", "generic.csv, line 8")]
    non_contiguous = reasons[("c-1", "generic.csv, line 9")]
    assert "start again at line 9" in non_contiguous
    assert "from line 2" in non_contiguous
    assert "contiguous" in non_contiguous
    assert "no customer turn" in reasons[("c-4", "generic.csv, line 10")]
    assert "6 fields but the header has 5" in reasons[("c-5", "generic.csv, line 11")]


def test_csv_non_contiguous_id_does_not_stop_the_stream(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "role,text,conversation_id\ncustomer,a1,A\ncustomer,b1,B\nagent,a2,A\ncustomer,c1,C\n",
        encoding="utf-8",
    )
    items = list(read_transcripts(path))
    assert _summary(items) == [
        ("Conversation", "A", 1),
        ("Conversation", "B", 1),
        ("Malformed", "A", "t.csv, line 4"),
        ("Conversation", "C", 1),
    ]


def test_csv_header_without_required_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("conversation_id;role;text\nc1;customer;hi\n", encoding="utf-8")
    with pytest.raises(TranscriptError, match="missing conversation_id, role, text") as err:
        read_transcripts(path)  # raised by the call, before any iteration
    assert "semicolons" in str(err.value)


def test_twitter_small_fixture():
    items = list(read_transcripts(DATA / "twitter_small.json"))
    assert _summary(items) == [
        ("Conversation", "tw-1", 4),
        ("Malformed", "tw-2", "twitter_small.json, conversation 2"),
        ("Malformed", "tw-3", "twitter_small.json, conversation 3"),
        ("Conversation", "tw-4", 2),
    ]
    tw1 = items[0]
    assert tw1.turns == [
        TranscriptTurn(
            "customer",
            '@KestrelHelp my order [#123] {"size": "M"}, ] } still not here \\ why?',
            "2020-04-01T10:00:00.000Z",
        ),
        TranscriptTurn(
            "agent", "@ann Sorry! Which émail did you use? 😀", "2020-04-01T10:05:00.000Z"
        ),
        TranscriptTurn("customer", '@ann same here "["', "2020-04-01T10:06:00.000Z"),
        # agentURL.url_utterance, appended; HTML entities kept as given
        TranscriptTurn("agent", "@ann Track it here: https://example.com/track?a=1&amp;b=[2]"),
    ]
    assert tw1.meta == {"company": "KestrelHelp", "url": "https://example.com/track", "doc_id": "7"}
    assert "exactly one of 'client'" in items[1].reason
    assert items[2].reason.startswith("not valid JSON")


def test_abcd_small_fixture():
    items = list(read_transcripts(DATA / "abcd_small.json"))
    assert _summary(items) == [
        ("Conversation", "1", 4),
        ("Malformed", "2", "abcd_small.json, conversation 2"),
        ("Malformed", "3", "abcd_small.json, conversation 3"),
        ("Conversation", "4", 2),
    ]
    assert items[0].turns == [
        TranscriptTurn("agent", "Hi, how can I help?"),
        TranscriptTurn("customer", "Where is [my] order?"),
        TranscriptTurn("system", "Account has been pulled up for Jo Lee."),
        TranscriptTurn("agent", "It ships today."),
    ]
    assert items[0].meta == {"flow": "shipping_issue", "subflow": "status"}
    assert items[3].meta == {}
    assert "speaker 'supervisor'" in items[1].reason
    assert "no customer turn" in items[2].reason


# ------------------------------------------------------------------ the real data


def test_real_twitter_dev():
    path = _real(TWITTER_DEV)
    assert detect_format(path) == "twitter"
    items = list(read_transcripts(path))
    assert all(isinstance(i, Conversation) for i in items)
    assert len(items) == 525
    assert len({c.id for c in items}) == 525
    roles = collections.Counter(t.role for c in items for t in c.turns)
    assert roles == {"customer": 625, "agent": 586}
    assert sum(len(c.turns) for c in items) == 1211
    # the final reply is always the appended agentURL.url_utterance, without a timestamp
    assert all(c.turns[-1].role == "agent" and c.turns[-1].timestamp is None for c in items)
    assert collections.Counter(c.meta["company"] for c in items)["RockstarSupport"] == 89

    first = items[0]
    assert first.id == "LgwAXtbbEm0mBvDrGmjk"
    assert first.meta["company"] == "TeamYouTube"
    assert first.meta["doc_id"] == "1770"
    assert first.turns[0] == TranscriptTurn(
        "customer",
        "@TeamYouTube Hello dear youtube officers, my channel has been suspended 1 year, I sent "
        "an e-mail, no answer, please open my channel back :( channel link: https: "
        "//www.youtube.com/channel/UCW97Zu1780HRMZoMMhlW06g\n\nmy e-mail address: "
        "zekidemir089@gmail.com",
        "2020-04-01T17:31:32.000Z",
    )
    assert first.turns[1].text.startswith("@CinVakas Thanks for the tag – if you believe")

    by_id = {c.id: c for c in items}
    second = by_id["NFUDPkkooFvg5tf3xszV"]
    assert second.turns[1].text == (
        "@YouTube can you please help me?\nMy review is fair use and it has been blocked world wide."
    )
    assert "between uploader &amp; claimant" in second.turns[2].text  # kept as given
    # "client1" marks a second customer joining the thread
    assert [t.role for t in by_id["6kHxCxC6yB7Dd4DdaAoa"].turns] == ["customer"] * 2 + ["agent"]
    assert [t.role for t in by_id["1eF19rnhJYE6YXeYBwky"].turns] == [
        "customer",
        "customer",
        "customer",
        "agent",
        "customer",
        "agent",
    ]


def test_real_abcd_sample():
    path = _real(ABCD_SAMPLE)
    assert detect_format(path) == "abcd"
    items = list(read_transcripts(path))
    assert [(c.id, len(c.turns)) for c in items] == [("3592", 29), ("9489", 21), ("3695", 22)]
    roles = collections.Counter(t.role for c in items for t in c.turns)
    assert roles == {"agent": 32, "customer": 31, "system": 9}
    assert [c.meta for c in items] == [
        {"flow": "product_defect", "subflow": "return_size"},
        {"flow": "product_defect", "subflow": "refund_status"},
        {"flow": "storewide_query", "subflow": "timing_4"},
    ]
    first = items[0]
    assert first.turns[2] == TranscriptTurn(
        "customer", "Hi! I need to return an item, can you help me with that?"
    )
    assert first.turns[6] == TranscriptTurn(
        "system", "Account has been pulled up for Crystal Minh."
    )
    assert first.turns[-1] == TranscriptTurn("customer", "That's it. Take care.")
    assert items[2].turns[0] == TranscriptTurn("customer", "HEY HO!")


@pytest.mark.parametrize("path", [TWITTER_DEV, ABCD_SAMPLE], ids=["twitter", "abcd"])
def test_real_data_does_not_depend_on_the_chunk_size(path):
    path = _real(path)
    expected = list(read_transcripts(path))
    for chunk_size in (1, 7, 97, 1000):
        assert list(read_transcripts(path, chunk_size=chunk_size)) == expected


# ------------------------------------------------------------ the incremental parser


@pytest.mark.parametrize("name", ["twitter_small.json", "abcd_small.json"])
def test_chunk_boundaries_anywhere(name):
    # chunks of 1..40 characters cut inside strings, escapes (\\, \", \u00e9, surrogate
    # pairs), brackets inside strings and the whitespace between elements
    expected = list(read_transcripts(DATA / name))
    for chunk_size in range(1, 41):
        assert list(read_transcripts(DATA / name, chunk_size=chunk_size)) == expected, chunk_size


def test_array_elements_of_any_kind(tmp_path):
    conversation = {
        "dialogHeader": {"sessionID": "s-1", "company": "X"},
        "dialogContent": [{"client": "c", "message": 'a \\"]}, [{', "datetime": None}],
    }
    path = tmp_path / "mixed.json"
    path.write_text(
        '[ "a]b\\"c" ,12\n,\t' + json.dumps(conversation) + ' , [1, [2, "]"]], null , -3.5e2 ]  \n',
        encoding="utf-8",
    )
    for chunk_size in (1, 2, 3, 5, 8, 64):
        items = list(read_transcripts(path, "twitter", chunk_size=chunk_size))
        assert [i.where for i in items if isinstance(i, Malformed)] == [
            f"mixed.json, conversation {n}" for n in (1, 2, 4, 5, 6)
        ]
        assert [type(i).__name__ for i in items] == ["Malformed"] * 2 + ["Conversation"] + [
            "Malformed"
        ] * 3
        assert items[0].reason == "expected a JSON object, found a string"
        assert items[2].turns == [TranscriptTurn("customer", 'a \\"]}, [{')]


def test_truncated_array_keeps_what_came_before(tmp_path):
    whole = (DATA / "abcd_small.json").read_text(encoding="utf-8")
    cut = tmp_path / "cut.json"
    cut.write_text(whole[: whole.index('{"convo_id": 3') + 30], encoding="utf-8")
    items = list(read_transcripts(cut, "abcd", chunk_size=16))
    assert _summary(items)[:2] == [
        ("Conversation", "1", 4),
        ("Malformed", "2", "cut.json, conversation 2"),
    ]
    assert items[2].id == "3"  # picked out of the partial text
    assert items[2].where == "cut.json, conversation 3"
    assert "truncated" in items[2].reason
    assert len(items) == 3

    unclosed = tmp_path / "unclosed.json"
    unclosed.write_text(whole.rstrip().removesuffix("]"), encoding="utf-8")
    items = list(read_transcripts(unclosed, "abcd"))
    assert len(items) == 5
    assert items[-1] == Malformed(
        None,
        "unclosed.json, end of file",
        "the file ends after conversation 4 without the closing ']' of the JSON array: the "
        "file is truncated; export or download it again",
    )


def test_broken_structure_between_elements_raises(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('[{"convo_id": 1, "original": [["customer", "hi"]]} {"convo_id": 2}]')
    items = read_transcripts(path, "abcd", chunk_size=4)
    assert next(items).id == "1"
    with pytest.raises(TranscriptError, match="expected ',' or ']' after conversation 1"):
        next(items)


# ----------------------------------------------------------------------- streaming


@pytest.mark.parametrize(
    ("fmt", "first", "filler", "sep", "end"),
    [
        (
            "jsonl",
            '{"conversation_id": "c0", "turns": [{"role": "customer", "text": "hi"}]}\n',
            '{"conversation_id": "c%d", "turns": [{"role": "customer", "text": "filler"}]}\n',
            "",
            "",
        ),
        (
            "csv",
            "conversation_id,role,text\nc0,customer,hi\n",
            "c%d,customer,filler\n",
            "",
            "",
        ),
        (
            "abcd",
            '[{"convo_id": 0, "original": [["customer", "hi"]]}',
            '{"convo_id": %d, "original": [["customer", "filler"]]}',
            ",\n",
            "]",
        ),
    ],
)
def test_reading_streams_instead_of_loading_the_file(tmp_path, fmt, first, filler, sep, end):
    # ~300 KB of good conversations, then a byte that is not UTF-8: the first conversations
    # arrive before the reader gets there, and the error names the byte's offset and line
    parts = [first] + [filler % n for n in range(1, 6000)]
    good = (sep.join(parts) if sep else "".join(parts)).encode("utf-8")
    if sep:
        good += sep.encode()
    path = tmp_path / f"big.{fmt}"
    path.write_bytes(good + b"\xff" + end.encode())
    items = read_transcripts(path, fmt)
    assert next(items).turns == [TranscriptTurn("customer", "hi")]
    assert next(items).turns == [TranscriptTurn("customer", "filler")]
    with pytest.raises(TranscriptError) as err:
        list(items)
    message = str(err.value)
    line = good.count(b"\n") + 1
    assert f"byte 0xff at byte offset {len(good)} (line {line})" in message
    assert "Convert it to UTF-8" in message


# ----------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("generic.jsonl", "jsonl"),
        ("generic.csv", "csv"),
        ("twitter_small.json", "twitter"),
        ("abcd_small.json", "abcd"),
    ],
)
def test_detection_by_content_not_extension(tmp_path, name, fmt):
    assert detect_format(DATA / name) == fmt
    renamed = tmp_path / "export.txt"
    shutil.copy(DATA / name, renamed)
    assert detect_format(renamed) == fmt
    misleading = tmp_path / ("export.csv" if fmt != "csv" else "export.json")
    shutil.copy(DATA / name, misleading)
    assert detect_format(misleading) == fmt

    def content(items):
        return [(i.id, i.reason if isinstance(i, Malformed) else i.turns) for i in items]

    assert content(read_transcripts(renamed)) == content(read_transcripts(DATA / name))


def test_extension_decides_only_when_the_content_cannot(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert detect_format(empty) == "jsonl"
    assert list(read_transcripts(empty)) == []
    broken_first_line = tmp_path / "t.jsonl"
    broken_first_line.write_text(
        '{"conversation_id": "a", "turns": [\n'
        '{"conversation_id": "b", "turns": [{"role": "customer", "text": "hi"}]}\n'
    )
    assert detect_format(broken_first_line) == "jsonl"
    assert _summary(read_transcripts(broken_first_line)) == [
        ("Malformed", "a", "t.jsonl, line 1"),
        ("Conversation", "b", 1),
    ]
    bad_header = tmp_path / "t.csv"
    bad_header.write_text("id,speaker,message\n1,customer,hi\n")
    assert detect_format(bad_header) == "csv"
    with pytest.raises(TranscriptError, match="must name the columns conversation_id, role"):
        read_transcripts(bad_header)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("hello there\n", "not JSON"),
        ("", "empty"),
        ("[]", "empty JSON array"),
        ('[{"question": "q", "answer": "a"}]', "keys answer, question"),
        ('{"id": 1, "messages": []}\n', "keys id, messages"),
        ('[{"conversation_id": "c", "turns": []}]', "jq -c"),
    ],
)
def test_unknown_content_names_the_formats_and_the_flag(tmp_path, content, why):
    path = tmp_path / "mystery.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TranscriptError) as err:
        detect_format(path)
    message = str(err.value)
    assert why in message
    assert "cannot tell which transcript format" in message
    for fmt in FORMATS:
        assert fmt in message
    assert "--format" in message
    with pytest.raises(TranscriptError):
        read_transcripts(path)


# ------------------------------------------------------------------ whole-file errors


def test_whole_file_errors(tmp_path):
    assert issubclass(TranscriptError, ShopbotError)
    with pytest.raises(TranscriptError, match="no such file"):
        read_transcripts(tmp_path / "missing.jsonl")
    with pytest.raises(TranscriptError, match="is a directory"):
        read_transcripts(tmp_path)
    with pytest.raises(TranscriptError, match=r"unknown transcript format 'xml'.*--format"):
        read_transcripts(DATA / "generic.jsonl", "xml")
    assert list(read_transcripts(DATA / "generic.jsonl", " JSONL ")) == list(
        read_transcripts(DATA / "generic.jsonl")
    )
    with pytest.raises(TranscriptError, match="looks like 'twitter'; pass --format twitter"):
        read_transcripts(DATA / "twitter_small.json", "abcd")

    compressed = tmp_path / "t.json.gz"
    compressed.write_bytes(gzip.compress((DATA / "abcd_small.json").read_bytes()))
    with pytest.raises(TranscriptError, match="gzip-compressed; decompress it first"):
        detect_format(compressed)

    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("conversation_id,role,text\nc1,customer,caf\xe9\n".encode("latin-1"))
    with pytest.raises(TranscriptError, match=r"byte 0xe9 at byte offset 41 \(line 2\)"):
        list(read_transcripts(latin1, "csv"))
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_text('{"conversation_id": "a"}\n', encoding="utf-16")
    with pytest.raises(TranscriptError, match="UTF-16"):
        detect_format(utf16)


def test_object_instead_of_array(tmp_path):
    full_abcd = tmp_path / "abcd_v1.1.json"
    full_abcd.write_text(
        json.dumps({"train": [{"convo_id": 1, "original": [["customer", "hi"]]}], "dev": []})
    )
    with pytest.raises(TranscriptError, match="is one JSON object, not a JSON array") as err:
        read_transcripts(full_abcd, "abcd")
    assert "train/dev/test" in str(err.value)
    with pytest.raises(TranscriptError, match="train/dev/test"):
        detect_format(full_abcd)
    pretty = tmp_path / "pretty.json"
    pretty.write_text('{\n  "dialogHeader": {}\n}\n')
    with pytest.raises(TranscriptError, match="is one JSON object"):
        read_transcripts(pretty, "twitter")


def test_bom_and_crlf_are_accepted(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(
        '\ufeffconversation_id,role,text\r\nc1,customer,hi\r\nc1,agent,"a\r\nb"\r\n'.encode()
    )
    assert list(read_transcripts(path)) == [
        Conversation(
            "c1", [TranscriptTurn("customer", "hi"), TranscriptTurn("agent", "a\r\nb")], {}
        )
    ]


# ---------------------------------------------------------------------- determinism


@pytest.mark.parametrize(
    "path",
    [
        DATA / "generic.jsonl",
        DATA / "generic.csv",
        DATA / "twitter_small.json",
        DATA / "abcd_small.json",
        TWITTER_DEV,
    ],
    ids=["jsonl", "csv", "twitter", "abcd", "twitter-dev"],
)
def test_same_input_same_output(path):
    path = _real(path)
    first = list(read_transcripts(path))
    second = list(read_transcripts(path))
    assert first == second
    assert all(isinstance(i.id, str) for i in first if i.id is not None)
