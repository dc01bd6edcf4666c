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
    beside it. Each weight MatMul `x @ W` becomes `MatMulInteger(q(x), Wq) · scale(x) · scale(W)`; the
    embedding tables are int8 with a scale per row.

    Example::

        quantize_int8_per_row(Path("runs/minilm/onnx/model.onnx"), Path("runs/minilm/onnx/int8.onnx"))
    """
    import onnx

    model = onnx.load(str(source))
    graph = model.graph
    weights = {tensor.name: tensor for tensor in graph.initializer}
    skip = set(keep_fp32)
    shared = _row_quant_constants(graph)
    nodes: list = []
    quantized: dict[
        str, tuple[str, str]
    ] = {}  # an input's (uint8 rows, row scale), made once for all its MatMuls
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights and node.name not in skip:
            if node.input[0] not in quantized:
                made, quantized[node.input[0]] = _quantized_rows(node.input[0], len(quantized), shared)
                nodes += made
            nodes += _per_row_matmul(graph, node, weights[node.input[1]], quantized[node.input[0]], shared)
        elif node.op_type == "Gather" and _is_table(weights.get(node.input[0])) and node.name not in skip:
            nodes += _int8_table(graph, node, weights[node.input[0]])
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

    values: dict[str, tuple[int, list[float] | list[int]]] = {
        "rowq_127": (TensorProto.FLOAT, [127.0]),
        "rowq_128": (TensorProto.FLOAT, [128.0]),
        "rowq_eps": (TensorProto.FLOAT, [1e-12]),
        "rowq_zero_point": (TensorProto.UINT8, [128]),
    }
    for name, (kind, value) in values.items():
        graph.initializer.append(helper.make_tensor(name, kind, [], value))
    return {key.removeprefix("rowq_"): key for key in values}


def _is_table(tensor) -> bool:
    """A large 2-D float initializer read by Gather: the token embeddings, most of a small encoder's bytes."""
    from onnx import TensorProto

    return (
        tensor is not None
        and tensor.data_type == TensorProto.FLOAT
        and len(tensor.dims) == 2
        and (tensor.dims[0] * tensor.dims[1] >= 1 << 16)
    )


def _int8_table(graph, node, table) -> list:
    """`Gather(E, ids)` over an int8 copy of `E` with one scale per row (token): each looked-up vector is
    its own row's, so it depends on nothing else in the batch.
    """
    from onnx import TensorProto, helper, numpy_helper

    values = numpy_helper.to_array(table).astype(np.float32)
    scale = np.maximum(np.abs(values).max(axis=1, keepdims=True), 1e-12) / 127.0
    prefix = f"{node.name or node.output[0]}/rowq"
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.round(values / scale).astype(np.int8), f"{prefix}/table"),
            numpy_helper.from_array(scale.astype(np.float32), f"{prefix}/table_scale"),
        ]
    )
    ids, attributes = node.input[1], {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return [
        helper.make_node(
            "Gather", [f"{prefix}/table", ids], [f"{prefix}/rows"], name=f"{prefix}/rows", **attributes
        ),
        helper.make_node(
            "Cast", [f"{prefix}/rows"], [f"{prefix}/float"], name=f"{prefix}/float", to=TensorProto.FLOAT
        ),
        helper.make_node(
            "Gather",
            [f"{prefix}/table_scale", ids],
            [f"{prefix}/scales"],
            name=f"{prefix}/scales",
            **attributes,
        ),
        helper.make_node(
            "Mul", [f"{prefix}/float", f"{prefix}/scales"], [node.output[0]], name=f"{prefix}/out"
        ),
    ]


def _quantized_rows(x: str, number: int, shared: dict[str, str]) -> tuple[list, tuple[str, str]]:
    """Nodes quantizing activation `x` per row (its last axis): uint8 around 128, scale max |x| / 127.
    Returns them and the names of the quantized rows and of each row's max |x|.
    """
    from onnx import TensorProto, helper

    prefix = f"rowq/input{number}"
    steps = ("max", "min", "neg", "absmax", "floor", "inverse", "scaled", "round", "shift", "q")
    names = {step: f"{prefix}/{step}" for step in steps}

    def make(op: str, inputs: list[str], step: str, **attributes):
        return helper.make_node(op, inputs, [names[step]], name=names[step], **attributes)

    # max |x| of a row from its max and min (two reads, no full-size temporary); the row's scale is
    # floor / 127, the 1/127 folded into the weight scales; x · (127 / floor) rounds into [-127, 127]
    nodes = [
        make("ReduceMax", [x], "max", axes=[-1], keepdims=1),
        make("ReduceMin", [x], "min", axes=[-1], keepdims=1),
        make("Neg", [names["min"]], "neg"),
        make("Max", [names["max"], names["neg"]], "absmax"),
        make("Max", [names["absmax"], shared["eps"]], "floor"),
        make("Div", [shared["127"], names["floor"]], "inverse"),
        make("Mul", [x, names["inverse"]], "scaled"),
        make("Round", [names["scaled"]], "round"),
        make("Add", [names["round"], shared["128"]], "shift"),
        make("Cast", [names["shift"]], "q", to=TensorProto.UINT8),
    ]
    return nodes, (names["q"], names["floor"])


def _per_row_matmul(graph, node, weight, rows: tuple[str, str], shared: dict[str, str]) -> list:
    """`x @ W` as MatMulInteger of the quantized rows and the int8 weights, scaled back to float."""
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.to_array(weight).astype(np.float32)  # (K, N)
    w_scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / 127.0
    w_q = np.clip(np.round(w / w_scale), -127, 127).astype(np.int8)
    prefix = f"{node.name or node.output[0]}/rowq"
    graph.initializer.extend(
        [
            numpy_helper.from_array(w_q, f"{prefix}/weight"),
            numpy_helper.from_array((w_scale / 127.0).astype(np.float32), f"{prefix}/weight_scale"),
        ]
    )
    q, scale = rows
    return [
        helper.make_node(
            "MatMulInteger",
            [q, f"{prefix}/weight", shared["zero_point"]],
            [f"{prefix}/int"],
            name=f"{prefix}/int",
        ),
        helper.make_node(
            "Cast", [f"{prefix}/int"], [f"{prefix}/float"], name=f"{prefix}/float", to=TensorProto.FLOAT
        ),
        # weight scale first, row scale second: onnxruntime fuses Cast → Mul(a_scale · b_scale) into
        # MatMulIntegerToFloat, whose a_scale is one number per tensor, and that would undo the per-row scale
        helper.make_node(
            "Mul",
            [f"{prefix}/float", f"{prefix}/weight_scale"],
            [f"{prefix}/scaled"],
            name=f"{prefix}/scaled",
        ),
        helper.make_node("Mul", [f"{prefix}/scaled", scale], [node.output[0]], name=f"{prefix}/out"),
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
