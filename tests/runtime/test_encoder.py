"""The torch-free ONNX encoder: same vectors as torch, no torch imported."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

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


def test_onnx_encoder_imports_no_torch(exported_tiny):
    script = (
        "import sys; from embedlab.runtime.encoder import OnnxEncoder; "
        f"v = OnnxEncoder({str(exported_tiny)!r}).encode(['a man plays guitar']); "
        "assert v.shape == (1, 32); assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
