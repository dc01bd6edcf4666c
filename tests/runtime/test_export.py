"""ONNX export: fp32 and int8 files where sentence-transformers looks, never overwritten silently."""

from __future__ import annotations

import pytest

from embedlab.errors import EmbedlabError
from embedlab.runtime.export import FP32_FILE, INT8_FILE, export_onnx

SENTENCES = [
    "a man plays guitar",
    "the sun is shining today",
    "a dog runs in the park",
    "two men are fighting",
]


def test_export_writes_fp32_and_int8_where_sentence_transformers_looks(exported_tiny):
    assert (exported_tiny / FP32_FILE).is_file() and (exported_tiny / INT8_FILE).is_file()
    hidden = [p.name for p in (exported_tiny / "onnx").iterdir() if p.name.startswith(".")]
    assert hidden == [".embedlab.json"]  # the ownership marker, no side files


def test_refuses_to_overwrite_without_force(exported_tiny):
    with pytest.raises(EmbedlabError, match="--force"):
        export_onnx(exported_tiny)
    export_onnx(exported_tiny, force=True)


def test_int8_export_can_keep_the_most_sensitive_matmuls_in_fp32(exported_tiny, tmp_path):
    import shutil

    import onnx

    from embedlab.runtime.quantize import weight_matmuls

    folder = tmp_path / "tiny"
    shutil.copytree(exported_tiny, folder)
    export_onnx(folder, int8=True, force=True, keep_fp32=2)
    ops = {node.name: node.op_type for node in onnx.load(str(folder / INT8_FILE)).graph.node}
    still_fp32 = [name for name in weight_matmuls(folder / FP32_FILE) if ops.get(name) == "MatMul"]
    assert len(still_fp32) == 2


def test_an_export_older_than_the_weights_is_refused_with_the_mending_command(exported_tiny, tmp_path):
    import shutil

    import torch
    from sentence_transformers import SentenceTransformer

    from embedlab.errors import ModelError
    from embedlab.runtime.encoder import load_encoder

    folder = tmp_path / "model"
    shutil.copytree(exported_tiny, folder)
    assert load_encoder(str(folder), "onnx-int8").dim == 32  # fresh: accepted
    model = SentenceTransformer(str(folder), device="cpu")
    with torch.no_grad():
        next(model.parameters()).add_(0.5)  # retrained in place: new weights, the old onnx/ beside them
    model.save(str(folder))
    for backend, flag in (("onnx", ""), ("onnx-int8", " --int8")):
        with pytest.raises(ModelError, match=f"other weights.*embedlab export onnx {folder}{flag} --force"):
            load_encoder(str(folder), backend)
    (folder / "onnx" / "export.json").unlink()
    with pytest.raises(ModelError, match="no export record"):
        load_encoder(str(folder), "onnx")
