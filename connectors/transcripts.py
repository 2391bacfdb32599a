"""Streaming readers for past customer-service conversations (transcripts) replayed offline.

``read_transcripts(path)`` yields one :class:`Conversation` at a time, or a :class:`Malformed`
record for a conversation that cannot be used, and carries on with the next one. Files are
read as a stream: JSON Lines and CSV line by line, the two JSON-array formats element by
element in 64 KiB chunks, so a 1 GB file is never held in memory (only the current
conversation, and the set of conversation ids already seen, which is how a repeated id is
caught). Text is kept exactly as given: no trimming, no unescaping of HTML entities, no
redaction (the caller redacts).

Four formats are read. ``detect_format(path)`` tells them apart by their content (the first
non-blank characters, the first line, the keys of the first array element); the file
extension (``.jsonl``, ``.csv``, ``.json``) is only a hint when the content is ambiguous.
When it cannot tell, pass the format: ``shopbot ... --format jsonl``, or
``read_transcripts(path, format="jsonl")`` from Python.

Every file must be UTF-8 (a byte-order mark is allowed and ignored).

jsonl: shopbot's own format (JSON Lines)
----------------------------------------
One conversation per line, a JSON object::

    {"conversation_id": "c-1001", "meta": {"channel": "email"}, "turns": [
      {"role": "customer", "text": "Where is my order?", "timestamp": "2024-05-01T09:30:00Z"},
      {"role": "agent", "text": "It left our warehouse this morning."}]}

(shown over three lines here; in the file it is one line). Fields:

- ``conversation_id`` (required): a non-empty string; an integer is accepted and read as its
  decimal string.
- ``turns`` (required): a non-empty list of turns, in order. Each turn has ``role``
  (required), ``text`` (required, a string that is not blank) and ``timestamp`` (optional:
  an ISO-8601 string, kept as given; missing, ``null`` or ``""`` means none). Other keys of a
  turn are ignored.
- ``meta`` (optional): any JSON object, passed through as ``Conversation.meta``.

Blank lines are skipped. Line numbers in messages count every line from 1.

Roles (jsonl and csv) are ``customer``, ``agent`` and ``system``, and these synonyms, in
any letter case:

==================  ============
written             read as
==================  ============
``user``            ``customer``
``assistant``       ``agent``
``bot``             ``agent``
``human_agent``     ``agent``
==================  ============

``human`` is refused on purpose: some exports use it for the customer, others for a human
agent.

csv: one row per turn
---------------------
Comma-separated, fields quoted with double quotes when they hold a comma, a quote (written
twice) or a line break (RFC 4180). The header names the columns, in any order::

    conversation_id,role,text,timestamp,company
    c-1001,customer,Where is my order?,2024-05-01T09:30:00Z,Kestrel
    c-1001,agent,"It left our warehouse this morning, tracking follows.",,Kestrel
    c-1002,user,Do you ship to Canada?,,Kestrel

``conversation_id``, ``role`` and ``text`` are required; ``timestamp`` is optional (an empty
cell means none). Any other column goes into the conversation's ``meta``, taken from the
conversation's first row, as the string in the cell (here ``{"company": "Kestrel"}``);
columns with an empty name (such as the index column pandas writes) are ignored. The rows of
one conversation must be contiguous and in turn order. The file is read row by row, so an id
that comes back after another conversation has started cannot be merged: those rows are
reported as a :class:`Malformed` naming their line (the part read earlier has already been
returned, incomplete). Sort such a file by ``conversation_id`` with a stable sort first.

twitter: IBM Twitter Customer Care (Conversational Document Prediction)
------------------------------------------------------------------------
The layout of ``dev.json``/``train.json`` from github.com/IBM/twitter-customer-care-document-
prediction: one JSON array; each element is a conversation between customers and a brand's
support account::

    [{"dialogHeader": {"company": "TeamYouTube", "sessionID": "LgwAXtbbEm0mBvDrGmjk",
                       "conversationDateTime": "2020-04-01T17:31:32.000Z", ...},
      "dialogContent": [
        {"client": "CinVakas", "message": "@TeamYouTube my channel ...",
         "datetime": "2020-04-01T17:31:32.000Z", "tweet_ID": "1245403438755852288"},
        {"agent": "TeamYouTube", "message": "@CinVakas Could you ...", "datetime": "...",
         "tweet_ID": "..."}],
      "agentURL": {"url_utterance": "@CinVakas Thanks for the tag ... https://...",
                   "url": "https://...", "doc_id": "1770", "turn": "2", "tweet_ID": "..."}}]

- The conversation id is ``dialogHeader.sessionID``; ``meta`` holds ``company`` (from the
  header) and ``url`` and ``doc_id`` (from ``agentURL``: the support page the final reply
  links to).
- Who wrote a tweet is marked by which key it has: ``agent`` (the value is the support
  account) makes it an ``agent`` turn; ``client``, or ``client1``, ``client2``, … (a second
  customer joining the thread; the value is their handle) makes it a ``customer`` turn. A
  tweet needs exactly one of these. ``message`` is the text and ``datetime`` the timestamp.
- ``agentURL.url_utterance`` is the final agent reply, which is *not* in ``dialogContent``;
  it is appended as the last ``agent`` turn, without a timestamp (the data has none for it).
  A conversation without ``agentURL`` simply has no such turn.

abcd: ASAPP Action-Based Conversations Dataset
----------------------------------------------
The layout of ``abcd_sample.json`` from github.com/asappresearch/abcd: one JSON array of
conversations::

    [{"convo_id": 3592,
      "scenario": {"flow": "product_defect", "subflow": "return_size", "personal": {...}, ...},
      "original": [["agent", "How can I help you?"],
                   ["customer", "I need to return an item."],
                   ["action", "Account has been pulled up for Crystal Minh."]],
      "delexed": [...]}]

- The conversation id is ``convo_id`` (an integer in the data, read as its decimal string).
- Turns come from ``original``, a list of ``[speaker, text]`` pairs: ``customer`` and
  ``agent`` keep their role; ``action`` (what the agent did in the agent tools, written as a
  sentence) becomes a ``system`` turn, kept in place so a replay can see what happened
  between the messages (skip ``system`` turns if you only want the dialogue). There are no
  timestamps. ``delexed`` (lower-cased, delexicalised copies) is ignored.
- ``meta`` holds ``flow`` and ``subflow`` from ``scenario`` when present; the rest of the
  scenario (the customer's personal and order details) is not copied.
- The full dataset file ``abcd_v1.1.json`` is one JSON *object* of ``train``/``dev``/
  ``test`` arrays, not an array: extract one split into its own file first.

Problems
--------
A conversation that cannot be used is yielded as :class:`Malformed`: a line or array
element that is not valid JSON, a missing or blank text, an unknown role, no turns, no
customer turn, a conversation id already used earlier in the file. ``Malformed.where`` names
the line (jsonl, csv) or the array element counted from 1 (``"dev.json, conversation 7"``).
Reading continues with the next conversation.

Problems with the whole file raise :class:`TranscriptError` with what is wrong and the fix:
a missing or unreadable file, text that is not UTF-8 (with the byte offset), a format that
cannot be detected or is unknown, a CSV header without the required columns, a JSON object
where an array belongs, broken JSON between array elements. ``read_transcripts`` checks the
file and its format when called; bytes that are not UTF-8 or broken structure further on are
found when reading reaches them, after the conversations before them have been yielded. A
file that ends in the middle of an array (truncated) yields a :class:`Malformed` for the cut
element or the missing ``]``.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from knowledge.errors import ShopbotError

Role = Literal["customer", "agent", "system"]

FORMATS = ("jsonl", "csv", "twitter", "abcd")

#: how much of a file is read at a time (characters for text, bytes for the UTF-8 check)
CHUNK_SIZE = 64 * 1024

_ROLES: dict[str, Role] = {
    "customer": "customer",
    "user": "customer",
    "agent": "agent",
    "assistant": "agent",
    "bot": "agent",
    "human_agent": "agent",
    "system": "system",
}
_ROLE_HELP = (
    "use customer, agent or system (or the synonyms user for customer; assistant, bot or "
    "human_agent for agent)"
)
_ABCD_ROLES: dict[str, Role] = {"customer": "customer", "agent": "agent", "action": "system"}
_TWITTER_CLIENT = re.compile(r"client\d*")
_CSV_REQUIRED = ("conversation_id", "role", "text")
_FORMAT_HELP = (
    "Known formats: jsonl (one JSON conversation per line), csv (one row per turn with "
    "conversation_id,role,text), twitter (the IBM Twitter Customer Care JSON array), abcd "
    "(the ABCD JSON array). Pass the format explicitly: --format NAME on the command line, "
    "or read_transcripts(path, format='NAME') from Python."
)
_ABCD_FULL_HINT = (
    "ABCD's full abcd_v1.1.json is an object of train/dev/test arrays: extract one split, e.g. "
    "python -c \"import json; json.dump(json.load(open('abcd_v1.1.json'))['dev'], "
    "open('abcd_dev.json', 'w'))\""
)
# JSON scanning: characters that matter outside and inside strings
_OUTSIDE = re.compile(r'["\[\]{}]')
_INSIDE = re.compile(r'["\\]')
_SCALAR_END = re.compile(r"[,\]\s]")
_NOT_WS = re.compile(r"[^ \t\r\n]")
_HEAD_LINE_LIMIT = 1024 * 1024


class TranscriptError(ShopbotError):
    """A transcript file cannot be read at all: missing, not UTF-8, unknown format, bad layout."""


@dataclass
class TranscriptTurn:
    """One message of a conversation."""

    role: Role
    text: str
    timestamp: str | None = None  # ISO-8601 string as given, or None


@dataclass
class Conversation:
    """A conversation that can be replayed: an id, its turns in order, and metadata."""

    id: str
    turns: list[TranscriptTurn]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Malformed:
    """A conversation that cannot be used, where it is in the file, and what to fix."""

    id: str | None  # the conversation id when it could be read
    where: str  # "file.jsonl, line 12" / "dev.json, conversation 7"
    reason: str  # what is wrong and how to fix it


_Item = Conversation | Malformed


# ---------------------------------------------------------------------------- public API


def detect_format(path: str | Path) -> str:
    """The format of a transcript file, one of :data:`FORMATS`, told from its content.

    Raises :class:`TranscriptError` when the file cannot be read or its format cannot be
    told; the message names the known formats and how to pass one explicitly.
    """
    p = _check_file(path)
    fmt, why = _sniff(p)
    if fmt is not None:
        return fmt
    first = _first_char(p)
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".ndjson") and first in (None, "{"):
        return "jsonl"  # an empty file, or a first line that is broken JSON
    if suffix == ".csv" and first not in ("[", "{"):
        return "csv"  # the header check says precisely what is missing
    raise TranscriptError(
        f"{p}: cannot tell which transcript format this is: {why}. {_FORMAT_HELP}"
    )


def read_transcripts(
    path: str | Path, format: str | None = None, *, chunk_size: int = CHUNK_SIZE
) -> Iterator[Conversation | Malformed]:
    """Conversations from a transcript file, one at a time, in file order.

    ``format`` is one of :data:`FORMATS`; when None it is detected (:func:`detect_format`).
    The file, its format and (for csv) its header are checked now, so whole-file problems
    raise :class:`TranscriptError` from this call; the conversations are read lazily.
    ``chunk_size`` is how many characters of a JSON-array file are read at a time.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    p = _check_file(path)
    if format is None:
        fmt = detect_format(p)
    else:
        fmt = format.strip().lower()
        if fmt not in FORMATS:
            raise TranscriptError(f"unknown transcript format {format!r}. {_FORMAT_HELP}")
        _check_explicit_format(p, fmt)
    if fmt == "csv":
        _check_csv_header(p)
    return _stream(p, fmt, chunk_size)


