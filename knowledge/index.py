"""The knowledge index: FAISS vectors, a BM25 index, the chunk store and a manifest, kept in
one versioned directory and updated incrementally.

Every chunk has one or more *keys* (an FAQ's question variants and answer, a product's text,
a page chunk's text). Each key has one vector and one BM25 document; a key's row number is
its id in both indexes. Updating re-chunks and re-embeds only the documents whose content
hash changed; the FAISS and BM25 structures are then rebuilt from the stored vectors and
tokens, which costs no model call.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.building import (  # noqa: F401  (re-exported)
    FORMAT_VERSION,
    EmbedProgress,
    UpdateReport,
    build_bm25,
    build_faiss,
    choose_index_type,
    update_index,
)
from knowledge.documents import Chunk, Key
from knowledge.embedders.base import Embedder
from knowledge.errors import KnowledgeIndexError
from knowledge.storage import VersionedDir

log = logging.getLogger(__name__)

EXACT_FILTER_LIMIT = 50_000  # filtered searches over fewer keys than this are exact


class Wordings:
    """The question wordings of each FAQ entry with at least two of them, as a group: the sum
    of their vectors, their rows, and how close a wording typically is to the centroid of the
    others (the median cosine, each wording left out of the centroid it is compared with, as
    a customer's question is: otherwise the figure would depend on the group's size, a
    wording being a third of a three-wording centroid). A customer's wording of the entry's
    question is about as close to the centroid as the store's own wordings are to theirs; a
    question about something next to it is not.
    """

    MIN_WORDINGS = 2

    def __init__(
        self, slot: np.ndarray, sums: np.ndarray, rows: list[np.ndarray], typical: np.ndarray
    ) -> None:
        self.slot = slot  # chunk position -> group (-1: fewer than two wordings)
        #: group -> chunk position
        self.chunks = np.flatnonzero(slot >= 0)[np.argsort(slot[slot >= 0], kind="stable")]
        self.sizes = np.array([len(r) for r in rows], dtype=np.int64)
        self.sums = sums
        self.centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-9)
        self.rows = rows
        self.typical = typical

    @classmethod
    def of(cls, index: KnowledgeIndex) -> Wordings:
        question = np.flatnonzero(np.asarray(index.key_kind) == "question")
        chunks, starts, counts = np.unique(
            np.asarray(index.key_chunk)[question], return_index=True, return_counts=True
        )
        grouped = counts >= cls.MIN_WORDINGS
        slot = np.full(len(index.chunks), -1, dtype=np.int64)
        slot[chunks[grouped]] = np.arange(int(grouped.sum()))
        dim = index.vectors.shape[1] if index.vectors.ndim == 2 else 0
        sums = np.zeros((int(grouped.sum()), dim), dtype=np.float32)
        rows, typical = [], np.zeros(len(sums), dtype=np.float32)
        # keys are stored grouped by chunk, so one chunk's question rows are contiguous here
        for group, (start, count) in enumerate(
            zip(starts[grouped].tolist(), counts[grouped].tolist(), strict=True)
        ):
            own = question[start : start + count]
            vectors = np.asarray(index.vectors[own], dtype=np.float32)
            sums[group] = vectors.sum(axis=0)
            rows.append(own)
            typical[group] = _typical(vectors, sums[group])
        return cls(slot, sums, rows, typical)

    def centroid_scores(
        self,
        index: KnowledgeIndex,
        vector: np.ndarray,
        positions: Sequence[int],
        exclude: np.ndarray | None = None,
    ) -> dict[int, float]:
        """Cosine of ``vector`` to the centroid of each of ``positions``' wordings, for those
        that have a group; ``exclude``: key rows held out for calibration, left out of their
        groups (a group left with fewer than two wordings has no centroid)."""
        if not len(self.sums) or not len(positions):
            return {}
        positions = np.asarray(positions, dtype=np.int64)
        groups = self.slot[positions]
        positions, groups = positions[groups >= 0], groups[groups >= 0]
        vector = np.asarray(vector, dtype=np.float32)
        scores = dict(
            zip(positions.tolist(), (self.centroids[groups] @ vector).tolist(), strict=True)
        )
        if exclude is None or not len(exclude) or not len(groups):
            return scores
        exclude = np.asarray(exclude, dtype=np.int64)
        held = self.slot[index.key_chunk[exclude]]
        held = held[(held >= 0) & (np.asarray(index.key_kind)[exclude] == "question")]
        for group in np.unique(held[np.isin(held, groups)]).tolist():
            pos = int(self.chunks[group])
            rest = self._rest(index, self.rows[group], exclude)
            if rest is None:
                del scores[pos]
            else:
                scores[pos] = float(vector @ _unit(rest[1]))
        return scores

    def _rest(
        self, index: KnowledgeIndex, rows: np.ndarray, exclude: Any
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The vectors of ``rows`` not in ``exclude`` and their sum; None when fewer than
        MIN_WORDINGS are left (no group to speak of)."""
        kept = rows[~np.isin(rows, exclude)]
        if len(kept) < self.MIN_WORDINGS:
            return None
        vectors = np.asarray(index.vectors[kept], dtype=np.float32)
        return vectors, vectors.sum(axis=0)

    def typicality(
        self,
        index: KnowledgeIndex,
        pos: int,
        vector: np.ndarray,
        exclude: frozenset[int] = frozenset(),
    ) -> float:
        """How much closer ``vector`` is to entry ``pos``'s centroid than its own wordings
        typically are (negative: less typical than most of them); 0 for an entry with fewer
        than two wordings. ``exclude``: rows held out for calibration, left out of the group."""
        group = int(self.slot[pos]) if 0 <= pos < len(self.slot) else -1
        if group < 0:
            return 0.0
        centroid, typical = self.centroids[group], float(self.typical[group])
        rows = self.rows[group]
        if exclude and np.isin(rows, list(exclude)).any():
            rest = self._rest(index, rows, list(exclude))
            if rest is None:
                return 0.0
            centroid, typical = _unit(rest[1]), _typical(*rest)
        return float(np.asarray(vector, dtype=np.float32) @ centroid) - typical


