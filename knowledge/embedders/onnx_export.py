"""Exporting a sentence-transformers model's transformer to int8 ONNX (used once per model
by :mod:`knowledge.embedders.onnx_int8`).

``torch.onnx.export`` (the TorchScript exporter, ``dynamo=False``: the dynamo exporter would
need onnxscript) writes fp32; the file is checked against torch; the few outlier activation
channels BERT-like models have are routed around int8 in fp32 (plain dynamic int8 gave a
lowest cosine of 0.83 against torch on all-MiniLM-L6-v2; see
:func:`_split_outlier_channels`); then ``quantize_dynamic`` (per-channel weights, one of
:data:`QUANTIZATIONS`) does the rest.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.errors import EmbedderError

if TYPE_CHECKING:
    from knowledge.embedders.onnx_int8 import _ModelSpec

OPSET = 17


@dataclass(frozen=True)
class Quantization:
    """One int8 recipe for ``quantize_dynamic``: per-channel weights of one type and range."""

    name: str
    weight_type: str  # onnxruntime QuantType member: "QInt8" or "QUInt8"
    reduce_range: bool
    why: str


#: The recipes tried, in order, until one agrees with torch on the machine it runs on.
#: Activations are quantised to uint8 at run time; what differs is the weights. With full
#: 8-bit signed weights, AVX2 kernels without VNNI add two u8 x s8 products into a saturating
#: int16 (255 x 127 x 2 > 32767): all-MiniLM-L6-v2 then agrees with torch at cosine 0.957
#: instead of 0.987 (seen on AMD EPYC, reproduced under QEMU's EPYC-Milan model). Weights in
#: 7 bits keep every pair sum inside int16 (255 x 64 x 2 = 32640), so every x86-64 kernel,
#: VNNI or not, computes the same integers: the first recipe gives the same vectors on every
#: machine, at the speed of the second's kernels and no slower than the third's.
QUANTIZATIONS: tuple[Quantization, ...] = (
    Quantization(
        "s8-7bit",
        "QInt8",
        True,
        "signed 7-bit weights: no int16 saturation on any x86-64 kernel, the same vectors on "
        "every CPU",
    ),
    Quantization(
        "u8",
        "QUInt8",
        False,
        "unsigned 8-bit weights: u8 x u8 kernels widen to 16 bits before they multiply",
    ),
    Quantization(
        "s8",
        "QInt8",
        False,
        "signed 8-bit weights: exact with VNNI or AMX, saturates on AVX2-only CPUs",
    ),
)


def prepare_fp32(
    spec: _ModelSpec, tokenizer: Any, model_id: str, fp32: Path, *, probes: Sequence[str]
) -> list[str]:
    """Export the fp32 model to ``fp32`` (checked against torch on ``probes``) and route its
    outlier channels around int8; returns the nodes to keep in fp32 when quantising."""
    _export_fp32(spec, tokenizer, fp32, probes)
    try:
        return _split_outlier_channels(fp32, tokenizer)
    except EmbedderError:
        raise
    except Exception as exc:
        raise EmbedderError(
            f"preparing the ONNX export of {model_id} for int8 failed: {exc}"
        ) from exc


def quantize(
    fp32: Path, int8: Path, recipe: Quantization, *, keep_fp32: Sequence[str], model_id: str
) -> None:
    """Write ``fp32`` quantised to int8 with ``recipe`` to ``int8``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    try:
        with _quiet_quantizer():
            quantize_dynamic(
                str(fp32),
                str(int8),
                weight_type=getattr(QuantType, recipe.weight_type),
                per_channel=True,
                reduce_range=recipe.reduce_range,
                nodes_to_exclude=list(keep_fp32),
            )
    except Exception as exc:
        raise EmbedderError(f"quantising {model_id} to int8 ({recipe.name}) failed: {exc}") from exc


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """Drop onnxruntime's root-logger advice to run its pre-processing script."""

    def keep(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _export_fp32(spec: _ModelSpec, tokenizer: Any, target: Path, probes: Sequence[str]) -> None:
    """Export the HF transformer (input ids and masks -> last_hidden_state) with fp32 weights."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    import transformers

    try:
        model = transformers.AutoModel.from_pretrained(
            str(spec.transformer_dir), attn_implementation="eager"
        )
    except Exception as exc:
        raise EmbedderError(f"could not load the model in {spec.transformer_dir}: {exc}") from exc
    takes = inspect.signature(model.forward).parameters
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in takes:
        names.append("token_type_ids")

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

    wrapper = LastHiddenState(model).eval()

    def batch(texts: list[str]) -> tuple[torch.Tensor, ...]:
        encodings = tokenizer.encode_batch(texts)
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        return tuple(torch.tensor(columns[name], dtype=torch.long) for name in names)

    example = batch(["an example sentence to trace the model with", "a shorter one"])
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                example,
                str(target),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
    except Exception as exc:
        raise EmbedderError(
            f"exporting {spec.transformer_dir} to ONNX failed: {exc}. Use "
            "embedder.backend: sentence-transformers for this model."
        ) from exc
    _check_fp32(wrapper, target, names, batch([*probes[:4], probes[-1]]))


def _check_fp32(wrapper: Any, path: Path, names: list[str], inputs: tuple[Any, ...]) -> None:
    """The fp32 export must reproduce torch on another batch and sequence size (or the
    trace has baked a shape or a mask in); int8 error is judged later, on pooled vectors."""
    import onnxruntime
    import torch

    with torch.no_grad():
        expected = wrapper(*inputs).numpy()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs, strict=True)})[0]
    real = inputs[1].numpy().astype(bool)
    error = float(np.abs(expected - got)[real].max())
    if got.shape != expected.shape or error > 1e-3:
        raise EmbedderError(
            f"the ONNX export of {path.parent.name} does not reproduce the torch model "
            f"(largest difference {error:.3g}); use embedder.backend: sentence-transformers"
        )


# -- outlier channels ------------------------------------------------------------------------

#: Sentences the fp32 model runs on to find outlier channels (not the probes: those judge it).
CALIBRATION_SENTENCES: tuple[str, ...] = (
    "Thank you for shopping with us.",
    "My parcel is late, where is it?",
    "Can I pay with PayPal or Apple Pay?",
    "Waterproof hiking boots with a Vibram sole, sizes 36 to 47.",
    "How do I cancel an order?",
    "优惠券怎么用？",
    "hello",
    "The item I received is not what I ordered; I would like an exchange or a full refund as "
    "soon as possible please.",
)
#: an input channel is an outlier when its largest |value| exceeds this many times the median
OUTLIER_RATIO = 6.0
#: at most this many outlier channels are split off per activation
OUTLIER_MAX = 8


def _split_outlier_channels(path: Path, tokenizer: Any) -> list[str]:
    """Route the few outlier input channels of each weight MatMul around int8, in place.

    BERT-like models have a handful of hidden channels whose values are ~10-30x larger than
    the rest. Dynamic quantisation scales a whole activation tensor to uint8 at once, so those
    channels leave a few levels for everything else and the int8 embeddings drift (cosine ~0.96
    to torch for all-MiniLM-L6-v2 even with per-channel weights). As in LLM.int8(), each such
    MatMul ``A @ W`` becomes ``(A * keep) @ W0 + gather(A, idx) @ W[idx]``: the first product
    (outlier channels zeroed in ``A`` and in ``W0``) is quantised, the second, k columns wide,
    stays fp32. Returns the names of the fp32 nodes to exclude from quantisation.
    """
    import onnx
    import onnxruntime
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    matmuls = [
        node
        for node in graph.node
        if node.op_type == "MatMul"
        and node.input[1] in weights
        and len(weights[node.input[1]].dims) == 2
    ]
    activations = sorted({node.input[0] for node in matmuls})
    if not activations:
        return []

    # calibrate: the largest |value| of every input channel of every weight MatMul
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in activations:
        probe.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = onnxruntime.InferenceSession(
        probe.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    del probe
    encodings = tokenizer.encode_batch(list(CALIBRATION_SENTENCES))
    columns = {
        "input_ids": [e.ids for e in encodings],
        "attention_mask": [e.attention_mask for e in encodings],
        "token_type_ids": [e.type_ids for e in encodings],
    }
    feeds = {i.name: np.array(columns[i.name], dtype=np.int64) for i in session.get_inputs()}
    real = feeds["attention_mask"].astype(bool)
    names = [o.name for o in session.get_outputs()]
    values = dict(zip(names, session.run(None, feeds), strict=True))
    del session

    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    added: list[Any] = []
    excluded: list[str] = []
    for number, name in enumerate(activations):
        channel_max = np.abs(values[name][real]).max(axis=0)
        median = float(np.median(channel_max))
        top = np.argsort(-channel_max)[:OUTLIER_MAX]
        idx = np.sort(top[channel_max[top] > OUTLIER_RATIO * median]).astype(np.int64)
        if idx.size == 0:
            continue
        keep = np.ones(channel_max.shape, dtype=np.float32)
        keep[idx] = 0.0
        keep_name, idx_name = f"outlier_keep_{number}", f"outlier_index_{number}"
        inliers, outliers = f"{name}__inliers", f"{name}__outliers"
        graph.initializer.extend(
            [numpy_helper.from_array(keep, keep_name), numpy_helper.from_array(idx, idx_name)]
        )
        added += [
            helper.make_node("Mul", [name, keep_name], [inliers], name=f"outlier_mul_{number}"),
            helper.make_node(
                "Gather", [name, idx_name], [outliers], name=f"outlier_gather_{number}", axis=-1
            ),
        ]
        for k, node in enumerate(n for n in matmuls if n.input[0] == name):
            init = weights[node.input[1]]
            weight = numpy_helper.to_array(init).astype(np.float32)
            rows_name = f"{init.name}__outlier_rows"
            graph.initializer.append(numpy_helper.from_array(weight[idx].copy(), rows_name))
            weight[idx] = 0.0
            init.CopyFrom(numpy_helper.from_array(weight, init.name))
            node.input[0] = inliers
            # add the fp32 part after the bias Add when there is one, so onnxruntime still
            # fuses the bias into the quantised MatMul
            tail = node
            after = consumers.get(node.output[0], [])
            if (
                len(after) == 1
                and after[0].op_type == "Add"
                and any(x in weights for x in after[0].input)
            ):
                tail = after[0]
            total = tail.output[0]
            partial = f"{total}__inlier_part"
            extra = f"{total}__outlier_part"
            tail.output[0] = partial
            matmul_name = f"outlier_matmul_{number}_{k}"
            excluded.append(matmul_name)
            added += [
                helper.make_node("MatMul", [outliers, rows_name], [extra], name=matmul_name),
                helper.make_node(
                    "Add", [partial, extra], [total], name=f"outlier_add_{number}_{k}"
                ),
            ]
    if not added:
        return []
    graph.node.extend(added)
    _sort_topologically(graph)
    onnx.save(model, str(path))
    return excluded


def _sort_topologically(graph: Any) -> None:
    """Reorder graph.node so every node comes after the producers of its inputs."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        rest = []
        for node in pending:
            if all(name in available for name in node.input):
                ordered.append(node)
                available.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            raise EmbedderError("internal error: the rewritten ONNX graph has a cycle")
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)


# -- pooling -----------------------------------------------------------------------------------
