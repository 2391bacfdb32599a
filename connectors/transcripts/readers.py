"""The four readers: JSON Lines, CSV, the Twitter customer-care JSON and ABCD."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.transcripts.jsonarray import Broken, JsonArray
from connectors.transcripts.model import (
    ABCD_ROLES,
    CSV_REQUIRED,
    TWITTER_CLIENT,
    Item,
    Malformed,
    Role,
    TranscriptError,
    TranscriptTurn,
    coerce_id,
    finish_conversation,
    guess_id,
    kind_of,
    make_turn,
    not_utf8,
    open_text,
)


def read_jsonl(p: Path, chunk_size: int) -> Iterator[tuple[int, Item]]:
    del chunk_size  # read line by line
    with open_text(p) as f:
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
                yield lineno, Malformed(guess_id(line, "conversation_id"), where, reason)
                continue
            yield lineno, _jsonl_conversation(obj, where)


def _jsonl_conversation(obj: Any, where: str) -> Item:
    if not isinstance(obj, dict):
        return Malformed(None, where, f"expected a JSON object, found {kind_of(obj)}")
    cid = coerce_id(obj.get("conversation_id"))
    if cid is None:
        return Malformed(
            None, where, 'missing "conversation_id": give every conversation a non-empty string id'
        )
    meta = obj.get("meta")
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        return Malformed(cid, where, f'"meta" must be a JSON object, found {kind_of(meta)}')
    raw_turns = obj.get("turns")
    if not isinstance(raw_turns, list):
        return Malformed(cid, where, f'"turns" must be a list of turns, found {kind_of(raw_turns)}')
    turns: list[TranscriptTurn] = []
    for i, raw in enumerate(raw_turns, 1):
        if not isinstance(raw, dict):
            return Malformed(cid, where, f"turn {i} must be a JSON object, found {kind_of(raw)}")
        turn = make_turn(raw.get("role"), raw.get("text"), raw.get("timestamp"))
        if isinstance(turn, str):
            return Malformed(cid, where, f"turn {i}: {turn}")
        turns.append(turn)
    return finish_conversation(cid, turns, dict(meta), where)


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
        key = name.lower() if name.lower() in (*CSV_REQUIRED, "timestamp") else name
        if key in index:
            raise TranscriptError(
                f"{p}, line 1: the CSV header names the column {name!r} twice; rename one"
            )
        index[key] = i
    missing = [c for c in CSV_REQUIRED if c not in index]
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
    known = {*CSV_REQUIRED, "timestamp"}
    return _CsvColumns(
        id=index["conversation_id"],
        role=index["role"],
        text=index["text"],
        timestamp=index.get("timestamp"),
        extra=[(k, i) for k, i in index.items() if k not in known],
        width=len(header),
    )


def check_csv_header(p: Path) -> None:
    try:
        with open_text(p) as f:
            for row in csv.reader(f):
                if any(cell.strip() for cell in row):
                    _csv_columns(row, p)
                    return
    except UnicodeDecodeError:
        raise not_utf8(p) from None
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

    def result(self, name: str) -> Item:
        if self.problem is not None:
            line, reason = self.problem
            return Malformed(self.id, f"{name}, line {line}", reason)
        if self.first_line == self.last_line:
            where = f"{name}, line {self.first_line}"
        else:
            where = f"{name}, lines {self.first_line}-{self.last_line}"
        return finish_conversation(self.id, self.turns, self.meta, where)


def read_csv(p: Path, chunk_size: int) -> Iterator[tuple[int, Item]]:
    del chunk_size  # read row by row
    with open_text(p) as f:
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
    turn = make_turn(row[cols.role], row[cols.text], timestamp)
    if isinstance(turn, str):
        return f"turn {number}: {turn}"
    turns.append(turn)
    return None


def _read_array(
    p: Path, chunk_size: int, id_key: str, convert: Callable[[Any, str], Item]
) -> Iterator[tuple[int, Item]]:
    """A JSON array of conversations, one element at a time (``id_key`` names the id of a
    broken element in its report)."""
    with open_text(p) as f:
        for index, value in JsonArray(f, p, chunk_size):
            if isinstance(value, Broken):
                yield index, value.malformed(p.name, index, id_key)
            else:
                yield index, convert(value, f"{p.name}, conversation {index}")


def read_twitter(p: Path, chunk_size: int) -> Iterator[tuple[int, Item]]:
    return _read_array(p, chunk_size, "sessionID", _twitter_conversation)


def _twitter_conversation(obj: Any, where: str) -> Item:
    if not isinstance(obj, dict):
        return Malformed(None, where, f"expected a JSON object, found {kind_of(obj)}")
    header = obj.get("dialogHeader")
    if not isinstance(header, dict):
        return Malformed(None, where, 'no "dialogHeader" object: is this the twitter format?')
    cid = coerce_id(header.get("sessionID"))
    if cid is None:
        return Malformed(None, where, 'no "dialogHeader.sessionID": the conversation needs an id')
    content = obj.get("dialogContent")
    if not isinstance(content, list):
        return Malformed(cid, where, f'"dialogContent" must be a list, found {kind_of(content)}')
    turns: list[TranscriptTurn] = []
    for i, tweet in enumerate(content, 1):
        if not isinstance(tweet, dict):
            return Malformed(cid, where, f"tweet {i} must be a JSON object, found {kind_of(tweet)}")
        marks = [k for k in tweet if k == "agent" or TWITTER_CLIENT.fullmatch(k)]
        if len(marks) != 1:
            found = ", ".join(marks) if marks else "neither"
            return Malformed(
                cid,
                where,
                f"tweet {i} must have exactly one of 'client' (or client1, client2, ...) for "
                f"the customer or 'agent' for the support account; it has {found}",
            )
        role: Role = "agent" if marks[0] == "agent" else "customer"
        turn = make_turn(role, tweet.get("message"), tweet.get("datetime"), text_key="message")
        if isinstance(turn, str):
            return Malformed(cid, where, f"tweet {i}: {turn}")
        turns.append(turn)
    meta: dict[str, Any] = {}
    if "company" in header:
        meta["company"] = header["company"]
    final = obj.get("agentURL")
    if final is not None:
        if not isinstance(final, dict):
            return Malformed(cid, where, f'"agentURL" must be an object, found {kind_of(final)}')
        utterance = final.get("url_utterance")
        if not isinstance(utterance, str) or not utterance.strip():
            return Malformed(
                cid, where, '"agentURL.url_utterance" (the final agent reply) is missing or blank'
            )
        turns.append(TranscriptTurn("agent", utterance))
        for key in ("url", "doc_id"):
            if key in final:
                meta[key] = final[key]
    return finish_conversation(cid, turns, meta, where)


def read_abcd(p: Path, chunk_size: int) -> Iterator[tuple[int, Item]]:
    return _read_array(p, chunk_size, "convo_id", _abcd_conversation)


def _abcd_conversation(obj: Any, where: str) -> Item:
    if not isinstance(obj, dict):
        return Malformed(None, where, f"expected a JSON object, found {kind_of(obj)}")
    cid = coerce_id(obj.get("convo_id"))
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
        role = ABCD_ROLES.get(pair[0])
        if role is None:
            return Malformed(
                cid,
                where,
                f"turn {i} has speaker {pair[0]!r}; ABCD speakers are customer, agent and action",
            )
        turn = make_turn(role, pair[1], None)
        if isinstance(turn, str):
            return Malformed(cid, where, f"turn {i}: {turn}")
        turns.append(turn)
    scenario = obj.get("scenario")
    meta: dict[str, Any] = {}
    if isinstance(scenario, dict):
        meta = {k: scenario[k] for k in ("flow", "subflow") if k in scenario}
    return finish_conversation(cid, turns, meta, where)
