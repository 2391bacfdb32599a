"""Transcript types, the format constants and the helpers every reader shares."""

from __future__ import annotations

import codecs
import json
import re
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
ABCD_ROLES: dict[str, Role] = {"customer": "customer", "agent": "agent", "action": "system"}
TWITTER_CLIENT = re.compile(r"client\d*")
CSV_REQUIRED = ("conversation_id", "role", "text")
FORMAT_HELP = (
    "Known formats: jsonl (one JSON conversation per line), csv (one row per turn with "
    "conversation_id,role,text), twitter (the IBM Twitter Customer Care JSON array), abcd "
    "(the ABCD JSON array). Pass the format explicitly: --format NAME on the command line, "
    "or read_transcripts(path, format='NAME') from Python."
)
ABCD_FULL_HINT = (
    "ABCD's full abcd_v1.1.json is an object of train/dev/test arrays: extract one split, e.g. "
    "python -c \"import json; json.dump(json.load(open('abcd_v1.1.json'))['dev'], "
    "open('abcd_dev.json', 'w'))\""
)
# JSON scanning: characters that matter outside and inside strings
OUTSIDE = re.compile(r'["\[\]{}]')
INSIDE = re.compile(r'["\\]')
SCALAR_END = re.compile(r"[,\]\s]")
NOT_WS = re.compile(r"[^ \t\r\n]")
HEAD_LINE_LIMIT = 1024 * 1024


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


Item = Conversation | Malformed


def repeated_id(name: str, fmt: str, unit: str, cid: str, first: int, location: int) -> Malformed:
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


def check_file(path: str | Path) -> Path:
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


def open_text(p: Path) -> TextIO:
    try:
        return p.open(encoding="utf-8-sig", newline="")
    except OSError as e:
        raise TranscriptError(f"{p}: cannot be read ({e.strerror}); check its permissions") from e


def not_utf8(p: Path) -> TranscriptError:
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


def make_turn(
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
        return f'"{text_key}" must be a string, found {kind_of(text)}'
    if not text.strip():
        return f'"{text_key}" is blank: every turn needs its message text'
    if timestamp == "":
        timestamp = None
    if timestamp is not None and not isinstance(timestamp, str):
        return f"the timestamp must be an ISO-8601 string, found {kind_of(timestamp)}"
    return TranscriptTurn(mapped, text, timestamp)


def finish_conversation(
    cid: str, turns: list[TranscriptTurn], meta: dict[str, Any], where: str
) -> Item:
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


def coerce_id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def guess_id(text: str, key: str) -> str | None:
    """The conversation id from text that is not valid JSON, when it can be picked out."""
    m = re.search(rf'"{re.escape(key)}"\s*:\s*(?:"((?:[^"\\]|\\.)*)"|(-?\d+))', text)
    if m is None:
        return None
    if m.group(2) is not None:
        return m.group(2)
    try:
        return coerce_id(json.loads(f'"{m.group(1)}"'))
    except json.JSONDecodeError:
        return None


def kind_of(value: Any) -> str:
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


def key_list(keys: set[str]) -> str:
    shown = sorted(keys)[:8]
    more = ", ..." if len(keys) > 8 else ""
    return ", ".join(shown) + more if shown else "(none)"
