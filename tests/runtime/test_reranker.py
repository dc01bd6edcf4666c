"""A reranker exported to ONNX scores pairs as its CrossEncoder does: fp32 equal, int8 close, the same
truncation of long pairs, and an export older than the weights refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from embedlab.errors import ModelError
from embedlab.models.cross_encoder import load_cross_encoder, score_pairs
from embedlab.runtime.export import INT8_FILE, export_onnx
from embedlab.runtime.reranker import OnnxReranker, load_reranker

PAIRS = [
    ("the cat sat", "a cat sat on the mat"),
    ("graph colouring", "the four colour theorem on planar graphs"),
    ("stock prices", "a dog runs in the park"),
    # longer than the tiny reranker's 24 tokens together: both sides are cut, longest first
    ("a rather long question about the cat and the dog and the mat", " ".join(["the dog runs"] * 20)),
]


@pytest.fixture(scope="module")
def exported(tiny_reranker_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reranker-onnx") / "model"
    shutil.copytree(tiny_reranker_dir, folder)
    written = export_onnx(folder, int8=True)
    assert [p.name for p in written] == ["model.onnx", Path(INT8_FILE).name]
    return folder


def test_onnx_reranker_scores_equal_the_cross_encoders(exported: Path) -> None:
    reference = score_pairs(PAIRS, load_cross_encoder(exported, device="cpu"))
    fp32 = load_reranker(exported, "onnx").predict(PAIRS)
    int8 = load_reranker(exported, "onnx-int8").predict(PAIRS, batch_size=2)
    np.testing.assert_allclose(fp32, reference, atol=1e-4)
    assert np.abs(int8 - reference).max() < 0.05
    assert ((int8 > 0) & (int8 < 1)).all()  # the folder's sigmoid applied, as CrossEncoder does


def test_pair_token_counts_are_before_the_cut(exported: Path) -> None:
    reranker = OnnxReranker(exported)
    counts = reranker.token_counts(PAIRS)
    assert counts[-1] > reranker.max_length >= counts[0]


def test_export_older_than_the_weights_is_refused(exported: Path, tmp_path: Path) -> None:
    stale = tmp_path / "model"
    shutil.copytree(exported, stale)
    model = load_cross_encoder(stale, device="cpu")
    import torch

    with torch.no_grad():
        next(model.model.parameters()).add_(0.1)
    model.save(str(stale))
    with pytest.raises(ModelError, match="exported from other weights"):
        load_reranker(stale, "onnx-int8")


def test_an_embedding_model_or_unknown_backend_is_one_line(tiny_model_dir: Path, exported: Path) -> None:
    with pytest.raises(ModelError, match="is an embedding model"):
        load_reranker(tiny_model_dir, "onnx")
    with pytest.raises(ModelError, match="backend='bf16' for a reranker"):
        load_reranker(exported, "bf16")
