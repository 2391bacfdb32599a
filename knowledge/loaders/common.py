"""Reading knowledge files: strict UTF-8 with the line of a bad byte, structured records with
their line numbers, and folder walking."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from knowledge.errors import LoadError

log = logging.getLogger(__name__)


@dataclass
class LoadIssues:
    """What a loader went past instead of stopping: rows it left out because they are wrong
    (``skipped``, each with its file, line and fix) and rows it left out or loaded on purpose
    that the store should know about (``notes``: a draft product, a product without a price).

    A whole-file problem (no header, a quote never closed, not UTF-8) is still raised.
    """

    skipped: list[LoadError] = field(default_factory=list)
    notes: list[LoadError] = field(default_factory=list)

    def skip(self, error: LoadError) -> None:
        self.skipped.append(error)

    def note(self, path: str | Path, message: str, *, line: int | None = None) -> None:
        self.notes.append(LoadError(path, message, line=line))

    def extend(self, other: LoadIssues) -> None:
        self.skipped.extend(other.skipped)
        self.notes.extend(other.notes)

    def __bool__(self) -> bool:
        return bool(self.skipped or self.notes)

    def log(self) -> None:
        """Log every issue (for callers that collect none themselves)."""
        for error in self.skipped:
            log.warning("row skipped: %s", error)
        for note in self.notes:
            log.info("%s", note)


def read_text(path: Path, *, named_by: str = "the path in knowledge.sources") -> str:
    """Read a UTF-8 (optionally BOM-prefixed) file; a bad byte is reported with its line.

    ``named_by`` is where the path came from, for the message when the file is missing.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LoadError(path, f"file not found: check {named_by}") from None
    except IsADirectoryError:
        raise LoadError(path, "is a folder, expected a file") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LoadError(
            path,
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); re-save the file as UTF-8 "
            "(in a spreadsheet: 'CSV UTF-8')",
            line=line,
        ) from None


def iter_files(path: Path, suffixes: tuple[str, ...]) -> Iterator[Path]:
    """The file itself, or every file under a folder with one of ``suffixes``, sorted."""
    if path.is_file():
        yield path
        return
    if not path.exists():
        raise LoadError(path, "does not exist: check the path in knowledge.sources")
    for child in sorted(path.rglob("*")):
        if child.is_file() and child.suffix.lower() in suffixes and not child.name.startswith("."):
            yield child


def load_records(
    path: Path, text: str, *, list_keys: tuple[str, ...], key_path: str | None = None
) -> list[tuple[Any, int]]:
    """Parse a JSON or YAML file holding a list of records; return (record, line) pairs.

    The list may be the top level or sit under one of ``list_keys`` (e.g. ``faqs:``), or
    under ``key_path`` when given (dotted for nested objects: ``data.items``).
    """
    suffix = path.suffix.lower()
    is_json = suffix == ".json" or (
        suffix not in (".yaml", ".yml") and text.lstrip()[:1] in ("[", "{")
    )
    if is_json:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise LoadError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        if is_json:  # valid JSON that PyYAML cannot read: records without line numbers
            data = json.loads(text)
            if key_path:
                return [(rec, 0) for rec in _at_path(path, data, key_path)]
            return [(rec, 0) for rec in _unwrap(path, data, list_keys)]
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark else None
        raise LoadError(path, f"not valid YAML: {problem}", line=line) from None
    data = json.loads(text) if is_json else yaml.safe_load(text)
    seq = node
    if key_path:
        records = _at_path(path, data, key_path)
        for part in key_path.split("."):
            seq = _child(seq, part)
    else:
        records = _unwrap(path, data, list_keys)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value in list_keys:
                    seq = value_node
    lines = [item.start_mark.line + 1 for item in getattr(seq, "value", [])]
    if len(lines) != len(records):
        lines = [0] * len(records)
    return list(zip(records, lines, strict=True))


def _child(node: Any, key: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key:
                return value_node
    return None


def _at_path(path: Path, data: Any, key_path: str) -> list[Any]:
    node = data
    walked: list[str] = []
    for part in key_path.split("."):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(walked) or "the top level"
            has = ", ".join(map(str, node)) if isinstance(node, dict) else type(node).__name__
            raise LoadError(
                path,
                f"no {part!r} under {where} (records_key {key_path!r}); it has: {has}",
            )
        node = node[part]
        walked.append(part)
    if not isinstance(node, list):
        raise LoadError(
            path, f"{key_path!r} holds a {type(node).__name__}, expected a list of records"
        )
    return node


def _unwrap(path: Path, data: Any, list_keys: tuple[str, ...]) -> list[Any]:
    if isinstance(data, dict):
        for key in list_keys:
            if isinstance(data.get(key), list):
                return data[key]
    if isinstance(data, list):
        return data
    wanted = " or ".join(f"'{k}:'" for k in list_keys)
    raise LoadError(path, f"expected a list of records, at the top level or under {wanted}")


SLUG_STRIP = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """ASCII slug for ids; empty when the text has no ASCII letters or digits."""
    return SLUG_STRIP.sub("-", text.lower()).strip("-")[:60]


def line_of(line: int) -> int | None:
    """0 means 'unknown' in records; errors then omit the line."""
    return line or None
