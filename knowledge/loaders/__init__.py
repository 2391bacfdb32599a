"""Loaders turn a store's files into Documents: FAQ, product catalogue, pages."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from knowledge.config import CatalogueConfig, SourceConfig, resolve_path
from knowledge.documents import Document
from knowledge.errors import LoadError
from knowledge.loaders.catalog import load_catalog
from knowledge.loaders.common import LoadIssues
from knowledge.loaders.faq import load_faq
from knowledge.loaders.pages import load_pages

__all__ = [
    "LoadIssues",
    "load_catalog",
    "load_faq",
    "load_pages",
    "load_source",
    "load_sources",
]


def load_source(
    source: SourceConfig,
    *,
    base_dir: Path,
    catalogue: CatalogueConfig | None = None,
    issues: LoadIssues | None = None,
) -> list[Document]:
    """Load one configured source (a file or folder) into Documents.

    A catalog source is read with its own ``catalogue`` settings, else with ``catalogue``
    (``knowledge.catalogue``); rows it leaves out go to ``issues``.
    """
    path = resolve_path(source.path, base_dir)
    if source.type == "faq":
        return load_faq(path)
    if source.type == "catalog":
        return load_catalog(path, config=source.catalogue or catalogue, issues=issues)
    return load_pages(path, kind=source.kind or "page")


def load_sources(
    sources: Iterable[SourceConfig],
    *,
    base_dir: Path,
    catalogue: CatalogueConfig | None = None,
    issues: LoadIssues | None = None,
) -> list[Document]:
    """Load every source; a document id defined by two sources is an error."""
    docs: list[Document] = []
    origin: dict[str, str] = {}
    for source in sources:
        found = load_source(source, base_dir=base_dir, catalogue=catalogue, issues=issues)
        for doc in found:
            if doc.id in origin:
                raise LoadError(
                    doc.metadata.get("source", source.path),
                    f"document {doc.id!r} is also loaded from {origin[doc.id]}: two sources "
                    "overlap; list each file or folder once in knowledge.sources",
                )
            origin[doc.id] = str(doc.metadata.get("source", source.path))
            docs.append(doc)
    return docs
