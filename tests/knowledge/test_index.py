import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from knowledge.embedders.fake import FakeEmbedder
from knowledge.errors import KnowledgeIndexError
from knowledge.index import KnowledgeIndex, choose_index_type
from knowledge.kb import KnowledgeBase
from knowledge.loaders import load_faq
from knowledge.storage import VersionedDir


def test_first_build_reports_everything_added(fake_kb):
    report = fake_kb.update()
    assert report.rebuilt
    assert (report.added, report.updated, report.removed, report.unchanged) == (10, 0, 0, 0)
    assert report.documents == 10
    # 5 FAQ entries x (3 variants + answer) + 4 products + page chunks
    assert report.keys == 5 * 4 + 4 + (report.chunks - 9)
    assert report.embedded_keys == report.keys
    index = KnowledgeIndex.open(fake_kb.index_dir, embedder=fake_kb.embedder)
    assert len(index.vectors) == report.keys
    assert index.faiss_index.ntotal == report.keys
    assert index.index_type == "flat"


def test_reindex_without_changes_embeds_nothing(fake_kb):
    fake_kb.update()
    version = VersionedDir(fake_kb.index_dir).current()
    calls = fake_kb.embedder.calls
    report = fake_kb.update()
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 0, 0, 10)
    assert fake_kb.embedder.calls == calls
    assert VersionedDir(fake_kb.index_dir).current() == version  # nothing rewritten


def test_editing_one_faq_re_embeds_exactly_that_entry(fake_kb, store_dir):
    fake_kb.update()
    faq = store_dir / "faq.csv"
    faq.write_text(
        faq.read_text(encoding="utf-8").replace("within 30 days", "within 45 days"),
        encoding="utf-8",
    )
    calls = fake_kb.embedder.calls
    report = fake_kb.update()
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 1, 0, 9)
    assert report.changed_ids == ["faq:returns"]
    assert fake_kb.embedder.calls - calls == 4  # its 3 question variants and its answer
    hit = fake_kb.retriever().retrieve("return policy", k=1)[0]
    assert hit.doc_id == "faq:returns" and "45 days" in hit.text


def test_adding_and_removing_documents(fake_kb, store_dir):
    fake_kb.update()
    faq = store_dir / "faq.csv"
    text = faq.read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("pay,"))
    text += "\ngift,Do you sell gift cards?,Yes: digital gift cards from $25.,payment\n"
    faq.write_text(text, encoding="utf-8")
    calls = fake_kb.embedder.calls
    report = fake_kb.update()
    assert (report.added, report.updated, report.removed, report.unchanged) == (1, 0, 1, 9)
    assert fake_kb.embedder.calls - calls == 2
    doc_ids = {c.doc_id for c in fake_kb.index.chunks}
    assert "faq:gift" in doc_ids and "faq:pay" not in doc_ids
    reopened = KnowledgeIndex.open(fake_kb.index_dir, embedder=fake_kb.embedder)
    assert {c.doc_id for c in reopened.chunks} == doc_ids
    # unchanged vectors were carried over, not recomputed differently
    np.testing.assert_allclose(reopened.vectors, fake_kb.index.vectors)


def test_unchanged_vectors_are_reused_bit_for_bit(fake_kb, store_dir):
    first = fake_kb.update() and KnowledgeIndex.open(fake_kb.index_dir)
    faq = store_dir / "faq.csv"
    faq.write_text(faq.read_text(encoding="utf-8").replace("3-5", "2-4"), encoding="utf-8")
    fake_kb.update()
    second = KnowledgeIndex.open(fake_kb.index_dir)
    pos_first = first.chunk_pos["faq:pay"]
    pos_second = second.chunk_pos["faq:pay"]
    np.testing.assert_array_equal(
        first.vectors[first.key_rows(pos_first)], second.vectors[second.key_rows(pos_second)]
    )


