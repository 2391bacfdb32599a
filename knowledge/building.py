"""Building the knowledge index: incremental updates (re-chunk and re-embed only what
changed) and the FAISS and BM25 structures, rebuilt from stored vectors and tokens.

``KnowledgeIndex.update`` is the entry point; this module holds its work.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.chunking import chunk_document
from knowledge.documents import Chunk, Document, content_hash
from knowledge.embedders.base import Embedder
from knowledge.errors import KnowledgeIndexError
from knowledge.storage import VersionedDir
from knowledge.text import tokenize

if TYPE_CHECKING:
    from knowledge.index import KnowledgeIndex

FORMAT_VERSION = 1
EmbedProgress = Callable[[int, int], None]  # (done, total)


@dataclass
class UpdateReport:
    """What an index update did."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded_keys: int = 0
    documents: int = 0
    chunks: int = 0
    keys: int = 0
    index_type: str = "flat"
    seconds: float = 0.0
    rebuilt: bool = False
    changed_ids: list[str] = field(default_factory=list)
    #: text addressed to the assistant found in the sources (see knowledge.screening)
    screening: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def update_index(
    cls: type[KnowledgeIndex],
    directory: str | Path,
    documents: Sequence[Document],
    embedder: Embedder,
    *,
    chunk_size: int = 800,
    chunk_overlap: int = 100,
    faq_answer_as_key: bool = True,
    rebuild: bool = False,
    index_type: str = "auto",
    ann_threshold: int = 50_000,
    batch_size: int = 64,
    progress: EmbedProgress | None = None,
) -> tuple[KnowledgeIndex, UpdateReport]:
    """Bring the index in ``directory`` in line with ``documents``, atomically; this is
    ``KnowledgeIndex.update`` (``cls`` is the class it is called on).

    Only documents that are new or whose content changed are chunked and embedded.
    With ``rebuild`` everything is re-embedded (needed after changing the model).
    """
    started = time.perf_counter()
    if not documents:
        raise KnowledgeIndexError(
            "no documents to index: check that knowledge.sources point at the store's files"
        )
    _check_unique(documents)
    store = VersionedDir(directory)
    old: KnowledgeIndex | None = None
    if not rebuild and store.current() is not None:
        old = cls.open(directory, embedder=embedder)
    report = UpdateReport(rebuilt=old is None)
    params = content_hash(FORMAT_VERSION, chunk_size, chunk_overlap, faq_answer_as_key)

    old_docs: dict[str, Any] = old.manifest["documents"] if old else {}
    old_vectors = old._per_chunk(old.vectors) if old else {}
    old_coverage = old._per_chunk(old.key_coverage) if old else {}
    new_chunks: list[Chunk] = []
    chunk_vectors: list[np.ndarray | None] = []
    chunk_coverage: list[np.ndarray | None] = []
    manifest_docs: dict[str, Any] = {}
    to_embed: list[tuple[int, int, str]] = []  # (chunk position, key number, text)
    for doc in documents:
        doc_hash = content_hash(doc.hash, params)
        entry = old_docs.get(doc.id)
        if entry is not None and entry["hash"] == doc_hash and old is not None:
            chunks = [old.chunks[old.chunk_pos[cid]] for cid in entry["chunks"]]
            report.unchanged += 1
            vectors = [old_vectors[c.id] for c in chunks]
            coverage = [old_coverage[c.id] for c in chunks]
        else:
            chunks = chunk_document(
                doc,
                chunk_size=chunk_size,
                chunk_overlap=chunk_overlap,
                faq_answer_as_key=faq_answer_as_key,
            )
            if entry is None:
                report.added += 1
            else:
                report.updated += 1
            report.changed_ids.append(doc.id)
            vectors = [None] * len(chunks)
            coverage = [None] * len(chunks)
            for offset, chunk in enumerate(chunks):
                for k, key in enumerate(chunk.keys):
                    to_embed.append((len(new_chunks) + offset, k, key.text))
        manifest_docs[doc.id] = {
            "hash": doc_hash,
            "kind": doc.kind,
            "source": doc.metadata.get("source"),
            "chunks": [c.id for c in chunks],
        }
        new_chunks.extend(chunks)
        chunk_vectors.extend(vectors)
        chunk_coverage.extend(coverage)
    report.removed = sum(1 for doc_id in old_docs if doc_id not in manifest_docs)
    report.changed_ids.extend(doc_id for doc_id in old_docs if doc_id not in manifest_docs)

    embedded = embedder.embed_documents(
        [text for _, _, text in to_embed],
        batch_size=batch_size,
        progress=_progress_adapter(progress, len(to_embed)),
    )
    covered = embedder.coverage([text for _, _, text in to_embed])
    report.embedded_keys = len(to_embed)
    for (pos, k, _), vec, cov in zip(to_embed, embedded, covered, strict=True):
        if chunk_vectors[pos] is None:
            n_keys = len(new_chunks[pos].keys)
            chunk_vectors[pos] = np.zeros((n_keys, embedder.dim), np.float32)
            chunk_coverage[pos] = np.ones(n_keys, np.float32)
        chunk_vectors[pos][k] = vec  # type: ignore[index]
        chunk_coverage[pos][k] = cov  # type: ignore[index]

    key_chunk, key_kind, key_text, key_tokens = _flatten_keys(new_chunks, old)
    vectors = np.vstack(chunk_vectors).astype(np.float32)  # type: ignore[arg-type]
    key_coverage = np.concatenate(chunk_coverage).astype(np.float32)  # type: ignore[arg-type]
    kind = choose_index_type(index_type, len(vectors), ann_threshold)
    manifest = {
        "format_version": FORMAT_VERSION,
        "embedder": {
            "model_id": embedder.model_id,
            "backend": embedder.backend,
            "dim": embedder.dim,
        },
        "faiss": {"type": kind},
        "chunking": {
            "chunk_size": chunk_size,
            "chunk_overlap": chunk_overlap,
            "faq_answer_as_key": faq_answer_as_key,
        },
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "counts": {
            "documents": len(manifest_docs),
            "chunks": len(new_chunks),
            "keys": len(key_text),
        },
        "documents": manifest_docs,
        # calibrations depend on the content: kept only while nothing changed
        "extras": old.manifest.get("extras", {}) if old and not report.changed else {},
    }
    index = cls(
        manifest=manifest,
        chunks=new_chunks,
        key_chunk=key_chunk,
        key_kind=key_kind,
        key_text=key_text,
        key_tokens=key_tokens,
        vectors=vectors,
        key_coverage=key_coverage,
        faiss_index=build_faiss(vectors, kind),
        bm25=build_bm25(key_tokens),
    )
    fusion = manifest["extras"].get("fusion", {})
    # calibrated before the centroid share existed: calibrate again
    rewrite = old is None or kind != old.index_type or "centroid_weight" not in fusion
    if report.changed or rewrite:
        from knowledge.calibration import calibrate_fusion

        index.set_extra("fusion", calibrate_fusion(index))
        index.save(directory)
    else:
        index.path = old.path
    report.documents = len(manifest_docs)
    report.chunks = len(new_chunks)
    report.keys = len(key_text)
    report.index_type = kind
    report.seconds = time.perf_counter() - started
    return index, report


