"""Loaders turn a store's files into Documents: FAQ, product catalogue, pages."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from knowledge.config import SourceConfig, resolve_path
from knowledge.documents import Document
from knowledge.errors import LoadError
from knowledge.loaders.catalog import load_catalog
from knowledge.loaders.faq import load_faq
from knowledge.loaders.pages import load_pages

__all__ = ["load_catalog", "load_faq", "load_pages", "load_source", "load_sources"]


def load_source(source: SourceConfig, *, base_dir: Path) -> list[Document]:
    """Load one configured source (a file or folder) into Documents."""
    path = resolve_path(source.path, base_dir)
    if source.type == "faq":
        return load_faq(path)
    if source.type == "catalog":
        return load_catalog(path)
    return load_pages(path, kind=source.kind or "page")


def load_sources(sources: Iterable[SourceConfig], *, base_dir: Path) -> list[Document]:
    """Load every source; a document id defined by two sources is an error."""
    docs: list[Document] = []
    origin: dict[str, str] = {}
    for source in sources:
        for doc in load_source(source, base_dir=base_dir):
            if doc.id in origin:
                raise LoadError(
                    doc.metadata.get("source", source.path),
                    f"document {doc.id!r} is also loaded from {origin[doc.id]}: two sources "
                    "overlap; list each file or folder once in knowledge.sources",
                )
            origin[doc.id] = str(doc.metadata.get("source", source.path))
            docs.append(doc)
    return docs