def test_crash_mid_save_leaves_previous_index_loadable(fake_kb, store_dir, monkeypatch):
    fake_kb.update()
    before = KnowledgeIndex.open(fake_kb.index_dir)
    faq = store_dir / "faq.csv"
    faq.write_text(faq.read_text(encoding="utf-8").replace("3-5", "1-2"), encoding="utf-8")

    import faiss

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(OSError, match="simulated"):
        fake_kb.update()
    after = KnowledgeIndex.open(fake_kb.index_dir)
    assert after.manifest == before.manifest
    assert [c.text for c in after.chunks] == [c.text for c in before.chunks]
    assert len(list(Path(fake_kb.index_dir).glob("v*"))) == 1  # the partial version is gone

    monkeypatch.undo()
    report = fake_kb.update()
    assert report.updated == 1
    assert "1-2 business days" in KnowledgeIndex.open(fake_kb.index_dir).chunks[0].text


def test_half_written_version_from_a_killed_process_is_ignored_and_cleaned(fake_kb, store_dir):
    fake_kb.update()
    live = VersionedDir(fake_kb.index_dir).current()
    orphan = Path(fake_kb.index_dir) / "v999999"  # as if a process died while writing
    orphan.mkdir()
    (orphan / "chunks.jsonl").write_text("{broken", encoding="utf-8")
    assert KnowledgeIndex.open(fake_kb.index_dir).path == Path(fake_kb.index_dir)
    assert VersionedDir(fake_kb.index_dir).current() == live
    faq = store_dir / "faq.csv"
    faq.write_text(faq.read_text(encoding="utf-8").replace("3-5", "1-2"), encoding="utf-8")
    fake_kb.update()
    assert not orphan.exists()


def test_index_built_with_another_model_says_how_to_rebuild(fake_kb):
    fake_kb.update()
    other = FakeEmbedder(dim=32, model_id="other-model")
    with pytest.raises(KnowledgeIndexError) as info:
        KnowledgeIndex.open(fake_kb.index_dir, embedder=other)
    message = str(info.value)
    assert "fake-hash-64" in message and "other-model" in message
    assert "shopbot index --rebuild" in message
    # a rebuild with the new model works
    docs = load_faq(Path(fake_kb.base_dir) / "faq.csv")
    index, report = KnowledgeIndex.update(fake_kb.index_dir, docs, other, rebuild=True)
    assert report.rebuilt and index.dim == 32


def test_other_format_version_says_how_to_rebuild(fake_kb):
    fake_kb.update()
    manifest_path = VersionedDir(fake_kb.index_dir).current() / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(KnowledgeIndexError, match=r"format version 99.*--rebuild"):
        KnowledgeIndex.open(fake_kb.index_dir)


def test_damaged_index_is_reported(fake_kb):
    fake_kb.update()
    (VersionedDir(fake_kb.index_dir).current() / "vectors.npy").write_bytes(b"garbage")
    with pytest.raises(KnowledgeIndexError, match="damaged"):
        KnowledgeIndex.open(fake_kb.index_dir)


def test_missing_index_says_how_to_build(tmp_path):
    with pytest.raises(KnowledgeIndexError, match="shopbot index"):
        KnowledgeIndex.open(tmp_path / "none")


def test_no_documents_is_an_error(tmp_path, fake_embedder):
    with pytest.raises(KnowledgeIndexError, match="no documents"):
        KnowledgeIndex.update(tmp_path, [], fake_embedder)


@pytest.mark.parametrize("kind", ["flat16", "hnsw", "ivf"])
def test_approximate_index_types_find_the_same_entries(tmp_path, fake_embedder, kind):
    from knowledge.documents import Document
    from knowledge.retriever import HybridRetriever

    docs = [
        Document(
            f"faq:e{i}", f"answer {i}", {"kind": "faq", "questions": [f"question {i} word{i}"]}
        )
        for i in range(600)
    ]
    _index, report = KnowledgeIndex.update(tmp_path, docs, fake_embedder, index_type=kind)
    assert report.index_type == kind
    retriever = HybridRetriever(KnowledgeIndex.open(tmp_path), fake_embedder, mode="dense")
    assert retriever.retrieve("question 17 word17", k=1)[0].doc_id == "faq:e17"
    filtered = retriever.retrieve("question 17 word17", k=3, filters={"doc_ids": ["faq:e5"]})
    assert [h.doc_id for h in filtered] == ["faq:e5"]