# ----------------------------------------------------------------------- the dispatcher


def _stream(p: Path, fmt: str, chunk_size: int) -> Iterator[_Item]:
    readers = {"jsonl": _read_jsonl, "csv": _read_csv, "twitter": _read_twitter, "abcd": _read_abcd}
    unit = "line" if fmt in ("jsonl", "csv") else "conversation"
    seen: dict[str, int] = {}  # conversation id -> the line or element where it first appeared
    try:
        for location, item in readers[fmt](p, chunk_size):
            if item.id is None:
                yield item
                continue
            first = seen.setdefault(item.id, location)
            if first != location and isinstance(item, Conversation):
                yield _repeated(p.name, fmt, unit, item.id, first, location)
            else:
                yield item
    except UnicodeDecodeError:
        raise _not_utf8(p) from None


def _repeated(name: str, fmt: str, unit: str, cid: str, first: int, location: int) -> Malformed:
    where = f"{name}, {unit} {location}"
    if fmt == "csv":
        reason = (
            f"rows of conversation {cid!r} start again at line {location} after another "
            f"conversation; its first rows (from line {first}) were already read as an "
            "incomplete conversation. The rows of one conversation must be contiguous: sort "
            "the file by conversation_id with a stable sort, which keeps the turn order"
        )
    else:
        reason = (
            f"conversation id {cid!r} was already used at {unit} {first}; conversation ids "
            "must be unique: give this conversation its own id or remove the duplicate"
        )
    return Malformed(cid, where, reason)


