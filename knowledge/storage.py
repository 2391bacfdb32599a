"""Atomic, versioned index directories.

An index directory holds numbered version folders and a ``CURRENT`` file naming the live
one. A save writes a complete new version folder, fsyncs it, then replaces ``CURRENT``
atomically (``os.replace``); only then are older versions removed. A crash at any point
leaves ``CURRENT`` naming a complete version, and a half-written folder is cleaned up by the
next save. Writers hold an exclusive lock so two ``shopbot index`` runs cannot interleave; an
update takes it before its work (reading, embedding), not only for the save.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from knowledge.errors import KnowledgeIndexError

CURRENT = "CURRENT"
PREFIX = "v"


@dataclass
class _Held:
    """This process's hold on one index directory's lock."""

    thread: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    handle: IO[str] | None = None


_HELD: dict[Path, _Held] = {}
_HELD_GUARD = threading.Lock()


def _held(root: Path) -> _Held:
    with _HELD_GUARD:
        return _HELD.setdefault(root.resolve(), _Held())


class VersionedDir:
    """A directory whose content is swapped atomically, one version at a time."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def current(self) -> Path | None:
        """The live version folder, or None when nothing was ever saved here."""
        pointer = self.root / CURRENT
        if not pointer.is_file():
            return None
        name = pointer.read_text(encoding="utf-8").strip()
        path = self.root / name
        if not name.startswith(PREFIX) or not path.is_dir():
            raise KnowledgeIndexError(
                f"{pointer} names {name!r}, which is missing: the index is damaged; "
                "run `shopbot index --rebuild`"
            )
        return path

    @contextlib.contextmanager
    def lock(self, *, on_wait: Callable[[Path], None] | None = None) -> Iterator[None]:
        """Hold the exclusive write lock: between processes (``flock``) and between threads.

        Re-entrant in one thread, so a caller can take it before the work that ends in a save.
        When another writer holds it: ``on_wait(root)`` is called and the lock awaited, or
        without ``on_wait`` :class:`KnowledgeIndexError` is raised at once.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        held = _held(self.root)
        waited = False
        if not held.thread.acquire(blocking=False):
            waited = self._busy(on_wait)
            held.thread.acquire()
        try:
            if held.depth == 0:
                held.handle = self._flock(on_wait, waited=waited)
            held.depth += 1
            try:
                yield
            finally:
                held.depth -= 1
                if held.depth == 0 and held.handle is not None:
                    fcntl.flock(held.handle, fcntl.LOCK_UN)
                    held.handle.close()
                    held.handle = None
        finally:
            held.thread.release()

    def _busy(self, on_wait: Callable[[Path], None] | None) -> bool:
        if on_wait is None:
            raise KnowledgeIndexError(
                f"another writer is updating the index in {self.root} (a `shopbot index` or "
                "`shopbot serve`): wait for it to finish, then run this again"
            )
        on_wait(self.root)
        return True

    def _flock(self, on_wait: Callable[[Path], None] | None, *, waited: bool) -> IO[str]:
        handle = open(self.root / ".lock", "w")  # noqa: SIM115 - held until the lock is released
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not waited:
                    self._busy(on_wait)
                fcntl.flock(handle, fcntl.LOCK_EX)
        except BaseException:
            handle.close()
            raise
        return handle

    @contextlib.contextmanager
    def new_version(self) -> Iterator[Path]:
        """Yield an empty folder to write into; on normal exit it becomes the live version.

        If the body raises, the folder is removed and the previous version stays live.
        """
        with self.lock():
            self._remove_orphans()
            number = self._next_number()
            path = self.root / f"{PREFIX}{number:06d}"
            path.mkdir()
            try:
                yield path
                _fsync_tree(path)
                tmp = self.root / f"{CURRENT}.tmp"
                tmp.write_text(path.name + "\n", encoding="utf-8")
                _fsync_file(tmp)
                os.replace(tmp, self.root / CURRENT)
                _fsync_dir(self.root)
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
            self._remove_orphans()

    def _versions(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(
            p
            for p in self.root.iterdir()
            if p.is_dir() and p.name.startswith(PREFIX) and p.name[1:].isdigit()
        )

    def _next_number(self) -> int:
        versions = self._versions()
        return int(versions[-1].name[1:]) + 1 if versions else 1

    def _remove_orphans(self) -> None:
        """Delete half-written versions and old ones, keeping the live version and the one
        before it (a reader that opened it a moment ago may still be loading it)."""
        live = self.current()
        older = [p for p in self._versions() if live is not None and p.name < live.name]
        keep = {live.name} if live is not None else set()
        if older:
            keep.add(older[-1].name)
        for path in self._versions():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync_file(path)


def _fsync_tree(path: Path) -> None:
    for child in path.rglob("*"):
        if child.is_file():
            _fsync_file(child)
    _fsync_dir(path)
