"""`--device cuda` gives the CPU's vectors within tolerance — on eval, index build, serve and dedup. Marked
`gpu`: skipped where there is no CUDA device (every CI machine); run by benchmarks/device_check.sh in a
session lent a GPU. fp32 on the GPU must match the CPU to 1e-4 in cosine; `auto` (bf16 on an H200) to 1e-2.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

TEXTS = [
    "a man plays a guitar on the street",
    "a man is playing the guitar",
    "the stock market fell sharply today",
    "stock market fell today",
    "a dog runs in the park with a ball",
    "a cat sits on the mat",
] * 4
TOLERANCE = {"fp32": 1e-4, "auto": 1e-2}


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


@pytest.mark.parametrize("dtype", ["fp32", "auto"])
def test_eval_on_cuda_gives_the_cpus_figures(tiny_model_dir, dtype, monkeypatch):
    from embedlab.evaluate.sts import evaluate_sts
    from embedlab.models.registry import load_model

    monkeypatch.setenv("EMBEDLAB_DTYPE", dtype)
    cpu = evaluate_sts(load_model(str(tiny_model_dir), device="cpu"), "stsb", show_progress=False)
    gpu = evaluate_sts(load_model(str(tiny_model_dir), device="cuda"), "stsb", show_progress=False)
    assert abs(cpu[0].value - gpu[0].value) < (0.05 if dtype == "fp32" else 0.5)


@pytest.mark.parametrize("dtype", ["fp32", "auto"])
def test_index_build_on_cuda_holds_the_cpus_vectors(tiny_model_dir, tmp_path, dtype):
    from embedlab.index import DocumentIndex, build_index

    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS)))
    built = {}
    for device in ("cpu", "cuda"):
        import os

        os.environ["EMBEDLAB_DEVICE"], os.environ["EMBEDLAB_DTYPE"] = device, dtype
        try:
            build_index(str(tiny_model_dir), docs, tmp_path / device, show_progress=False)
        finally:
            del os.environ["EMBEDLAB_DEVICE"], os.environ["EMBEDLAB_DTYPE"]
        index = DocumentIndex.load(tmp_path / device)
        built[device] = index.vectors_of(list(range(len(TEXTS))))
    assert cosines(built["cpu"], built["cuda"]).min() > 1 - TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", ["fp32", "auto"])
def test_the_service_on_cuda_answers_the_cpus_vectors(tiny_model_dir, dtype):
    from fastapi.testclient import TestClient

    from embedlab.serve import ServeSettings, create_app

    vectors = {}
    for device in ("cpu", "cuda"):
        settings = ServeSettings(model=str(tiny_model_dir), device=device, dtype=dtype)
        with TestClient(create_app(settings)) as client:
            reply = client.post("/v1/embeddings", json={"input": TEXTS})
            assert reply.status_code == 200, reply.text
            vectors[device] = np.array([row["embedding"] for row in reply.json()["data"]])
    assert cosines(vectors["cpu"], vectors["cuda"]).min() > 1 - TOLERANCE[dtype]


def test_dedup_on_cuda_keeps_what_the_cpu_keeps(tiny_model_dir):
    from embedlab.apps.dedup import deduplicate
    from embedlab.runtime.encoder import load_encoder

    kept = {}
    for device in ("cpu", "cuda"):
        encoder = load_encoder(str(tiny_model_dir), device=device, dtype="fp32")
        kept[device] = deduplicate(TEXTS, encoder, threshold=0.95, show_progress=False).kept
    assert kept["cpu"] == kept["cuda"]