# ------------------------------------------------------------------------------- jsonl


def _read_jsonl(p: Path, chunk_size: int) -> Iterator[tuple[int, _Item]]:
    del chunk_size  # read line by line
    with _open_text(p) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{p.name}, line {lineno}"
            line = line.rstrip("\r\n")
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                reason = (
                    f"not valid JSON ({e.msg} at column {e.colno}); each line must be one "
                    "complete JSON object"
                )
                yield lineno, Malformed(_guess_id(line, "conversation_id"), where, reason)
                continue
            yield lineno, _jsonl_conversation(obj, where)


def _jsonl_conversation(obj: Any, where: str) -> _Item:
    if not isinstance(obj, dict):
        return Malformed(None, where, f"expected a JSON object, found {_kind(obj)}")
    cid = _coerce_id(obj.get("conversation_id"))
    if cid is None:
        return Malformed(
            None, where, 'missing "conversation_id": give every conversation a non-empty string id'
        )
    meta = obj.get("meta")
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        return Malformed(cid, where, f'"meta" must be a JSON object, found {_kind(meta)}')
    raw_turns = obj.get("turns")
    if not isinstance(raw_turns, list):
        return Malformed(cid, where, f'"turns" must be a list of turns, found {_kind(raw_turns)}')
    turns: list[TranscriptTurn] = []
    for i, raw in enumerate(raw_turns, 1):
        if not isinstance(raw, dict):
            return Malformed(cid, where, f"turn {i} must be a JSON object, found {_kind(raw)}")
        turn = _make_turn(raw.get("role"), raw.get("text"), raw.get("timestamp"))
        if isinstance(turn, str):
            return Malformed(cid, where, f"turn {i}: {turn}")
        turns.append(turn)
    return _finish(cid, turns, dict(meta), where)


