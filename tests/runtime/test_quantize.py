"""int8 quantization options: fp32-kept MatMuls, the sensitivity ranking, static calibration."""

from __future__ import annotations

import numpy as np
import onnx

from embedlab.io import l2_normalise
from embedlab.runtime.encoder import OnnxEncoder
from embedlab.runtime.export import FP32_FILE
from embedlab.runtime.quantize import (
    matmul_sensitivity,
    quantize_int8,
    quantize_int8_static,
    weight_matmuls,
)

SENTENCES = [
    "a man plays guitar",
    "the sun is shining today",
    "a dog runs in the park",
    "two men are fighting over a ball",
    "a woman is slicing an onion",
    "the cat sleeps",
]


def ops_by_name(path) -> dict[str, str]:
    return {node.name: node.op_type for node in onnx.load(str(path)).graph.node}


def test_kept_matmuls_stay_fp32_and_the_others_are_quantized(exported_tiny, tmp_path):
    fp32 = exported_tiny / FP32_FILE
    names = weight_matmuls(fp32)
    assert len(names) == 12  # 2 layers × (query, key, value, output, intermediate, output)
    target = quantize_int8(fp32, tmp_path / "int8.onnx", keep_fp32=names[:2])
    ops = ops_by_name(target)
    assert [ops[name] for name in names[:2]] == ["MatMul", "MatMul"]
    assert all(name not in ops or ops[name] != "MatMul" for name in names[2:])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no quantizer leftovers


def test_sensitivity_ranks_every_weight_matmul_most_sensitive_first(exported_tiny):
    ranked = matmul_sensitivity(exported_tiny, SENTENCES, FP32_FILE)
    assert sorted(name for name, _ in ranked) == sorted(weight_matmuls(exported_tiny / FP32_FILE))
    scores = [score for _, score in ranked]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0  # quantizing a weight moves the embeddings


def test_static_quantization_is_calibrated_and_close_to_fp32(exported_tiny, tmp_path):
    fp32 = OnnxEncoder(exported_tiny, FP32_FILE)
    target = quantize_int8_static(exported_tiny / FP32_FILE, tmp_path / "static.onnx", fp32, SENTENCES * 4)
    ops = set(ops_by_name(target).values())
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    static = OnnxEncoder(exported_tiny, str(target))
    a, b = static.encode(SENTENCES), fp32.encode(SENTENCES)
    cosine = (a * b).sum(1) / (((a * a).sum(1) * (b * b).sum(1)) ** 0.5)
    assert cosine.min() > 0.9


def test_per_row_int8_is_close_to_fp32_keeps_named_matmuls_and_ignores_batch_mates(exported_tiny, tmp_path):
    from embedlab.runtime.quantize import quantize_int8_per_row

    fp32 = exported_tiny / FP32_FILE
    names = weight_matmuls(fp32)
    target = quantize_int8_per_row(fp32, tmp_path / "row.onnx", keep_fp32=names[:1])
    ops = ops_by_name(target)
    assert ops[names[0]] == "MatMul" and all(name not in ops for name in names[1:])
    assert sum(op == "MatMulInteger" for op in ops.values()) == len(names) - 1
    reference = OnnxEncoder(exported_tiny, FP32_FILE).encode(SENTENCES)
    encoder = OnnxEncoder(exported_tiny, str(target))
    batched = encoder.encode(SENTENCES, 4)
    alone = np.stack([encoder.encode([s], 1)[0] for s in SENTENCES])
    np.testing.assert_allclose(alone, batched, atol=1e-6)  # no batch mate moves a vector
    cosine = (l2_normalise(batched) * l2_normalise(reference)).sum(axis=1)
    assert cosine.min() > 0.99
