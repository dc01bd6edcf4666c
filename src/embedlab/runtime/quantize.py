"""int8 quantization of an exported ONNX encoder, and where it costs accuracy.

Dynamic quantization (weights int8 per output channel, symmetric; activations quantized per batch at run
time) is the default: per-tensor weights lose accuracy (mean cosine 0.964 vs 0.993). `static` calibrates the
activation ranges once on real sentences instead (QDQ). Either can leave named MatMuls in fp32 — the most
sensitive ones, as `matmul_sensitivity` measures them, one at a time.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from embedlab.io import atomic_path, l2_normalise


def weight_matmuls(onnx_path: str | Path) -> list[str]:
    """Names of the MatMul nodes that multiply by a weight (the ones quantization changes), in graph order.

    Example::

        weight_matmuls("runs/minilm/onnx/model.onnx")[:2]  # ['/backbone/encoder/layer.0/.../MatMul', ...]
    """
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    weights = {tensor.name for tensor in model.graph.initializer}
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]


def quantize_int8(source: Path, target: Path, *, keep_fp32: Iterable[str] = ()) -> Path:
    """Dynamic int8 quantization of an ONNX file, leaving the MatMuls named in `keep_fp32` in fp32.

    Example::

        quantize_int8(Path("runs/minilm/onnx/model.onnx"), Path("runs/minilm/onnx/model_int8.onnx"))
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with atomic_path(target) as staging:
        quantize_dynamic(
            model_input=str(source),
            model_output=str(staging),
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=list(keep_fp32),
            extra_options={"WeightSymmetric": True},
        )
    _remove_side_files(target)
    return target


