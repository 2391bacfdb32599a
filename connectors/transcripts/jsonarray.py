"""A JSON array read element by element from a text stream, in fixed-size chunks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from connectors.transcripts.model import (
    ABCD_FULL_HINT,
    INSIDE,
    NOT_WS,
    OUTSIDE,
    SCALAR_END,
    Malformed,
    TranscriptError,
    guess_id,
    open_text,
)


@dataclass
class Broken:
    """An array element that is not valid JSON (or cut off by the end of the file)."""

    text: str
    reason: str
    at_end: bool = False  # the array itself is cut off after its last element

    def malformed(self, name: str, index: int, id_key: str) -> Malformed:
        where = f"{name}, end of file" if self.at_end else f"{name}, conversation {index}"
        return Malformed(guess_id(self.text, id_key), where, self.reason)


class JsonArray:
    """Yields ``(index, element)`` from a JSON array, counting from 1, reading in chunks.

    A small scanner finds where each element ends (tracking brackets and braces outside
    strings, quotes and backslash escapes inside them, with its state kept across chunks);
    the element's text is then decoded with ``json.JSONDecoder().raw_decode``. Only the
    current element is held in memory. An element that does not decode is yielded as
    :class:`Broken` and reading goes on; broken structure between elements raises
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
            raise not_array(self._path, c)
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
                yield index, Broken(text, reason)
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
            return Broken(text, f"not valid JSON: {e.msg} at character {e.pos} of the element")
        if end != len(text):  # a scalar followed by junk, e.g. `12x`
            return Broken(text, f"not valid JSON: extra data at character {end} of the element")
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
            m = NOT_WS.search(self._buf, self._pos)
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
                m = SCALAR_END.search(buf, self._pos)
                if m is not None:
                    self._pos = m.start()
                    return buf[self._mark : self._pos], True
            elif in_string:
                m = INSIDE.search(buf, self._pos)
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
                m = OUTSIDE.search(buf, self._pos)
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

    def _truncated_array(self, index: int) -> Broken:
        after = f"after conversation {index}" if index else "right after the opening '['"
        return Broken(
            "",
            f"the file ends {after} without the closing ']' of the JSON array: the file is "
            "truncated; export or download it again",
            at_end=True,
        )


def not_array(p: Path, first: str) -> TranscriptError:
    if first == "{":
        what = "is one JSON object, not a JSON array of conversations"
        hint = f" {ABCD_FULL_HINT}." if looks_like_abcd_full(p) else ""
        return TranscriptError(
            f"{p}: {what}; the twitter and abcd formats are a JSON array [...] of "
            f"conversations.{hint} A file with one JSON conversation per line is --format jsonl."
        )
    return TranscriptError(
        f"{p}: not a JSON array: it starts with {first!r} instead of '['; the twitter and abcd "
        "formats are a JSON array [...] of conversations"
    )


def looks_like_abcd_full(p: Path) -> bool:
    try:
        with open_text(p) as f:
            head = f.read(4096)
    except (UnicodeDecodeError, TranscriptError):
        return False
    return re.match(r'\s*\{\s*"(train|dev|test)"\s*:\s*\[', head) is not None
