"""Reading CSV knowledge files row by row, with the line each row starts on, and catching a
quote left open.

Python's ``csv`` module (like a spreadsheet) reads a quoted value up to its closing quote, line
breaks included: a value whose closing quote was forgotten silently swallows the rows after it,
up to the next quote in the file or the end of the file. A legitimate multi-line value (an
answer with a line break) reads the same way, so a value spanning lines is only an error when
one of its lines looks like a row of the file (its id cell is an id of this file, or it has a
row's shape), or when the quote is still open at the end of the file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from knowledge.errors import LoadError
from knowledge.loaders.common import LoadIssues

_TOKEN = re.compile(r"^[^\s\"]+$")
_FIX = (
    'Add the closing double quote (") at the end of the value, or remove the opening one; '
    'a double quote inside a quoted value is written twice ("")'
)


@dataclass(frozen=True)
class RowShape:
    """What a row of this file looks like: the column holding its id, and a column every
    row fills in with words (a question, a product title)."""

    columns: int
    key: int
    text: int
    delimiter: str = ","
    #: fewest cells a row has: a platform's export writes every column on every row, so a
    #: line of an HTML description with one comma in it does not pass for a row
    min_cells: int = 0


DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}


def sniff_delimiter(text: str) -> str:
    """The delimiter of a delimited file, judged from its header line: comma, semicolon (a
    spreadsheet in a locale with decimal commas), tab (TSV feeds) or pipe."""
    header = text.split("\n", 1)[0]
    counts = {d: _count_outside_quotes(header, d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            count += 1
    return count


def read_rows(path: Path, text: str, *, delimiter: str = ",") -> Iterator[tuple[list[str], int]]:
    """Yield every row (the header first) with the line it starts on.

    Raises :class:`LoadError` for invalid CSV and for a quote still open at the end of the
    file, naming the line where that quote opened.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start, row = 1, None
    try:
        for row in reader:
            yield row, start
            start = reader.line_num + 1
    except csv.Error as exc:
        raise LoadError(path, f"not valid CSV: {exc}", line=reader.line_num or 1) from None
    if row is not None:
        _check_closed_at_end(path, text, delimiter)


def check_runaway_quote(
    path: Path, row: list[str], line: int, shape: RowShape, known_ids: Collection[str]
) -> None:
    """Raise when a multi-line value of ``row`` (starting on ``line``) holds further rows."""
    opened = line
    for cell in row:
        inner = cell.split("\n")[1:]
        swallowed = [n for n, part in enumerate(inner, 1) if _row_like(part, shape, known_ids)]
        if swallowed:
            raise LoadError(
                path,
                "a quoted value opens on this line and is not closed before line "
                f"{opened + swallowed[0]}, which looks like the next row: the rows after it "
                f"were read as part of this value. {_FIX}",
                line=opened,
            )
        opened += cell.count("\n")


def _row_like(line: str, shape: RowShape, known_ids: Collection[str]) -> bool:
    """Does one physical line read as a row of this file on its own?"""
    try:
        cells = next(csv.reader([line], delimiter=shape.delimiter), [])
    except csv.Error:
        return False
    needed = max(shape.key, shape.text, shape.min_cells - 1) + 1
    if not needed <= len(cells) <= shape.columns:
        return False
    key, words = cells[shape.key].strip(), cells[shape.text].strip()
    if not _TOKEN.match(key) or not words:
        return False
    # an id of this file, or an id-like cell followed by words (a question, a title)
    return key in known_ids or " " in words


def _check_closed_at_end(path: Path, text: str, delimiter: str) -> None:
    """The reader closes a quote still open at the end of the file silently: catch it."""
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True):
            pass
        return
    except csv.Error:
        pass  # strict reading fails on more than an open quote: look for one
    opened = _open_quote_at_end(text, delimiter)
    if opened is not None:
        raise LoadError(
            path,
            "a quoted value opens on this line and is never closed: everything after it, to "
            f"the end of the file, was read as part of this value. {_FIX}",
            line=opened,
        )


def _open_quote_at_end(text: str, delimiter: str = ",") -> int | None:
    """The line of a quoted value still open at the end of ``text`` (csv's rules), or None."""
    ends = delimiter + "\r\n"
    line, opened, state = 1, 0, "start"
    for ch in text:
        if state == "quoted":
            if ch == '"':
                state = "quote"
        elif state == "quote":  # a quote inside a quoted value: doubled, or it closes it
            state = "quoted" if ch == '"' else "start" if ch in ends else "field"
        elif ch == '"' and state == "start":
            state, opened = "quoted", line
        else:
            state = "start" if ch in ends else "field"
        if ch == "\n":
            line += 1
    return opened if state == "quoted" else None


def fit_row(
    path: Path, row: list[str], width: int, line: int, *, delimiter: str = ","
) -> list[str]:
    """The row padded to the header's ``width`` (trailing empty cells are often left out);
    a row with more fields than the header is an unquoted delimiter, reported with its line."""
    if len(row) < width:
        return row + [""] * (width - len(row))
    if len(row) > width:
        name = DELIMITER_NAMES.get(delimiter, repr(delimiter))
        raise LoadError(
            path,
            f"expected {width} fields, found {len(row)}: quote values that "
            f'contain {name} with double quotes ("...")',
            line=line,
        )
    return row


@dataclass
class Table:
    """A delimited file opened for reading: its header as written, its delimiter, and the
    rows after the header (each with the line it starts on)."""

    path: Path
    header: list[str]
    delimiter: str
    rows: Iterator[tuple[list[str], int]]

    def records(
        self,
        keys: list[str],
        shape: RowShape,
        issues: LoadIssues,
    ) -> Iterator[tuple[dict[str, str], int]]:
        """Each non-blank row as ``{key: stripped cell}``, keys in header order.

        A row with too many fields is skipped into ``issues``; a quote left open stops
        the file (the rows after it are not what the file says).
        """
        ids: set[str] = set()
        for row, line in self.rows:
            if not any(cell.strip() for cell in row):
                continue
            check_runaway_quote(self.path, row, line, shape, ids)
            try:
                row = fit_row(self.path, row, len(keys), line, delimiter=self.delimiter)
            except LoadError as exc:
                issues.skip(exc)
                continue
            record = dict(zip(keys, (c.strip() for c in row), strict=True))
            ids.add(row[shape.key].strip())
            yield record, line


def open_table(path: Path, text: str) -> Table:
    """Open a delimited file (comma, semicolon, tab or pipe, from its header line)."""
    delimiter = sniff_delimiter(text)
    rows = read_rows(path, text, delimiter=delimiter)
    try:
        header, _ = next(rows)
    except StopIteration:
        raise LoadError(path, "empty file: expected a header row", line=1) from None
    return Table(path, [h.strip() for h in header], delimiter, rows)
