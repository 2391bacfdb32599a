"""``shopbot forget USER``: one customer's data deleted from everywhere shopbot keeps it.

USER is the customer's user id (what the site passes as ``user_id``), one conversation's
session id, or a piece of their personal data (an e-mail address, a phone number): the
conversations in which it was mentioned are found through their placeholder hashes, since
the value itself was never kept.

Deleted: the matching conversations with all their turns (the database file is checkpointed
and SQLite's ``secure_delete`` overwrites what was deleted); in the data folder and any
folder given, the records of JSON-lines files and the lines of log and text files that name
the customer or one of their conversations (in free text, names of 6 characters or more:
a user id "42" is found only as a JSON value); and beside a replay's ``replies.jsonl`` that lost
records, the report built from them (``report.html``, ``summary.json``: re-run ``shopbot
replay`` to rebuild them). The index and the models hold the store's knowledge, not
customers', and are not searched.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.privacy import Placeholders, Redactor
from bot.sessions import Session, SessionStore

#: files whose lines are searched; others (databases, indexes, models) are not
TEXT_SUFFIXES = frozenset({".jsonl", ".log", ".txt"})
#: what a replay builds from its replies.jsonl (connectors.replay)
REPLAY_REPLIES = "replies.jsonl"
REPLAY_DERIVED = ("report.html", "summary.json")
#: the id every customer a site does not identify shares: forgetting it would forget them all
SHARED_USER_IDS = frozenset({"anonymous", "customer"})
#: a user id this short is only looked for as a JSON value, never as a word in free text
MIN_TEXT_NAME = 6


class ForgetError(ValueError):
    """The request cannot be carried out as asked (it would delete other customers' data)."""


@dataclass
class Forgotten:
    """What ``forget`` deleted (or, with ``dry_run``, would delete)."""

    user: str
    sessions: list[tuple[str, int, str]] = field(default_factory=list)  # (id, turns, why)
    records: list[tuple[Path, int]] = field(default_factory=list)  # (file, lines removed)
    files: list[Path] = field(default_factory=list)  # removed whole

    @property
    def nothing(self) -> bool:
        return not (self.sessions or self.records or self.files)


def matching_sessions(
    store: SessionStore, user: str, *, redactor: Redactor
) -> list[tuple[Session, str]]:
    """The user's conversations, each with why it matched."""
    found: dict[str, tuple[Session, str]] = {}
    for session in store.sessions_of(user):
        found[session.id] = (session, "user id")
    pseudonym = redactor.pseudonym(user)  # how a user id that is personal data was stored
    if pseudonym != user:
        for session in store.sessions_of(pseudonym):
            found.setdefault(session.id, (session, "user id"))
    try:
        own = store.get(user, last=0)
    except ValueError:  # not a valid session id
        own = None
    if own is not None:
        found.setdefault(own.id, (own, "session id"))
    kinds = _whole_value_kinds(user, redactor)
    if kinds and redactor.key is not None:
        for session in _all_sessions(store):
            if session.id in found:
                continue
            numbered = Placeholders(session.meta, key=redactor.key, salt=session.id)
            labels = [label for kind in kinds if (label := numbered.mentions(kind, user))]
            if labels:
                found[session.id] = (session, f"mentioned as [{labels[0]}]")
    return list(found.values())


def _whole_value_kinds(user: str, redactor: Redactor) -> list[str]:
    """The kinds ``user`` is when it is one piece of personal data, whole."""
    return [m.kind for m in redactor.find(user) if m.start == 0 and m.end == len(user.strip())]


def _all_sessions(store: SessionStore) -> Iterator[Session]:
    from bot.sessions.base import ALL

    yield from store.list_sessions(limit=ALL)


def forget(
    user: str,
    *,
    store: SessionStore,
    redactor: Redactor,
    folders: Iterable[Path] = (),
    skip: Iterable[Path] = (),
    dry_run: bool = False,
) -> Forgotten:
    """Delete ``user``'s data (see the module docstring); ``skip``: folders not searched."""
    user = user.strip()
    if not user:
        raise ForgetError("say whose data to delete: a user id, a session id or an e-mail")
    if user in SHARED_USER_IDS:
        raise ForgetError(
            f"{user!r} is the user id of every customer the site did not identify: forgetting "
            "it would delete all of their conversations. Give one conversation's session id, "
            "or the customer's e-mail address or phone number"
        )
    done = Forgotten(user)
    matched = matching_sessions(store, user, redactor=redactor)
    session_ids = {session.id for session, _ in matched}
    for session, why in matched:
        full = store.get(session.id)
        done.sessions.append((session.id, len(full.turns) if full else 0, why))
        if not dry_run:
            store.delete(session.id)
    if matched and not dry_run:
        checkpoint = getattr(store, "checkpoint", None)
        if checkpoint is not None:
            checkpoint()
    names = {user} | session_ids | {f"replay:{i}" for i in session_ids}
    skipped = [p.resolve() for p in skip]
    for path in _text_files(folders, skipped):
        removed = _drop_lines(path, names, dry_run=dry_run)
        if not removed:
            continue
        done.records.append((path, removed))
        if path.name == REPLAY_REPLIES:
            for derived in REPLAY_DERIVED:
                report = path.parent / derived
                if report.exists():
                    done.files.append(report)
                    if not dry_run:
                        report.unlink()
    return done


def _text_files(folders: Iterable[Path], skipped: list[Path]) -> Iterator[Path]:
    seen: set[Path] = set()
    for folder in folders:
        folder = folder.resolve()
        if not folder.is_dir():
            continue
        for root, dirs, files in os.walk(folder):
            here = Path(root)
            dirs[:] = [d for d in dirs if (here / d).resolve() not in skipped]
            for name in sorted(files):
                path = here / name
                if path.suffix in TEXT_SUFFIXES and path not in seen:
                    seen.add(path)
                    yield path


def _drop_lines(path: Path, names: set[str], *, dry_run: bool) -> int:
    """Remove the lines of ``path`` that name one of ``names``; how many. JSON lines go
    when one of their string values is a name; other lines when a name is a word in them."""
    # in free text only names long enough not to be any number ("42" is in many lines)
    long_names = sorted((n for n in names if len(n) >= MIN_TEXT_NAME), key=len, reverse=True)
    word = re.compile(
        r"(?<![\w@.+-])(?:" + "|".join(map(re.escape, long_names)) + r")(?![\w@-])"
        if long_names
        else r"(?!)"
    )
    try:
        with path.open(encoding="utf-8", errors="surrogateescape", newline="") as handle:
            lines = handle.readlines()
    except OSError:
        return 0
    json_lines = path.suffix == ".jsonl"
    kept = [line for line in lines if not _names(line, names, word, json_lines)]
    removed = len(lines) - len(kept)
    if removed and not dry_run:
        _rewrite(path, kept)
    return removed


def _names(line: str, names: set[str], word: re.Pattern[str], json_line: bool) -> bool:
    if json_line and line.strip():
        try:
            return any(value in names for value in _strings(json.loads(line)))
        except ValueError:
            pass  # not JSON after all: searched as text
    return bool(word.search(line))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _rewrite(path: Path, lines: list[str]) -> None:
    """Replace ``path`` with ``lines`` atomically (a new file renamed over it)."""
    mode = path.stat().st_mode
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
