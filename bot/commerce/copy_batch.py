"""Writing copy for a whole catalogue, resumably.

Each result is appended to a journal beside the output (``OUT.jsonl``; for an ``.jsonl``
output, the output itself) and flushed to disk as soon as it is written, so an interrupted
run loses at most the item in flight. The journal's first line holds the run's settings; a
rerun with the same output skips every item already in the journal whose facts have not
changed since (a product whose facts changed is written again), and a rerun with other
settings is refused rather than mixed in. When the run ends the output (CSV or JSON, keyed
by the catalogue's ids, in catalogue order) is written from the journal, atomically.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.commerce.copy import CopyResult, CopyWriter
from bot.commerce.copy_items import CopyItem
from knowledge.errors import ShopbotError

FORMATS = (".csv", ".json", ".jsonl")
CSV_COLUMNS = ("id", "title", "task", "status", "attempts", "text", "checks", "rejected")
CSV_TAIL = ("model", "seconds")


class CopyBatchError(ShopbotError):
    """The output cannot be used for this run."""


@dataclass
class BatchStats:
    """What one run did: items in scope, written now, skipped as done, and their statuses."""

    items: int = 0
    written: int = 0
    skipped: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    out: Path | None = None
    journal: Path | None = None

    @property
    def seconds_per_item(self) -> float | None:
        return self.seconds / self.written if self.written else None


def journal_path(out: Path) -> Path:
    return out if out.suffix.lower() == ".jsonl" else out.with_name(out.name + ".jsonl")


def check_output(out: Path) -> None:
    """Refuse an output this module cannot write, naming the formats it can."""
    if out.suffix.lower() not in FORMATS:
        raise CopyBatchError(
            f"cannot tell the output format of {out}: name it .csv, .json or .jsonl"
        )


def write_batch(
    writer: CopyWriter,
    items: Sequence[CopyItem],
    out: Path,
    *,
    manifest: dict[str, Any],
    limit: int | None = None,
    restart: bool = False,
    progress: Callable[[int, int, CopyResult | None], None] | None = None,
) -> BatchStats:
    """Write ``writer``'s copy for the first ``limit`` of ``items`` (all by default) into
    ``out``, resuming the journal of a previous run with the same ``manifest``.

    ``progress(done, total, result)`` is called after each item (``result`` None for an item
    skipped as done).
    """
    check_output(out)
    journal = journal_path(out)
    if restart and journal.exists():
        journal.unlink()
    done = _prepare(journal, manifest)
    todo = list(items[:limit] if limit is not None else items)
    stats = BatchStats(items=len(todo), out=out, journal=journal)
    started = time.perf_counter()
    with journal.open("a", encoding="utf-8") as handle:
        for n, item in enumerate(todo, 1):
            previous = done.get(item.id)
            if previous is not None and previous.get("source_hash") == item.hash:
                stats.skipped += 1
                if progress:
                    progress(n, len(todo), None)
                continue
            result = writer.write(item)
            record = result.to_json()
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
            done[item.id] = record
            stats.written += 1
            stats.statuses[result.status] = stats.statuses.get(result.status, 0) + 1
            if progress:
                progress(n, len(todo), result)
    stats.seconds = time.perf_counter() - started
    records = [done[item.id] for item in todo if item.id in done]
    if journal != out:
        write_output(out, records, manifest)
    return stats


def read_journal(journal: Path) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """The journal's manifest and its records by id (the last record of an id wins)."""
    manifest: dict[str, Any] | None = None
    records: dict[str, dict[str, Any]] = {}
    with journal.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise CopyBatchError(
                    f"{journal}, line {number}: not JSON; delete the journal (or pass "
                    "--restart) to start over"
                ) from None
            if "manifest" in record and number == 1:
                manifest = record["manifest"]
            elif "id" in record:
                records[str(record["id"])] = record
    return manifest, records


def _prepare(journal: Path, manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The records already done; writes the manifest line of a new journal."""
    try:
        journal.parent.mkdir(parents=True, exist_ok=True)
        if not journal.exists() or journal.stat().st_size == 0:
            line = json.dumps({"manifest": manifest}, ensure_ascii=False)
            journal.write_text(line + "\n", encoding="utf-8")
            return {}
    except OSError as exc:
        raise CopyBatchError(
            f"cannot write {journal} ({exc.strerror}): choose another --out"
        ) from None
    _cut_partial_line(journal)
    previous, records = read_journal(journal)
    if previous != manifest:
        changed = _differences(previous or {}, manifest)
        raise CopyBatchError(
            f"{journal} holds a run with other settings ({changed}): choose another --out, "
            "or pass --restart to start this output over"
        )
    return records


def _differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    flat_old, flat_new = _flat(old), _flat(new)
    every = flat_old.keys() | flat_new.keys()
    keys = sorted(k for k in every if flat_old.get(k) != flat_new.get(k))
    return "; ".join(f"{k}: {flat_old.get(k)!r} then, {flat_new.get(k)!r} now" for k in keys)


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _cut_partial_line(path: Path) -> None:
    """Drop a last line without its newline (the run stopped while writing it)."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("rb+") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def write_output(out: Path, records: list[dict[str, Any]], manifest: dict[str, Any]) -> None:
    """The records as CSV (one row an item; checks and rejected as JSON) or JSON (an object
    with the run's settings and ``items`` keyed by id), replacing ``out`` atomically."""
    if out.suffix.lower() == ".csv":
        buffer = io.StringIO()
        columns = [*CSV_COLUMNS, *CSV_TAIL]
        table = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        table.writeheader()
        for record in records:
            row = dict(record)
            for key in ("checks", "rejected"):
                row[key] = json.dumps(record.get(key, []), ensure_ascii=False)
            table.writerow(row)
        text = buffer.getvalue()
    else:
        items = {r["id"]: {k: v for k, v in r.items() if k != "id"} for r in records}
        text = json.dumps({**manifest, "items": items}, ensure_ascii=False, indent=2) + "\n"
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, out)
    except OSError as exc:
        raise CopyBatchError(f"cannot write {out} ({exc.strerror}): choose another --out") from None
    finally:
        tmp.unlink(missing_ok=True)