# --------------------------------------------------------------------------------- csv


@dataclass
class _CsvColumns:
    id: int
    role: int
    text: int
    timestamp: int | None
    extra: list[tuple[str, int]]
    width: int


def _csv_columns(header: list[str], p: Path) -> _CsvColumns:
    names = [h.strip() for h in header]
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        if not name:
            continue
        key = name.lower() if name.lower() in (*_CSV_REQUIRED, "timestamp") else name
        if key in index:
            raise TranscriptError(
                f"{p}, line 1: the CSV header names the column {name!r} twice; rename one"
            )
        index[key] = i
    missing = [c for c in _CSV_REQUIRED if c not in index]
    if missing:
        hint = ""
        raw = ",".join(header)
        for sep, label in ((";", "semicolons"), ("\t", "tabs")):
            if sep in raw:
                hint = f" The header seems to use {label}: save the file comma-separated."
                break
        raise TranscriptError(
            f"{p}, line 1: the CSV header must name the columns conversation_id, role and text "
            f"(timestamp and other columns are optional); it is missing {', '.join(missing)} "
            f"(found: {', '.join(repr(n) for n in names)}).{hint}"
        )
    known = {*_CSV_REQUIRED, "timestamp"}
    return _CsvColumns(
        id=index["conversation_id"],
        role=index["role"],
        text=index["text"],
        timestamp=index.get("timestamp"),
        extra=[(k, i) for k, i in index.items() if k not in known],
        width=len(header),
    )


def _check_csv_header(p: Path) -> None:
    try:
        with _open_text(p) as f:
            for row in csv.reader(f):
                if any(cell.strip() for cell in row):
                    _csv_columns(row, p)
                    return
    except UnicodeDecodeError:
        raise _not_utf8(p) from None
    except csv.Error as e:
        raise TranscriptError(f"{p}: the CSV header cannot be read ({e})") from None


class _CsvGroup:
    """The rows of one conversation, as they arrive."""

    def __init__(self, cid: str, line: int, meta: dict[str, Any]) -> None:
        self.id = cid
        self.first_line = line
        self.last_line = line
        self.meta = meta
        self.turns: list[TranscriptTurn] = []
        self.problem: tuple[int, str] | None = None  # (line, reason) of the first bad row

    def result(self, name: str) -> _Item:
        if self.problem is not None:
            line, reason = self.problem
            return Malformed(self.id, f"{name}, line {line}", reason)
        if self.first_line == self.last_line:
            where = f"{name}, line {self.first_line}"
        else:
            where = f"{name}, lines {self.first_line}-{self.last_line}"
        return _finish(self.id, self.turns, self.meta, where)


def _read_csv(p: Path, chunk_size: int) -> Iterator[tuple[int, _Item]]:
    del chunk_size  # read row by row
    with _open_text(p) as f:
        reader = csv.reader(f)
        cols: _CsvColumns | None = None
        group: _CsvGroup | None = None
        end = 0  # the last physical line of the previous record
        try:
            for row in reader:
                line, end = end + 1, reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if cols is None:
                    cols = _csv_columns(row, p)
                    continue
                if cols.id >= len(row) or not row[cols.id].strip():
                    yield (
                        line,
                        Malformed(
                            None,
                            f"{p.name}, line {line}",
                            "no conversation_id: every row needs the id of its conversation",
                        ),
                    )
                    continue
                cid = row[cols.id]
                if group is None or cid != group.id:
                    if group is not None:
                        yield group.first_line, group.result(p.name)
                    meta = {k: row[i] for k, i in cols.extra if i < len(row)}
                    group = _CsvGroup(cid, line, meta)
                group.last_line = end
                if group.problem is None:
                    problem = _csv_row(row, cols, len(group.turns) + 1, group.turns)
                    if problem is not None:
                        group.problem = (line, problem)
        except csv.Error as e:
            raise TranscriptError(
                f"{p}, line {reader.line_num}: the CSV cannot be read ({e}); check the quoting "
                "of that row: a field with commas, quotes or line breaks must be in double quotes"
            ) from None
        if group is not None:
            yield group.first_line, group.result(p.name)


