"""Training under torchrun: two CPU processes (gloo) with the tiny model, as `torchrun -m embedlab train`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.train.test_trainer import tiny_config

pytestmark = pytest.mark.slow


def torchrun(*args: str, cwd) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [*command, "-m", "embedlab", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_two_process_ddp_training_writes_one_run_and_resumes(tmp_path, tiny_model_dir):
    config = tiny_config(
        tmp_path,
        tiny_model_dir,
        name="ddp",
        dev={"task": "stsb", "split": "dev", "max_pairs": 32},
        training={"epochs": 2, "batch_size": 8, "learning_rate": 1e-3, "logging_steps": 1},
    )
    path = tmp_path / "ddp.yaml"
    path.write_text(config.to_yaml())

    done = torchrun("train", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "runs" / "ddp"
    assert done.stdout.count("run ddp:") == 1 and done.stdout.count("best dev Spearman") == 1  # one reporter
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith((".embedlab", "before"))) == [
        "checkpoints",
        "config.yaml",
        "metrics.jsonl",
        "model",
        "report.md",
        "results.json",
    ]
    results = json.loads((run / "results.json").read_text())
    assert results["global_step"] == 8  # 64 pairs / (8 per process × 2 processes) × 2 epochs; alone: 16
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in logged if "loss" in entry] == list(range(1, 9))  # once each
    assert sum("eval_dev_spearman_cosine" in entry for entry in logged) == 2

    from sentence_transformers import SentenceTransformer

    assert SentenceTransformer(str(run / "model"), device="cpu").encode(["a dog runs"]).shape == (1, 32)

    shutil.rmtree(run / "checkpoints" / "checkpoint-8")  # as if killed after the first epoch
    resumed = torchrun("train", str(path), "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("resuming from checkpoint-4") == 1
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in logged if "loss" in entry] == list(range(1, 9))
    assert json.loads((run / "results.json").read_text())["global_step"] == 8


def test_arxiv_pipeline_under_torchrun_prepares_once_and_trains_on_both(
    tmp_path, arxiv_corpus, tiny_model_dir
):
    from tests.apps.arxiv.test_pipeline import _pipeline_config

    config = _pipeline_config(arxiv_corpus, tiny_model_dir, tmp_path / "runs", training__max_steps=4)
    path = tmp_path / "pipeline.yaml"
    path.write_text(config.to_yaml())

    done = torchrun("pipeline", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    for stage in ("preprocess", "pairs", "train", "evaluate-finetuned"):
        assert done.stdout.count(f"{stage}: running") == 1, done.stdout  # one process reports
    run = tmp_path / "runs" / "tiny"
    stages = {p.stem: json.loads(p.read_text()) for p in (run / ".stages").glob("*.json")}
    assert len(stages) == 6 and all(state["finished"] for state in stages.values())
    assert json.loads((run / "train" / "results.json").read_text())["global_step"] == 4
    assert set(json.loads((run / "report.json").read_text())["results"]) == {"base", "finetuned", "tfidf"}
