"""One error root for shopbot, with small per-area subclasses.

Every error carries a message that says what is wrong and how to fix it; the command line
prints it without a stack trace and exits non-zero.
"""

from __future__ import annotations

from pathlib import Path


class ShopbotError(Exception):
    """Root of every error shopbot raises on purpose."""


class ConfigError(ShopbotError):
    """The configuration is wrong: a missing variable, an unknown key, a bad value."""


class LoadError(ShopbotError):
    """A knowledge file is malformed. Names the file, the line (when known) and the fix."""

    def __init__(self, path: str | Path, message: str, *, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class EmbedderError(ShopbotError):
    """An embedding model cannot be found, loaded or exported."""


class KnowledgeIndexError(ShopbotError):
    """The index directory is missing, corrupt or was built with another model or format."""