def _csv_row(
    row: list[str], cols: _CsvColumns, number: int, turns: list[TranscriptTurn]
) -> str | None:
    """Appends the row's turn; returns what is wrong with the row instead, if anything."""
    if len(row) != cols.width:
        return (
            f"the row has {len(row)} fields but the header has {cols.width}; put text that "
            "contains commas, quotes or line breaks in double quotes (quotes inside doubled)"
        )
    timestamp = row[cols.timestamp] if cols.timestamp is not None else None
    turn = _make_turn(row[cols.role], row[cols.text], timestamp)
    if isinstance(turn, str):
        return f"turn {number}: {turn}"
    turns.append(turn)
    return None


# ------------------------------------------------------------------------ twitter, abcd


def _read_array(
    p: Path, chunk_size: int, id_key: str, convert: Callable[[Any, str], _Item]
) -> Iterator[tuple[int, _Item]]:
    """A JSON array of conversations, one element at a time (``id_key`` names the id of a
    broken element in its report)."""
    with _open_text(p) as f:
        for index, value in _JsonArray(f, p, chunk_size):
            if isinstance(value, _Broken):
                yield index, value.malformed(p.name, index, id_key)
            else:
                yield index, convert(value, f"{p.name}, conversation {index}")


def _read_twitter(p: Path, chunk_size: int) -> Iterator[tuple[int, _Item]]:
    return _read_array(p, chunk_size, "sessionID", _twitter_conversation)


def _twitter_conversation(obj: Any, where: str) -> _Item:
    if not isinstance(obj, dict):
        return Malformed(None, where, f"expected a JSON object, found {_kind(obj)}")
    header = obj.get("dialogHeader")
    if not isinstance(header, dict):
        return Malformed(None, where, 'no "dialogHeader" object: is this the twitter format?')
    cid = _coerce_id(header.get("sessionID"))
    if cid is None:
        return Malformed(None, where, 'no "dialogHeader.sessionID": the conversation needs an id')
    content = obj.get("dialogContent")
    if not isinstance(content, list):
        return Malformed(cid, where, f'"dialogContent" must be a list, found {_kind(content)}')
    turns: list[TranscriptTurn] = []
    for i, tweet in enumerate(content, 1):
        if not isinstance(tweet, dict):
            return Malformed(cid, where, f"tweet {i} must be a JSON object, found {_kind(tweet)}")
        marks = [k for k in tweet if k == "agent" or _TWITTER_CLIENT.fullmatch(k)]
        if len(marks) != 1:
            found = ", ".join(marks) if marks else "neither"
            return Malformed(
                cid,
                where,
                f"tweet {i} must have exactly one of 'client' (or client1, client2, ...) for "
                f"the customer or 'agent' for the support account; it has {found}",
            )
        role: Role = "agent" if marks[0] == "agent" else "customer"
        turn = _make_turn(role, tweet.get("message"), tweet.get("datetime"), text_key="message")
        if isinstance(turn, str):
            return Malformed(cid, where, f"tweet {i}: {turn}")
        turns.append(turn)
    meta: dict[str, Any] = {}
    if "company" in header:
        meta["company"] = header["company"]
    final = obj.get("agentURL")
    if final is not None:
        if not isinstance(final, dict):
            return Malformed(cid, where, f'"agentURL" must be an object, found {_kind(final)}')
        utterance = final.get("url_utterance")
        if not isinstance(utterance, str) or not utterance.strip():
            return Malformed(
                cid, where, '"agentURL.url_utterance" (the final agent reply) is missing or blank'
            )
        turns.append(TranscriptTurn("agent", utterance))
        for key in ("url", "doc_id"):
            if key in final:
                meta[key] = final[key]
    return _finish(cid, turns, meta, where)


def _read_abcd(p: Path, chunk_size: int) -> Iterator[tuple[int, _Item]]:
    return _read_array(p, chunk_size, "convo_id", _abcd_conversation)


def _abcd_conversation(obj: Any, where: str) -> _Item:
    if not isinstance(obj, dict):
        return Malformed(None, where, f"expected a JSON object, found {_kind(obj)}")
    cid = _coerce_id(obj.get("convo_id"))
    if cid is None:
        return Malformed(None, where, 'no "convo_id": the conversation needs an id')
    original = obj.get("original")
    if not isinstance(original, list):
        return Malformed(
            cid, where, 'no "original" list of [speaker, text] pairs (delexed alone is not read)'
        )
    turns: list[TranscriptTurn] = []
    for i, pair in enumerate(original, 1):
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
            return Malformed(cid, where, f"turn {i} is not a [speaker, text] pair")
        role = _ABCD_ROLES.get(pair[0])
        if role is None:
            return Malformed(
                cid,
                where,
                f"turn {i} has speaker {pair[0]!r}; ABCD speakers are customer, agent and action",
            )
        turn = _make_turn(role, pair[1], None)
        if isinstance(turn, str):
            return Malformed(cid, where, f"turn {i}: {turn}")
        turns.append(turn)
    scenario = obj.get("scenario")
    meta: dict[str, Any] = {}
    if isinstance(scenario, dict):
        meta = {k: scenario[k] for k in ("flow", "subflow") if k in scenario}
    return _finish(cid, turns, meta, where)


