"""Telling the formats apart by content (the extension is only a hint)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from connectors.transcripts.jsonarray import Broken, JsonArray, looks_like_abcd_full, not_array
from connectors.transcripts.model import (
    ABCD_FULL_HINT,
    CHUNK_SIZE,
    CSV_REQUIRED,
    HEAD_LINE_LIMIT,
    NOT_WS,
    TranscriptError,
    key_list,
    kind_of,
    not_utf8,
    open_text,
)


def sniff_format(p: Path) -> tuple[str | None, str]:
    """The format the content shows, or None and why not. Raises on unreadable files."""
    try:
        return _sniff_text(p)
    except UnicodeDecodeError:
        raise not_utf8(p) from None


def _sniff_text(p: Path) -> tuple[str | None, str]:
    with open_text(p) as f:
        head = f.read(CHUNK_SIZE)
    stripped = head.lstrip()
    if not stripped:
        return None, "the file is empty"
    first = stripped[0]
    if first == "[":
        with open_text(p) as f:
            element = next(iter(JsonArray(f, p, CHUNK_SIZE)), None)
        if element is None:
            return None, "it is an empty JSON array"
        value = element[1]
        if isinstance(value, Broken):
            keys = {k for k in ("dialogHeader", "convo_id") if f'"{k}"' in value.text}
        elif isinstance(value, dict):
            keys = set(value)
        else:
            return None, f"it is a JSON array whose first element is {kind_of(value)}"
        if keys & {"dialogHeader", "dialogContent"}:
            return "twitter", ""
        if keys & {"convo_id", "original"}:
            return "abcd", ""
        if keys & {"conversation_id", "turns"}:
            return None, (
                "it is a JSON array of conversations in the jsonl layout; write one conversation "
                "per line instead, e.g. jq -c '.[]' in.json > out.jsonl"
            )
        return None, f"it is a JSON array whose first element has the keys {key_list(keys)}"
    if first == "{":
        if looks_like_abcd_full(p):
            return None, f"it is one JSON object, not a JSON array or JSON Lines; {ABCD_FULL_HINT}"
        with open_text(p) as f:
            line = ""
            while not line.strip():
                line = f.readline(HEAD_LINE_LIMIT)
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
        keys = key_list(set(obj)) if isinstance(obj, dict) else kind_of(obj)
        return None, f"its first line is a JSON object with the keys {keys}"
    for row in csv.reader(head.splitlines()[:50]):
        if any(cell.strip() for cell in row):
            names = {cell.strip().lower() for cell in row}
            if set(CSV_REQUIRED) <= names:
                return "csv", ""
            break
    return None, (
        "it is not JSON, and its first line is not a CSV header with the columns "
        "conversation_id, role and text"
    )


def check_explicit_format(p: Path, fmt: str) -> None:
    """Refuses a format the content clearly contradicts."""
    looks, _ = sniff_format(p)
    if looks is not None and looks != fmt:
        raise TranscriptError(
            f"{p}: the format {fmt!r} was asked for, but the file looks like {looks!r}; pass "
            f"--format {looks} (format='{looks}'), or leave the format out to detect it"
        )
    if fmt in ("twitter", "abcd"):
        first = first_char(p)
        if first is None:
            raise TranscriptError(f"{p}: the file is empty; expected a JSON array [...]")
        if first != "[":
            raise not_array(p, first)


def first_char(p: Path) -> str | None:
    try:
        with open_text(p) as f:
            while chunk := f.read(CHUNK_SIZE):
                m = NOT_WS.search(chunk)
                if m is not None:
                    return m.group()
    except UnicodeDecodeError:
        raise not_utf8(p) from None
    return None