def test_auto_index_type_switches_by_size():
    assert choose_index_type("auto", 1000, 50_000) == "flat"
    assert choose_index_type("auto", 15_000, 50_000) == "flat16"
    assert choose_index_type("auto", 60_000, 50_000) == "hnsw"
    assert choose_index_type("ivf", 10, 50_000) == "flat"


def test_changing_the_index_type_rewrites_without_re_embedding(fake_kb):
    fake_kb.update()
    calls = fake_kb.embedder.calls
    docs = fake_kb.load_documents()
    _index, report = KnowledgeIndex.update(
        fake_kb.index_dir, docs, fake_kb.embedder, index_type="hnsw"
    )
    assert report.unchanged == 10 and fake_kb.embedder.calls == calls
    assert KnowledgeIndex.open(fake_kb.index_dir).index_type == "hnsw"


def test_half_precision_scores_match_float32(tmp_path, fake_embedder):
    """flat16 is exhaustive: same ranking as float32, scores within half precision."""
    from knowledge.documents import Document

    docs = [
        Document(f"faq:e{i}", f"answer {i}", {"kind": "faq", "questions": [f"q {i} w{i % 7}"]})
        for i in range(300)
    ]
    exact, _ = KnowledgeIndex.update(tmp_path / "a", docs, fake_embedder, index_type="flat")
    half, _ = KnowledgeIndex.update(tmp_path / "b", docs, fake_embedder, index_type="flat16")
    half = KnowledgeIndex.open(tmp_path / "b")  # the half-precision index reads back
    assert half.index_type == "flat16"
    for probe in ("q 5 w5", "q 123 w4", "nothing alike"):
        query = fake_embedder.embed_query(probe)
        rows_e, scores_e = exact.dense_search(query, 10)
        rows_h, scores_h = half.dense_search(query, 10)
        assert list(rows_h[:3]) == list(rows_e[:3])
        assert np.allclose(scores_h, scores_e, atol=2e-3)


# ---------------------------------------------------------------- two writers at once
HOLD_LOCK = (
    "import fcntl, sys, time\n"
    "handle = open(sys.argv[1], 'w')\n"
    "fcntl.flock(handle, fcntl.LOCK_EX)\n"
    "print('held', flush=True)\n"
    "time.sleep(float(sys.argv[2]))\n"
)


@contextmanager
def lock_held_by_another_process(
    index_dir: Path, seconds: float = 60
) -> Iterator[subprocess.Popen]:
    """Another process (as a second ``shopbot index`` would) holding the index's write lock."""
    index_dir.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(index_dir / ".lock"), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_a_second_writer_gives_way_before_reading_or_embedding(fake_kb):
    busy = pytest.raises(KnowledgeIndexError, match="another writer is updating the index")
    with lock_held_by_another_process(fake_kb.index_dir), busy:
        fake_kb.update()
    assert fake_kb.embedder.calls == 0  # it did not embed everything first
    assert fake_kb.update().added == 10  # and builds once the lock is free


def test_a_writer_waits_for_the_lock_when_asked(fake_kb):
    waited: list[Path] = []
    with lock_held_by_another_process(fake_kb.index_dir, seconds=1):
        started = time.perf_counter()
        with fake_kb.writing(on_wait=waited.append):
            assert waited == [fake_kb.index_dir]
            assert fake_kb.embedder.calls == 0
            report = fake_kb.update()  # the lock is re-entrant in its thread
        assert time.perf_counter() - started > 0.5
    assert report.added == 10


def test_two_threads_cannot_write_one_index_at_once(fake_kb, store_dir):
    other = KnowledgeBase(
        fake_kb.config,
        fake_kb.embedder_config,
        fake_kb.retrieval_config,
        base_dir=store_dir,
        embedder_instance=FakeEmbedder(),
    )
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with fake_kb.writing():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert entered.wait(10)
        with pytest.raises(KnowledgeIndexError, match="another writer is updating"):
            other.update()
        assert other.embedder.calls == 0
    finally:
        release.set()
        thread.join()
    assert other.update().added == 10
