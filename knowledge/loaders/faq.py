"""FAQ loaders: CSV (``id,question,answer``, one row per question variant), JSON, YAML and
Markdown Q&A. Each entry becomes one Document whose text is the canonical answer and whose
``metadata['questions']`` holds every variant."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.documents import Document
from knowledge.errors import LoadError
from knowledge.loaders.common import iter_files, line_of, load_records, read_text, slug
from knowledge.loaders.csvfile import RowShape, check_runaway_quote, fit_row, read_rows
from knowledge.text import detect_language

FAQ_SUFFIXES = (".csv", ".json", ".yaml", ".yml", ".md", ".markdown")
OPTIONAL_FIELDS = ("category", "url", "title")


@dataclass
class _Entry:
    id: str
    line: int
    questions: list[str] = field(default_factory=list)
    answer: str = ""
    answer_line: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def add_question(self, question: str) -> None:
        if question and question not in self.questions:
            self.questions.append(question)


def load_faq(path: str | Path) -> list[Document]:
    """Load one FAQ file or every FAQ file in a folder."""
    docs: list[Document] = []
    seen: dict[str, str] = {}
    for file in iter_files(Path(path), FAQ_SUFFIXES):
        for doc in load_faq_file(file):
            if doc.id in seen:
                raise LoadError(
                    file,
                    f"FAQ id {doc.metadata['faq_id']!r} is also defined in {seen[doc.id]}; "
                    "ids must be unique across a store's FAQ files",
                    line=doc.metadata.get("line"),
                )
            seen[doc.id] = str(file)
            docs.append(doc)
    return docs


def load_faq_file(path: Path) -> list[Document]:
    text = read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        entries = _parse_csv(path, text)
    elif suffix in (".json", ".yaml", ".yml"):
        entries = _parse_records(path, text)
    elif suffix in (".md", ".markdown"):
        entries = _parse_markdown(path, text)
    else:
        raise LoadError(path, f"unsupported FAQ format {suffix!r}: use {', '.join(FAQ_SUFFIXES)}")
    return [_to_document(path, entry) for entry in entries]


def _to_document(path: Path, entry: _Entry) -> Document:
    if not entry.questions:
        raise LoadError(path, f"FAQ entry {entry.id!r} has no question", line=line_of(entry.line))
    if not entry.answer.strip():
        raise LoadError(
            path,
            f"FAQ entry {entry.id!r} has an empty answer: write the canonical answer once",
            line=line_of(entry.line),
        )
    metadata: dict[str, Any] = {
        "kind": "faq",
        "faq_id": entry.id,
        "title": entry.extra.get("title") or entry.questions[0],
        "questions": entry.questions,
        "lang": detect_language(entry.answer + " " + entry.questions[0]),
        "source": str(path),
        "line": entry.line or None,
    }
    for key in ("category", "url"):
        if entry.extra.get(key):
            metadata[key] = entry.extra[key]
    return Document(id=f"faq:{entry.id}", text=entry.answer.strip(), metadata=metadata)


def _set_answer(path: Path, entry: _Entry, answer: str, line: int) -> None:
    answer = answer.strip()
    if not answer:
        return
    if entry.answer and entry.answer != answer:
        raise LoadError(
            path,
            f"FAQ id {entry.id!r} has a different answer here than on line {entry.answer_line}: "
            "rows sharing an id are one entry with one answer (give it once, or make the ids "
            "distinct)",
            line=line_of(line),
        )
    if not entry.answer:
        entry.answer, entry.answer_line = answer, line


def _parse_csv(path: Path, text: str) -> list[_Entry]:
    rows = read_rows(path, text)
    try:
        header, _ = next(rows)
    except StopIteration:
        raise LoadError(
            path, "empty file: expected the header id,question,answer", line=1
        ) from None
    columns = [h.strip().lower() for h in header]
    missing = [c for c in ("id", "question", "answer") if c not in columns]
    if missing:
        raise LoadError(
            path,
            f"missing column(s) {', '.join(missing)}: the header must include id,question,answer "
            f"(found {','.join(columns)})",
            line=1,
        )
    index = {name: columns.index(name) for name in columns}
    shape = RowShape(columns=len(columns), key=index["id"], text=index["question"])
    entries: dict[str, _Entry] = {}
    for row, line in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > index["id"]:
            check_runaway_quote(path, row, line, shape, entries.keys() | {row[index["id"]]})
        row = fit_row(path, row, len(columns), line)
        cell = {name: row[i].strip() for name, i in index.items()}
        if not cell["id"]:
            raise LoadError(path, "empty id: every row needs the id of its entry", line=line)
        if not cell["question"]:
            raise LoadError(path, f"empty question for id {cell['id']!r}", line=line)
        entry = entries.setdefault(cell["id"], _Entry(id=cell["id"], line=line))
        entry.add_question(cell["question"])
        _set_answer(path, entry, cell["answer"], line)
        for key in OPTIONAL_FIELDS:
            if cell.get(key) and key not in entry.extra:
                entry.extra[key] = cell[key]
    return list(entries.values())


def _parse_records(path: Path, text: str) -> list[_Entry]:
    entries: dict[str, _Entry] = {}
    for n, (record, line) in enumerate(load_records(path, text, list_keys=("faqs", "faq")), 1):
        where = f"entry #{n}"
        if not isinstance(record, dict):
            raise LoadError(path, f"{where} is not a mapping", line=line_of(line))
        questions = record.get("questions", record.get("question"))
        if isinstance(questions, str):
            questions = [questions]
        if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
            raise LoadError(
                path, f"{where}: 'questions' must be a list of strings", line=line_of(line)
            )
        questions = [q.strip() for q in questions if q.strip()]
        if not questions:
            raise LoadError(path, f"{where} has no question", line=line_of(line))
        entry_id = str(record.get("id") or _derived_id(questions[0]))
        if entry_id in entries:
            raise LoadError(path, f"duplicate FAQ id {entry_id!r}", line=line_of(line))
        entry = _Entry(id=entry_id, line=line)
        for q in questions:
            entry.add_question(q)
        answer = record.get("answer")
        if not isinstance(answer, str) or not answer.strip():
            raise LoadError(path, f"FAQ entry {entry_id!r} has an empty answer", line=line_of(line))
        _set_answer(path, entry, answer, line)
        entry.extra = {k: str(record[k]) for k in OPTIONAL_FIELDS if record.get(k)}
        entries[entry_id] = entry
    return list(entries.values())


HEADING = re.compile(r"^(#{2,3})\s+(?:Q[:：]\s*|问[:：]\s*)?(.+?)\s*#*\s*$")
VARIANT = re.compile(r"^\s*(?:[-*]\s*)?(?:Q|问)[:：]\s*(.+)$")
ANSWER = re.compile(r"^\s*(?:A|答)[:：]\s*")
META = re.compile(r"^\s*<!--\s*(id|category|url)\s*:\s*(.+?)\s*-->\s*$")


def _parse_markdown(path: Path, text: str) -> list[_Entry]:
    """``## question`` starts an entry; ``Q: variant`` lines add variants; the rest (an
    optional ``A:`` prefix stripped) is the answer; ``<!-- id: x -->`` sets the id."""
    entries: list[_Entry] = []
    body: list[str] = []
    current: _Entry | None = None

    def close() -> None:
        if current is not None:
            _set_answer(path, current, "\n".join(body), current.line)
            if not current.answer:
                raise LoadError(
                    path, f"question {current.questions[0]!r} has no answer", line=current.line
                )
            entries.append(current)

    for number, raw in enumerate(text.splitlines(), 1):
        heading = HEADING.match(raw)
        if heading:
            close()
            question = heading.group(2).strip()
            current, body = _Entry(id=_derived_id(question), line=number), []
            current.add_question(question)
            continue
        if current is None:
            continue  # text before the first question (a title, an intro) is not an entry
        meta = META.match(raw)
        variant = VARIANT.match(raw)
        if not raw.strip() and not body:
            continue
        if meta:
            key, value = meta.group(1), meta.group(2)
            if key == "id":
                current.id = value
            else:
                current.extra[key] = value
        elif variant and not body:
            current.add_question(variant.group(1).strip())
        else:
            body.append(ANSWER.sub("", raw) if not body else raw)
    close()
    seen: dict[str, int] = {}
    for entry in entries:
        if entry.id in seen:
            raise LoadError(
                path,
                f"duplicate FAQ id {entry.id!r} (first on line {seen[entry.id]}): give one "
                "entry an explicit <!-- id: ... -->",
                line=entry.line,
            )
        seen[entry.id] = entry.line
    return entries


def _derived_id(question: str) -> str:
    """A stable id from the first question: its slug, or a short hash for non-Latin text."""
    return slug(question) or "q-" + hashlib.sha1(question.encode("utf-8")).hexdigest()[:10]
