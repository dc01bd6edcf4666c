"""The pipelined encode path (runtime/gpu.py) on CPU: the same vectors as sentence-transformers, in order,
whatever the token budget; device and dtype choice; and the GPU device check script runs end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embedlab.errors import ModelError
from embedlab.runtime.gpu import PipelinedEncoder, resolve_device, resolve_dtype

SENTENCES = [
    "a man plays guitar",
    "the sun is shining today on the park and the water",
    "a dog",
    "two men are fighting in the street while a woman is reading a book",
] * 30


@pytest.mark.parametrize("budget", [16, 64, 100_000])
def test_same_vectors_as_sentence_transformers_in_input_order(tiny_model, budget):
    expected = tiny_model.encode(SENTENCES, convert_to_numpy=True)
    encoder = PipelinedEncoder(tiny_model, dtype="fp32", token_budget=budget, workers=2)
    got = encoder.encode(SENTENCES)
    cosine = (got * expected).sum(axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    assert got.shape == expected.shape and cosine.min() > 0.9999
    assert encoder.encode([]).shape == (0, encoder.dim)


def test_device_and_dtype_choice(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    with pytest.raises(ModelError, match="device=cuda: no CUDA device"):
        resolve_device("cuda")
    with pytest.raises(ModelError, match="choose auto, cpu, cuda or cuda:N"):
        resolve_device("gpu")
    assert resolve_dtype("auto", "cpu") == torch.float32 and resolve_dtype("fp16", "cuda") == torch.float16
    with pytest.raises(ModelError, match="dtype=fp8"):
        resolve_dtype("fp8", "cpu")


def test_the_one_call_device_check_runs_on_cpu(tiny_model_dir, tmp_path):
    """benchmarks/device_check.sh as a session lent a GPU runs it, at CPU sizes: each part writes its file."""
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("\n".join(SENTENCES * 4) + "\n")
    root = Path(__file__).parents[2]
    env = {
        **os.environ,
        "OUT": str(tmp_path / "out"),
        "PY": sys.executable,
        "SENTENCES": str(sentences),
        "TOKENIZER": str(tiny_model_dir),
        "LIMIT": "60",
        "ENCODE_ARGS": "--repeats 1 --workers 2 --runs MiniLM-L6:fp32",
        "TRAIN_ARGS": "--steps 2 --batch-size 4 --runs MiniLM-L6:fp32",
    }
    done = subprocess.run(
        ["bash", str(root / "benchmarks" / "device_check.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (row,) = json.loads((tmp_path / "out" / "encode.json").read_text())["rows"]
    assert row["model"] == "MiniLM-L6" and row["min_cosine_embedlab_vs_st_fp32"] > 0.9999
    (step,) = json.loads((tmp_path / "out" / "train_step.json").read_text())["rows"]
    assert step["steps_per_s"] > 0
    log = (tmp_path / "out" / "gpu_tests.log").read_text()
    assert (
        "skipped" in log and "failed" not in log
    )  # no CUDA here: the gpu-marked tests are collected, skipped


@pytest.mark.parametrize("command", [["eval", "MODEL"], ["dedup", "DOCS", "-m", "MODEL", "--dry-run"]])
def test_an_unavailable_device_is_one_line_before_any_work(command, tiny_model_dir, fixtures, monkeypatch):
    import torch
    from typer.testing import CliRunner

    from embedlab.cli import app

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("EMBEDLAB_DEVICE", raising=False)
    args = [
        str(tiny_model_dir) if a == "MODEL" else str(fixtures / "docs.jsonl") if a == "DOCS" else a
        for a in command
    ]
    result = CliRunner().invoke(app, [*args, "--device", "cuda:1"])
    assert result.exit_code == 2 and "--device cuda:1: no CUDA device" in result.stderr
    monkeypatch.delenv("EMBEDLAB_DEVICE", raising=False)