def cosine_to_rest(vectors: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Cosine of each row of ``vectors`` to its total less itself: to the centroid of the
    others in its group. ``totals``: one sum for all rows, or one per row."""
    totals = np.broadcast_to(totals, vectors.shape)
    along = np.einsum("ij,ij->i", vectors, totals)
    own = np.einsum("ij,ij->i", vectors, vectors)
    rest = np.einsum("ij,ij->i", totals, totals) - 2 * along + own
    return (along - own) / np.sqrt(np.maximum(rest, 1e-12))


def _typical(vectors: np.ndarray, total: np.ndarray) -> float:
    """Median cosine of each wording to the centroid of the others in its group, ``total``
    being the sum of them all."""
    return float(np.median(cosine_to_rest(vectors, total)))


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-9)


class KnowledgeIndex:
    """A loaded index: chunks, keys, vectors, and the FAISS and BM25 structures over keys."""

    def __init__(
        self,
        *,
        manifest: dict[str, Any],
        chunks: list[Chunk],
        key_chunk: np.ndarray,
        key_kind: list[str],
        key_text: list[str],
        key_tokens: list[list[str]],
        vectors: np.ndarray,
        key_coverage: np.ndarray | None = None,
        faiss_index: Any,
        bm25: Any,
        path: Path | None = None,
    ) -> None:
        self.manifest = manifest
        self.chunks = chunks
        self.key_chunk = key_chunk
        self.key_kind = key_kind
        self.key_text = key_text
        self.key_tokens = key_tokens
        self.vectors = vectors
        #: how much of each key the embedding model understands (see Embedder.coverage)
        self.key_coverage = (
            np.ones(len(key_text), dtype=np.float32) if key_coverage is None else key_coverage
        )
        self.faiss_index = faiss_index
        self.bm25 = bm25
        self.path = path
        self.chunk_pos = {c.id: i for i, c in enumerate(chunks)}
        # keys are stored grouped by chunk: chunk i owns rows key_starts[i]:key_starts[i+1]
        self.key_starts = np.searchsorted(key_chunk, np.arange(len(chunks))).astype(np.int64)
        self._key_ends = np.append(self.key_starts[1:], len(key_chunk))

    @cached_property
    def token_df(self) -> dict[str, int]:
        """In how many keys each lexical token occurs."""
        df: dict[str, int] = {}
        for tokens in self.key_tokens:
            for token in set(tokens):
                df[token] = df.get(token, 0) + 1
        return df

    @cached_property
    def wordings(self) -> Wordings:
        """Each FAQ entry's question wordings as a group (see :class:`Wordings`)."""
        return Wordings.of(self)

    def key_rows(self, pos: int) -> np.ndarray:
        """Rows of chunk ``pos``'s keys."""
        return np.arange(self.key_starts[pos], self._key_ends[pos])

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        return int(self.manifest["embedder"]["dim"])

    @property
    def model_id(self) -> str:
        return str(self.manifest["embedder"]["model_id"])

    @property
    def index_type(self) -> str:
        return str(self.manifest.get("faiss", {}).get("type", "flat"))

    def __len__(self) -> int:
        return len(self.chunks)

    def check_embedder(self, embedder: Embedder) -> None:
        """Raise when ``embedder`` is not the model the index was built with."""
        _check_compatible(self.manifest, embedder, self.path)

    # ------------------------------------------------------------------ opening
    @classmethod
    def exists(cls, directory: str | Path) -> bool:
        return VersionedDir(directory).current() is not None

    @classmethod
    def open(cls, directory: str | Path, *, embedder: Embedder | None = None) -> KnowledgeIndex:
        """Open the live version of an index directory, checking format and model."""
        version = VersionedDir(directory).current()
        if version is None:
            raise KnowledgeIndexError(f"no index in {directory}: build it with `shopbot index`")
        manifest = _read_manifest(version)
        if embedder is not None:
            _check_compatible(manifest, embedder, Path(directory))
        return _load_version(version, manifest)

    # ------------------------------------------------------------------ building
    #: bring the index in a directory in line with the store's documents, atomically,
    #: re-embedding only what changed (see :func:`knowledge.building.update_index`)
    update = classmethod(update_index)

    def _per_chunk(self, per_key: np.ndarray) -> dict[str, np.ndarray]:
        """Split a per-key array into one array per chunk id."""
        return {c.id: per_key[self.key_rows(pos)] for pos, c in enumerate(self.chunks)}

    # ------------------------------------------------------------------ saving
    def save(self, directory: str | Path) -> None:
        """Write a new version of the index and make it live atomically."""
        import faiss

        store = VersionedDir(directory)
        with store.new_version() as path:
            with open(path / "chunks.jsonl", "w", encoding="utf-8") as fh:
                for chunk in self.chunks:
                    fh.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
            with open(path / "keys.jsonl", "w", encoding="utf-8") as fh:
                rows = zip(
                    self.key_chunk,
                    self.key_kind,
                    self.key_text,
                    self.key_tokens,
                    self.key_coverage,
                    strict=True,
                )
                for pos, kind, text, tokens, cov in rows:
                    row = {
                        "chunk": int(pos),
                        "kind": kind,
                        "text": text,
                        "tokens": tokens,
                        "cov": round(float(cov), 4),
                    }
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            np.save(path / "vectors.npy", self.vectors)
            faiss.write_index(self.faiss_index, str(path / "dense.faiss"))
            self.bm25.save(str(path / "bm25"), show_progress=False)
            # the manifest goes last: a version folder without one is never complete
            (path / "manifest.json").write_text(
                json.dumps(self.manifest, ensure_ascii=False, indent=1), encoding="utf-8"
            )
        self.path = Path(directory)

    def set_extra(self, name: str, value: Any) -> None:
        """Store a small JSON value with the index (e.g. calibrated thresholds); call save()."""
        self.manifest.setdefault("extras", {})[name] = value

    def write_extra(self, name: str, value: Any) -> None:
        """Add a small JSON value to the live version on disk without rewriting it.

        The file is written beside the version's data and renamed into place, so readers
        see it whole or not at all; the content it describes is unchanged.
        """
        self.set_extra(name, value)
        if self.path is None:
            return
        version = VersionedDir(self.path).current()
        if version is None:
            return
        target = version / f"extra-{name}.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, target)

    # ------------------------------------------------------------------ searching
    def dense_search(
        self,
        query: np.ndarray,
        n: int,
        *,
        allowed: np.ndarray | None = None,
        exclude: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` keys by inner product: (key rows, scores), best first.

        ``allowed`` restricts the search to those rows; ``exclude`` leaves a few rows out.
        """
        import faiss

        if query.shape[-1] != self.dim:
            raise KnowledgeIndexError(
                f"index has dim {self.dim}, query has {query.shape[-1]}: the index was built "
                "with another embedding model; run `shopbot index --rebuild`"
            )
        n = min(n, len(self.vectors))
        params = None
        if allowed is not None:
            if len(allowed) <= EXACT_FILTER_LIMIT:
                # exact search over the allowed keys: an approximate index could miss a
                # small filtered set entirely (its vectors may sit in unprobed lists)
                scores = self.vectors[allowed] @ query.astype(np.float32)
                top = np.argsort(-scores, kind="stable")[:n]
                return allowed[top].astype(np.int64), scores[top]
            params = _search_params(self.index_type, faiss.IDSelectorBatch(allowed), n)
        elif self.index_type == "hnsw":
            params = _search_params("hnsw", None, n)
        query = query.reshape(1, -1).astype(np.float32)
        # one query is searched on one thread: OpenMP workers woken per query contend with
        # the embedder's threads and cost more than they save (measured in bench/)
        faiss.omp_set_num_threads(1)
        extra = 0 if exclude is None else len(exclude)
        scores, ids = self.faiss_index.search(
            query, min(n + extra, len(self.vectors)), params=params
        )
        keep = ids[0] >= 0
        if extra:
            keep &= ~np.isin(ids[0], exclude)
        return ids[0][keep][:n], scores[0][keep][:n]

    def lexical_scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every key for the query tokens (zeros when none is known)."""
        if not tokens:
            return np.zeros(len(self.key_text), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(tokens), dtype=np.float32)


# ---------------------------------------------------------------------- helpers


def _search_params(kind: str, selector: Any, n: int) -> Any:
    import faiss

    kwargs: dict[str, Any] = {} if selector is None else {"sel": selector}
    if kind == "hnsw":
        return faiss.SearchParametersHNSW(efSearch=max(64, 2 * n), **kwargs)
    if kind == "ivf":
        return faiss.SearchParametersIVF(nprobe=16, **kwargs)
    return faiss.SearchParameters(**kwargs)


def _read_manifest(version: Path) -> dict[str, Any]:
    path = version / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise KnowledgeIndexError(
            f"cannot read {path} ({exc}): the index is damaged; run `shopbot index --rebuild`"
        ) from None
    found = manifest.get("format_version")
    if found != FORMAT_VERSION:
        raise KnowledgeIndexError(
            f"the index in {version.parent} has format version {found}, this shopbot reads "
            f"version {FORMAT_VERSION}: run `shopbot index --rebuild`"
        )
    return manifest


def _check_compatible(manifest: dict[str, Any], embedder: Embedder, where: Path | None) -> None:
    built = manifest["embedder"]
    if built["model_id"] != embedder.model_id or int(built["dim"]) != embedder.dim:
        raise KnowledgeIndexError(
            f"the index in {where} was built with the embedding model {built['model_id']!r} "
            f"(dim {built['dim']}), but the configured model is {embedder.model_id!r} "
            f"(dim {embedder.dim}): run `shopbot index --rebuild` to re-embed everything "
            "with the configured model, or set embedder.model back"
        )


def _load_version(version: Path, manifest: dict[str, Any]) -> KnowledgeIndex:
    for extra in version.glob("extra-*.json"):
        try:
            value = json.loads(extra.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # a calibration that cannot be read is recomputed
        manifest.setdefault("extras", {})[extra.stem[len("extra-") :]] = value
    import bm25s
    import faiss

    try:
        chunks = []
        with open(version / "chunks.jsonl", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                chunks.append(Chunk(row["id"], row["doc_id"], row["text"], row["metadata"], ()))
        key_chunk, kinds, texts, tokens, coverage = [], [], [], [], []
        with open(version / "keys.jsonl", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                key_chunk.append(row["chunk"])
                kinds.append(row["kind"])
                texts.append(row["text"])
                tokens.append(row["tokens"])
                coverage.append(row.get("cov", 1.0))
        per_chunk: dict[int, list[Key]] = {}
        for pos, kind, text in zip(key_chunk, kinds, texts, strict=True):
            per_chunk.setdefault(pos, []).append(Key(text, kind))  # type: ignore[arg-type]
        chunks = [
            Chunk(c.id, c.doc_id, c.text, c.metadata, tuple(per_chunk.get(i, ())))
            for i, c in enumerate(chunks)
        ]
        vectors = np.load(version / "vectors.npy")
        faiss_index = faiss.read_index(str(version / "dense.faiss"))
        bm25 = bm25s.BM25.load(str(version / "bm25"), show_progress=False)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise KnowledgeIndexError(
            f"the index in {version.parent} is damaged ({exc}): run `shopbot index --rebuild`"
        ) from None
    if len(vectors) != len(texts) or faiss_index.ntotal != len(texts):
        raise KnowledgeIndexError(
            f"the index in {version.parent} is inconsistent ({len(texts)} keys, "
            f"{len(vectors)} vectors): run `shopbot index --rebuild`"
        )
    return KnowledgeIndex(
        manifest=manifest,
        chunks=chunks,
        key_chunk=np.asarray(key_chunk, dtype=np.int32),
        key_kind=kinds,
        key_text=texts,
        key_tokens=tokens,
        vectors=vectors,
        key_coverage=np.asarray(coverage, dtype=np.float32),
        faiss_index=faiss_index,
        bm25=bm25,
        path=version.parent,
    )