# Above this many vectors 'auto' keeps them in half precision for the exhaustive search: one
# query then reads half the bytes (15,000 x 384 floats: 23 MB -> 11.5 MB), which is what the
# search of a single query costs once the embedder has had the cache (bench/answers.py:
# 0.3 ms of a 3.2 ms reply). Scores move by about 1e-4, far below any calibrated margin, and
# the calibration is computed through the same index.
HALF_PRECISION_FROM = 4096


def choose_index_type(requested: str, n_vectors: int, ann_threshold: int) -> str:
    """'auto' is exhaustive for stores up to ``ann_threshold`` vectors (float32 up to 4,096,
    half precision above) and HNSW beyond."""
    if requested != "auto":
        if requested == "ivf" and n_vectors < 1000:
            return "flat"  # too few vectors to train IVF centroids
        return requested
    if n_vectors > ann_threshold:
        return "hnsw"
    return "flat16" if n_vectors > HALF_PRECISION_FROM else "flat"


def build_faiss(vectors: np.ndarray, kind: str) -> Any:
    import faiss

    dim = vectors.shape[1]
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # building is batch work: use every core
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "flat16":
        index = faiss.IndexScalarQuantizer(
            dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        index.train(vectors)  # fp16 needs no statistics; this only marks it ready
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    elif kind == "ivf":
        # about 4 * sqrt(n) lists, but at least 39 training points per list (faiss's minimum)
        nlist = max(1, min(4096, int(4 * np.sqrt(len(vectors))), len(vectors) // 39))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = min(nlist, 16)
    else:
        raise KnowledgeIndexError(
            f"unknown FAISS index type {kind!r}: use auto, flat, flat16, hnsw or ivf"
        )
    index.add(vectors)
    return index


def build_bm25(tokens: Sequence[list[str]]) -> Any:
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG

    bm25 = bm25s.BM25()
    bm25.index([list(t) for t in tokens], show_progress=False)
    return bm25


def _flatten_keys(
    chunks: Sequence[Chunk], old: KnowledgeIndex | None
) -> tuple[np.ndarray, list[str], list[str], list[list[str]]]:
    """One row per key; tokens are reused from the old index for identical texts."""
    known: dict[str, list[str]] = {}
    if old is not None:
        known = dict(zip(old.key_text, old.key_tokens, strict=True))
    key_chunk: list[int] = []
    kinds: list[str] = []
    texts: list[str] = []
    tokens: list[list[str]] = []
    for pos, chunk in enumerate(chunks):
        for key in chunk.keys:
            key_chunk.append(pos)
            kinds.append(key.kind)
            texts.append(key.text)
            tokens.append(known[key.text] if key.text in known else tokenize(key.text))
    return np.asarray(key_chunk, dtype=np.int32), kinds, texts, tokens


def _check_unique(documents: Iterable[Document]) -> None:
    seen: set[str] = set()
    for doc in documents:
        if doc.id in seen:
            raise KnowledgeIndexError(f"document id {doc.id!r} appears twice in the input")
        seen.add(doc.id)


def _progress_adapter(progress: EmbedProgress | None, total: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    done = 0
    progress(0, total)

    def advance(n: int) -> None:
        nonlocal done
        done += n
        progress(done, total)

    return advance