def quantize_int8_per_row(source: Path, target: Path, *, keep_fp32: Iterable[str] = ()) -> Path:
    """int8 quantization whose vectors do not depend on their batch mates: weights int8 per output channel
    (symmetric, as `quantize_int8`), activations quantized **per token row** at run time (symmetric: scale =
    max |x| / 127 over that row alone, stored as uint8 around 128) where onnxruntime's dynamic quantization
    takes one range for the whole batch tensor, so that a text's vector moved with whatever was batched
    beside it. Each weight MatMul `x @ W` becomes `MatMulInteger(q(x), Wq) · scale(x) · scale(W)`.

    Example::

        quantize_int8_per_row(Path("runs/minilm/onnx/model.onnx"), Path("runs/minilm/onnx/int8.onnx"))
    """
    import onnx

    model = onnx.load(str(source))
    graph = model.graph
    weights = {tensor.name: tensor for tensor in graph.initializer}
    skip = set(keep_fp32)
    shared = _row_quant_constants(graph)
    nodes = []
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights and node.name not in skip:
            nodes += _per_row_matmul(graph, node, weights[node.input[1]], shared)
        else:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [tensor for tensor in graph.initializer if tensor.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    with atomic_path(target) as staging:
        onnx.save(model, str(staging))
    return target


def _row_quant_constants(graph) -> dict[str, str]:
    """The constants every per-row MatMul shares: 127, 128 (float and uint8 zero point), a floor for the
    scale.
    """
    from onnx import TensorProto, helper

    values = {
        "rowq_127": (TensorProto.FLOAT, [127.0]),
        "rowq_128": (TensorProto.FLOAT, [128.0]),
        "rowq_eps": (TensorProto.FLOAT, [1e-12]),
        "rowq_zero_point": (TensorProto.UINT8, [128]),
    }
    for name, (kind, value) in values.items():
        graph.initializer.append(helper.make_tensor(name, kind, [], value))
    return {key.removeprefix("rowq_"): key for key in values}


def _per_row_matmul(graph, node, weight, shared: dict[str, str]) -> list:
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.to_array(weight).astype(np.float32)  # (K, N)
    w_scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / 127.0
    w_q = np.clip(np.round(w / w_scale), -127, 127).astype(np.int8)
    prefix = f"{node.name or node.output[0]}/rowq"
    graph.initializer.extend(
        [
            numpy_helper.from_array(w_q, f"{prefix}/weight"),
            numpy_helper.from_array(w_scale.astype(np.float32), f"{prefix}/weight_scale"),
        ]
    )
    x, out = node.input[0], node.output[0]
    names = {step: f"{prefix}/{step}" for step in ("abs", "max", "floor", "scale", "div", "round",
                                                  "shift", "q", "int", "float", "scales")}  # fmt: skip

    def make(op: str, inputs: list[str], step: str, **attributes):
        return helper.make_node(op, inputs, [names[step]], name=names[step], **attributes)

    return [
        make("Abs", [x], "abs"),
        make("ReduceMax", [names["abs"]], "max", axes=[-1], keepdims=1),
        make("Max", [names["max"], shared["eps"]], "floor"),
        make("Div", [names["floor"], shared["127"]], "scale"),
        make("Div", [x, names["scale"]], "div"),
        make("Round", [names["div"]], "round"),
        make("Add", [names["round"], shared["128"]], "shift"),
        make("Cast", [names["shift"]], "q", to=TensorProto.UINT8),
        make("MatMulInteger", [names["q"], f"{prefix}/weight", shared["zero_point"]], "int"),
        make("Cast", [names["int"]], "float", to=TensorProto.FLOAT),
        # weight scale first, row scale second: onnxruntime fuses Cast → Mul(a_scale · b_scale) into
        # MatMulIntegerToFloat, whose a_scale is one number per tensor, and that would undo the per-row scale
        make("Mul", [names["float"], f"{prefix}/weight_scale"], "scales"),
        helper.make_node("Mul", [names["scales"], names["scale"]], [out], name=f"{prefix}/out"),
    ]


def quantize_int8_static(
    source: Path,
    target: Path,
    encoder,
    sentences: list[str],
    *,
    keep_fp32: Iterable[str] = (),
    method: str = "minmax",
    batch_size: int = 32,
) -> Path:
    """Static int8 quantization (QDQ): activation ranges calibrated once on `sentences`, fed as `encoder`
    (an `OnnxEncoder` of the same folder) tokenises them; `method` minmax, percentile or entropy.

    Example::

        fp32 = OnnxEncoder("runs/minilm")
        quantize_int8_static(fp32_path, Path("model_static.onnx"), fp32, sts_sentences("stsb", "train", 512))
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(_calibration_feeds(encoder, sentences, batch_size))

        def get_next(self):
            return next(self.feeds, None)

    methods = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }
    with atomic_path(target) as staging:
        quantize_static(
            str(source),
            str(staging),
            Batches(),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=list(keep_fp32),
            calibrate_method=methods[method],
            extra_options={"WeightSymmetric": True},
        )
    _remove_side_files(target)
    return target


def _calibration_feeds(encoder, sentences: list[str], batch_size: int) -> list[dict]:
    encodings = encoder.tokenizer.encode_batch(sentences)
    width = max(len(e.ids) for e in encodings)  # one shape: the histogram calibrators stack batches
    return [
        encoder.feeds(encodings[start : start + batch_size], width)
        for start in range(0, len(encodings), batch_size)
    ]


def matmul_sensitivity(
    model_dir: str | Path, sentences: list[str], fp32_file: str
) -> list[tuple[str, float]]:
    """How much each weight MatMul, quantized alone, moves the embeddings of `sentences` away from the fp32
    file's: (node, 1 − mean cosine), the most sensitive first. The ones at the top are worth keeping in fp32.

    Example::

        ranked = matmul_sensitivity("runs/minilm", sts_sentences("stsb", "dev", limit=300), FP32_FILE)
        quantize_int8(fp32, int8, keep_fp32=[name for name, _ in ranked[:2]])
    """
    from embedlab.runtime.encoder import OnnxEncoder

    model_dir = Path(model_dir)
    source = model_dir / fp32_file
    reference = l2_normalise(OnnxEncoder(model_dir, fp32_file).encode(sentences), np.float64)
    scores = []
    with tempfile.TemporaryDirectory(prefix="sensitivity-") as work:
        for node in weight_matmuls(source):
            trial = Path(work) / "one.onnx"
            _quantize_only(source, trial, node)
            vectors = l2_normalise(OnnxEncoder(model_dir, str(trial)).encode(sentences), np.float64)
            scores.append((node, float(1 - (vectors * reference).sum(1).mean())))
    return sorted(scores, key=lambda pair: -pair[1])


def _quantize_only(source: Path, target: Path, node: str) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        model_input=str(source),
        model_output=str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,
        nodes_to_quantize=[node],
        extra_options={"WeightSymmetric": True},
    )


def _remove_side_files(target: Path) -> None:
    """The quantizer leaves pre-processed copies (`.NAME*`) beside what it wrote."""
    for leftover in target.parent.glob(f".{target.stem}*"):
        shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
