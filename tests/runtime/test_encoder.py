"""The torch-free ONNX encoder: same vectors as torch, no torch imported."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from embedlab.runtime.batching import length_batches
from embedlab.runtime.encoder import OnnxEncoder, TorchEncoder

SENTENCES = [
    "a man plays guitar",
    "the sun is shining today",
    "a dog runs in the park",
    "two men are fighting",
]


def test_onnx_encoder_matches_torch_across_batch_shapes(exported_tiny):
    reference = TorchEncoder(exported_tiny).encode(SENTENCES)
    onnx = OnnxEncoder(exported_tiny)
    for batch_size in (1, 3, 32):  # dynamic batch and sequence axes, length-sorted batches
        assert np.allclose(onnx.encode(SENTENCES, batch_size=batch_size), reference, atol=1e-4)
    assert onnx.dim == 32 and onnx.max_seq_length == 64
    budgeted = OnnxEncoder(exported_tiny, token_budget=12)  # batches of 1–2 rows here
    vectors, counts = budgeted.encode_counted(SENTENCES, batch_size=32)
    assert np.allclose(vectors, reference, atol=1e-4)
    assert counts.tolist() == [len(e.ids) for e in onnx.tokenizer.encode_batch(SENTENCES)]


def test_batches_are_longest_first_and_keep_to_the_token_budget():
    counts = np.array([5, 300, 12, 40, 7, 7])
    assert [b.tolist() for b in length_batches(counts, 2, None)] == [[1, 3], [2, 4], [5, 0]]
    budgeted = length_batches(counts, 32, 100)
    assert [b.tolist() for b in budgeted] == [[1], [3, 2], [4, 5, 0]]  # 300 alone; then 2 × 40; 3 × 7
    assert all(len(b) * counts[b].max() <= 100 or len(b) == 1 for b in budgeted)
    assert sorted(np.concatenate(budgeted).tolist()) == list(range(len(counts)))


def test_onnx_encoder_imports_no_torch(exported_tiny):
    script = (
        "import sys; from embedlab.runtime.encoder import OnnxEncoder; "
        f"v = OnnxEncoder({str(exported_tiny)!r}).encode(['a man plays guitar']); "
        "assert v.shape == (1, 32); assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
