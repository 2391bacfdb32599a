"""LangChain adapters: our retriever as a ``BaseRetriever``, our embedder as ``Embeddings``.

Imported only by code that wants LangChain objects; the rest of shopbot does not need them.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from knowledge.embedders.base import Embedder
from knowledge.retriever import Retriever


class ShopbotRetriever(BaseRetriever):
    """A shopbot retriever in a LangChain chain. Each Document's metadata carries the
    chunk's metadata plus ``doc_id``, ``chunk_id`` and the dense, lexical and fused scores."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = 5
    filters: dict[str, Any] = Field(default_factory=dict)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        hits = self.retriever.retrieve(query, k=self.k, filters=self.filters)
        docs = []
        for hit in hits:
            meta = {
                key: value
                for key, value in hit.metadata.items()
                if isinstance(value, str | int | float | bool | list | dict) or value is None
            }
            meta.update(
                doc_id=hit.doc_id,
                chunk_id=hit.chunk_id,
                score=hit.score,
                dense_score=hit.dense_score,
                lexical_score=hit.lexical_score,
            )
            docs.append(LCDocument(page_content=hit.text, metadata=meta, id=hit.chunk_id))
        return docs


class ShopbotEmbeddings(Embeddings):
    """A shopbot embedder as LangChain ``Embeddings`` (used by the benchmark baseline)."""

    def __init__(self, embedder: Embedder, *, batch_size: int = 64) -> None:
        self.embedder = embedder
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_documents(texts, batch_size=self.batch_size).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()