# ---------------------------------------------------------- the incremental JSON array


@dataclass
class _Broken:
    """An array element that is not valid JSON (or cut off by the end of the file)."""

    text: str
    reason: str
    at_end: bool = False  # the array itself is cut off after its last element

    def malformed(self, name: str, index: int, id_key: str) -> Malformed:
        where = f"{name}, end of file" if self.at_end else f"{name}, conversation {index}"
        return Malformed(_guess_id(self.text, id_key), where, self.reason)


class _JsonArray:
    """Yields ``(index, element)`` from a JSON array, counting from 1, reading in chunks.

    A small scanner finds where each element ends (tracking brackets and braces outside
    strings, quotes and backslash escapes inside them, with its state kept across chunks);
    the element's text is then decoded with ``json.JSONDecoder().raw_decode``. Only the
    current element is held in memory. An element that does not decode is yielded as
    :class:`_Broken` and reading goes on; broken structure between elements raises
    :class:`TranscriptError`.
    """

    def __init__(self, stream: TextIO, path: Path, chunk_size: int) -> None:
        self._stream = stream
        self._path = path
        self._chunk_size = chunk_size
        self._decoder = json.JSONDecoder()
        self._buf = ""
        self._pos = 0  # the scanner's position in _buf
        self._mark = 0  # _buf[:_mark] may be dropped when more is read
        self._dropped = 0  # characters dropped so far, to report offsets in the file
        self._eof = False

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        c = self._skip_ws()
        if c is None:
            raise TranscriptError(f"{self._path}: the file is empty; expected a JSON array [...]")
        if c != "[":
            raise _not_array(self._path, c)
        self._pos += 1
        index = 0
        c = self._skip_ws()
        while c != "]":
            if c is None:
                yield index + 1, self._truncated_array(index)
                return
            if c == ",":
                raise self._structure_error(index, "a value", c)
            index += 1
            text, complete = self._scan_element()
            if not complete:
                reason = (
                    "the file ends inside this conversation: the file is truncated; export or "
                    "download it again"
                )
                yield index, _Broken(text, reason)
                return
            yield index, self._decode(text)
            self._mark = self._pos
            c = self._skip_ws()
            if c == ",":
                self._pos += 1
                c = self._skip_ws()
                if c == "]":  # a trailing comma: tolerated
                    break
            elif c is not None and c != "]":
                raise self._structure_error(index, "',' or ']'", c)
        self._pos += 1
        c = self._skip_ws()
        if c is not None:
            raise TranscriptError(
                f"{self._path}: there is more data after the closing ']' of the JSON array (at "
                f"character {self._offset()}); a file must hold exactly one array"
            )

    def _decode(self, text: str) -> Any:
        try:
            value, end = self._decoder.raw_decode(text)
        except json.JSONDecodeError as e:
            return _Broken(text, f"not valid JSON: {e.msg} at character {e.pos} of the element")
        if end != len(text):  # a scalar followed by junk, e.g. `12x`
            return _Broken(text, f"not valid JSON: extra data at character {end} of the element")
        return value

    def _fill(self) -> bool:
        """Reads one more chunk, dropping what lies before the mark. False at end of file."""
        if self._eof:
            return False
        chunk = self._stream.read(self._chunk_size)
        if self._mark:
            self._buf = self._buf[self._mark :]
            self._pos -= self._mark
            self._dropped += self._mark
            self._mark = 0
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    def _skip_ws(self) -> str | None:
        """Moves to the next character that is not whitespace and returns it (None at EOF)."""
        while True:
            m = _NOT_WS.search(self._buf, self._pos)
            if m is not None:
                self._pos = m.start()
                return self._buf[self._pos]
            self._pos = self._mark = len(self._buf)
            if not self._fill():
                return None

    def _scan_element(self) -> tuple[str, bool]:
        """The text of the element starting at the position, and whether it is complete."""
        self._mark = start = self._pos
        scalar = self._buf[start] not in '{["'
        depth = 0
        in_string = False
        while True:
            buf = self._buf
            resume = len(buf)  # where to carry on scanning once more text has been read
            if scalar:
                m = _SCALAR_END.search(buf, self._pos)
                if m is not None:
                    self._pos = m.start()
                    return buf[self._mark : self._pos], True
            elif in_string:
                m = _INSIDE.search(buf, self._pos)
                if m is not None:
                    if m.group() == "\\":
                        if m.end() < len(buf):
                            self._pos = m.end() + 1  # skip the escaped character
                            continue
                        resume = m.start()  # the escaped character is in the next chunk
                    else:
                        self._pos = m.end()
                        in_string = False
                        if depth == 0:
                            return buf[self._mark : self._pos], True
                        continue
            else:
                m = _OUTSIDE.search(buf, self._pos)
                if m is not None:
                    self._pos = m.end()
                    c = m.group()
                    if c == '"':
                        in_string = True
                    elif c in "{[":
                        depth += 1
                    else:
                        depth -= 1
                        if depth <= 0:
                            return buf[self._mark : self._pos], True
                    continue
            self._pos = resume
            if not self._fill():
                return self._buf[self._mark :], scalar

    def _offset(self) -> int:
        return self._dropped + self._pos

    def _structure_error(self, index: int, expected: str, found: str) -> TranscriptError:
        after = f"after conversation {index}" if index else "at the start of the array"
        return TranscriptError(
            f"{self._path}: not a valid JSON array: expected {expected} {after}, found {found!r} "
            f"at character {self._offset()}; the file is damaged: export or download it again"
        )

    def _truncated_array(self, index: int) -> _Broken:
        after = f"after conversation {index}" if index else "right after the opening '['"
        return _Broken(
            "",
            f"the file ends {after} without the closing ']' of the JSON array: the file is "
            "truncated; export or download it again",
            at_end=True,
        )


