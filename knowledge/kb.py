"""The knowledge base as one object: sources, embedder, index and retriever, wired from config."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import cached_property
from pathlib import Path

from knowledge.config import EmbedderConfig, KnowledgeConfig, RetrievalConfig, resolve_path
from knowledge.documents import Document
from knowledge.embedders import Embedder, make_embedder
from knowledge.index import EmbedProgress, KnowledgeIndex, UpdateReport
from knowledge.loaders import LoadIssues, load_sources
from knowledge.retriever import HybridRetriever, Mode
from knowledge.screening import screen_documents
from knowledge.storage import VersionedDir

log = logging.getLogger(__name__)


class KnowledgeBase:
    """Loads the store's files, keeps the index current and answers searches."""

    def __init__(
        self,
        knowledge: KnowledgeConfig,
        embedder: EmbedderConfig,
        retrieval: RetrievalConfig,
        *,
        base_dir: Path,
        model_cache_dir: Path | None = None,
        embedder_instance: Embedder | None = None,
    ) -> None:
        self.config = knowledge
        self.embedder_config = embedder
        self.retrieval_config = retrieval
        self.base_dir = base_dir
        self.index_dir = resolve_path(knowledge.index_dir, base_dir)
        self.model_cache_dir = model_cache_dir or self.index_dir.parent / "models"
        if embedder_instance is not None:
            self.__dict__["embedder"] = embedder_instance
        self._index: KnowledgeIndex | None = None
        #: what the last reading of the sources left out (bad catalogue rows) or noted
        self.load_issues = LoadIssues()

    @cached_property
    def embedder(self) -> Embedder:
        return make_embedder(self.embedder_config, cache_dir=self.model_cache_dir)

    def load_documents(self) -> list[Document]:
        """Read every source; rows left out and notes are kept in ``load_issues``."""
        issues = LoadIssues()
        docs = load_sources(
            self.config.sources,
            base_dir=self.base_dir,
            catalogue=self.config.catalogue,
            issues=issues,
        )
        self.load_issues = issues
        return docs

    def writing(self, *, on_wait: Callable[[Path], None] | None = None) -> AbstractContextManager:
        """The index's write lock, to hold around the whole update (re-entrant in a thread).

        Held by another writer: ``on_wait(index_dir)`` is called and the lock awaited, or
        without ``on_wait`` :class:`KnowledgeIndexError` is raised at once.
        """
        return VersionedDir(self.index_dir).lock(on_wait=on_wait)

    def update(
        self, *, rebuild: bool = False, progress: EmbedProgress | None = None
    ) -> UpdateReport:
        """Re-read the sources and bring the index up to date (atomically).

        The write lock is taken first, so a second writer gives way before reading and
        embedding; the sources are read before the embedding model loads, so a malformed
        file fails fast. Text addressed to the assistant is screened out first (see
        ``knowledge.screening``); the report is stored with the index.
        """
        with self.writing():
            documents, screening = screen_documents(
                self.load_documents(),
                sources=self.config.sources,
                base_dir=self.base_dir,
                mode=self.config.instructions,
            )
            self._index, report = KnowledgeIndex.update(
                self.index_dir,
                documents,
                self.embedder,
                chunk_size=self.config.chunk_size,
                chunk_overlap=self.config.chunk_overlap,
                faq_answer_as_key=self.config.faq_answer_as_key,
                rebuild=rebuild,
                index_type=self.retrieval_config.faiss_index,
                ann_threshold=self.retrieval_config.ann_threshold,
                batch_size=self.embedder_config.batch_size,
                progress=progress,
            )
            if self._index.manifest.get("extras", {}).get("screening") != screening:
                self._index.write_extra("screening", screening)
        report.screening = screening
        return report

    def screening(self) -> dict:
        """What the last update found addressed to the assistant in the sources (the report
        stored with the index; empty for an index built before screening existed)."""
        return dict(self.index.manifest.get("extras", {}).get("screening") or {})

    @property
    def index(self) -> KnowledgeIndex:
        """The index, opened on first use (built first if there is none yet)."""
        if self._index is None:
            if KnowledgeIndex.exists(self.index_dir):
                self._index = KnowledgeIndex.open(self.index_dir, embedder=self.embedder)
            else:
                log.info("no index in %s yet: building it", self.index_dir)
                self.update()
        assert self._index is not None
        return self._index

    def retriever(self, *, mode: Mode = "hybrid") -> HybridRetriever:
        return HybridRetriever(self.index, self.embedder, config=self.retrieval_config, mode=mode)