def _not_array(p: Path, first: str) -> TranscriptError:
    if first == "{":
        what = "is one JSON object, not a JSON array of conversations"
        hint = f" {_ABCD_FULL_HINT}." if _looks_like_abcd_full(p) else ""
        return TranscriptError(
            f"{p}: {what}; the twitter and abcd formats are a JSON array [...] of "
            f"conversations.{hint} A file with one JSON conversation per line is --format jsonl."
        )
    return TranscriptError(
        f"{p}: not a JSON array: it starts with {first!r} instead of '['; the twitter and abcd "
        "formats are a JSON array [...] of conversations"
    )


def _looks_like_abcd_full(p: Path) -> bool:
    try:
        with _open_text(p) as f:
            head = f.read(4096)
    except (UnicodeDecodeError, TranscriptError):
        return False
    return re.match(r'\s*\{\s*"(train|dev|test)"\s*:\s*\[', head) is not None


# ------------------------------------------------------------------------ detection


def _sniff(p: Path) -> tuple[str | None, str]:
    """The format the content shows, or None and why not. Raises on unreadable files."""
    try:
        return _sniff_text(p)
    except UnicodeDecodeError:
        raise _not_utf8(p) from None


def _sniff_text(p: Path) -> tuple[str | None, str]:
    with _open_text(p) as f:
        head = f.read(CHUNK_SIZE)
    stripped = head.lstrip()
    if not stripped:
        return None, "the file is empty"
    first = stripped[0]
    if first == "[":
        with _open_text(p) as f:
            element = next(iter(_JsonArray(f, p, CHUNK_SIZE)), None)
        if element is None:
            return None, "it is an empty JSON array"
        value = element[1]
        if isinstance(value, _Broken):
            keys = {k for k in ("dialogHeader", "convo_id") if f'"{k}"' in value.text}
        elif isinstance(value, dict):
            keys = set(value)
        else:
            return None, f"it is a JSON array whose first element is {_kind(value)}"
        if keys & {"dialogHeader", "dialogContent"}:
            return "twitter", ""
        if keys & {"convo_id", "original"}:
            return "abcd", ""
        if keys & {"conversation_id", "turns"}:
            return None, (
                "it is a JSON array of conversations in the jsonl layout; write one conversation "
                "per line instead, e.g. jq -c '.[]' in.json > out.jsonl"
            )
        return None, f"it is a JSON array whose first element has the keys {_keys(keys)}"
    if first == "{":
        if _looks_like_abcd_full(p):
            return None, f"it is one JSON object, not a JSON array or JSON Lines; {_ABCD_FULL_HINT}"
        with _open_text(p) as f:
            line = ""
            while not line.strip():
                line = f.readline(_HEAD_LINE_LIMIT)
                if not line:
                    break
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            return None, (
                "it starts with '{' but its first line is not a complete JSON object (one JSON "
                "object over many lines is not a transcript format; the twitter and abcd formats "
                "are a JSON array [...])"
            )
        if isinstance(obj, dict) and {"conversation_id", "turns"} & set(obj):
            return "jsonl", ""
        if isinstance(obj, dict) and {"dialogHeader", "convo_id"} & set(obj):
            return None, (
                "it holds twitter or abcd conversations one per line, but those formats are read "
                "as the JSON array they are published as"
            )
        keys = _keys(set(obj)) if isinstance(obj, dict) else _kind(obj)
        return None, f"its first line is a JSON object with the keys {keys}"
    for row in csv.reader(head.splitlines()[:50]):
        if any(cell.strip() for cell in row):
            names = {cell.strip().lower() for cell in row}
            if set(_CSV_REQUIRED) <= names:
                return "csv", ""
            break
    return None, (
        "it is not JSON, and its first line is not a CSV header with the columns "
        "conversation_id, role and text"
    )


def _check_explicit_format(p: Path, fmt: str) -> None:
    """Refuses a format the content clearly contradicts."""
    looks, _ = _sniff(p)
    if looks is not None and looks != fmt:
        raise TranscriptError(
            f"{p}: the format {fmt!r} was asked for, but the file looks like {looks!r}; pass "
            f"--format {looks} (format='{looks}'), or leave the format out to detect it"
        )
    if fmt in ("twitter", "abcd"):
        first = _first_char(p)
        if first is None:
            raise TranscriptError(f"{p}: the file is empty; expected a JSON array [...]")
        if first != "[":
            raise _not_array(p, first)


def _first_char(p: Path) -> str | None:
    try:
        with _open_text(p) as f:
            while chunk := f.read(CHUNK_SIZE):
                m = _NOT_WS.search(chunk)
                if m is not None:
                    return m.group()
    except UnicodeDecodeError:
        raise _not_utf8(p) from None
    return None


# -------------------------------------------------------------------------- helpers


def _check_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise TranscriptError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise TranscriptError(f"{p}: is a directory; pass one transcript file")
    try:
        with p.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise TranscriptError(f"{p}: cannot be read ({e.strerror}); check its permissions") from e
    if magic.startswith(b"\x1f\x8b"):
        raise TranscriptError(f"{p}: is gzip-compressed; decompress it first (gunzip -k {p})")
    return p


def _open_text(p: Path) -> TextIO:
    try:
        return p.open(encoding="utf-8-sig", newline="")
    except OSError as e:
        raise TranscriptError(f"{p}: cannot be read ({e.strerror}); check its permissions") from e


def _not_utf8(p: Path) -> TranscriptError:
    """The error for a file that is not UTF-8, naming the first bad byte."""
    found = _first_bad_utf8(p)
    hint = (
        "Convert it to UTF-8, e.g. iconv -f WINDOWS-1252 -t UTF-8 in.csv > out.csv "
        "(with the file's real encoding)"
    )
    with p.open("rb") as f:
        if f.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            hint = "It is UTF-16 text; save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)"
    if found is None:
        return TranscriptError(f"{p}: is not UTF-8 text. {hint}.")
    offset, line, byte = found
    return TranscriptError(
        f"{p}: is not UTF-8 text: byte 0x{byte:02x} at byte offset {offset} (line {line}) is "
        f"not valid UTF-8. {hint}."
    )


def _first_bad_utf8(p: Path) -> tuple[int, int, int] | None:
    """(byte offset, line, byte value) of the first byte that is not valid UTF-8, if any."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    fed = 0
    lines = 1
    with p.open("rb") as f:
        while True:
            chunk = f.read(CHUNK_SIZE)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as e:
                data = bytes(e.object)
                pending = len(data) - len(chunk)  # bytes held back from the previous chunk
                bad = data[: e.start]
                return fed - pending + e.start, lines + bad.count(b"\n"), data[e.start]
            if not chunk:
                return None
            fed += len(chunk)
            lines += chunk.count(b"\n")


def _make_turn(
    role: Any, text: Any, timestamp: Any, *, text_key: str = "text"
) -> TranscriptTurn | str:
    """A turn, or what is wrong with it."""
    mapped = _ROLES.get(role.strip().lower()) if isinstance(role, str) else None
    if mapped is None:
        if role is None or role == "":
            return f"no role; {_ROLE_HELP}"
        return f"unknown role {role!r}; {_ROLE_HELP}"
    if not isinstance(text, str):
        if text is None:
            return f'no "{text_key}": every turn needs its message text'
        return f'"{text_key}" must be a string, found {_kind(text)}'
    if not text.strip():
        return f'"{text_key}" is blank: every turn needs its message text'
    if timestamp == "":
        timestamp = None
    if timestamp is not None and not isinstance(timestamp, str):
        return f"the timestamp must be an ISO-8601 string, found {_kind(timestamp)}"
    return TranscriptTurn(mapped, text, timestamp)


def _finish(cid: str, turns: list[TranscriptTurn], meta: dict[str, Any], where: str) -> _Item:
    if not turns:
        return Malformed(cid, where, "the conversation has no turns; remove it or add its turns")
    if not any(t.role == "customer" for t in turns):
        return Malformed(
            cid,
            where,
            "the conversation has no customer turn, so there is nothing to replay; check that "
            "the customer's turns have role customer (or user)",
        )
    return Conversation(cid, turns, meta)


def _coerce_id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def _guess_id(text: str, key: str) -> str | None:
    """The conversation id from text that is not valid JSON, when it can be picked out."""
    m = re.search(rf'"{re.escape(key)}"\s*:\s*(?:"((?:[^"\\]|\\.)*)"|(-?\d+))', text)
    if m is None:
        return None
    if m.group(2) is not None:
        return m.group(2)
    try:
        return _coerce_id(json.loads(f'"{m.group(1)}"'))
    except json.JSONDecodeError:
        return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _keys(keys: set[str]) -> str:
    shown = sorted(keys)[:8]
    more = ", ..." if len(keys) > 8 else ""
    return ", ".join(shown) + more if shown else "(none)"
