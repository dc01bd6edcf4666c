"""Training runs on the tiny model: the run folder, resume, bf16, tracking, clear config errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from datasets import Dataset
from typer.testing import CliRunner

from embedlab.cli import app
from embedlab.config import RunConfig
from embedlab.data.sts import load_sts
from embedlab.errors import ConfigError
from embedlab.train import train

PAIRS = Dataset.from_dict(
    {"sentence1": ["a", "b", "c", "d"], "sentence2": ["e", "f", "g", "h"], "score": [0.0, 2.0, 4.0, 5.0]}
)


def tiny_config(tmp_path: Path, model_dir: Path, **changes) -> RunConfig:
    raw = {
        "name": "tiny",
        "model": str(model_dir),
        "output_dir": str(tmp_path / "runs"),
        "train": {"task": "stsb", "split": "train", "max_pairs": 64},
        "dev": {"task": "stsb", "split": "dev", "max_pairs": 64},
        "training": {"epochs": 2, "batch_size": 16, "learning_rate": 1e-3, "logging_steps": 1},
        "eval": {"tasks": ["stsb"], "before": True},
    }
    raw.update(changes)
    return RunConfig.model_validate(raw)


def test_tiny_run_writes_a_complete_run_folder(tmp_path, tiny_model_dir):
    import numpy as np
    from sentence_transformers import SentenceTransformer

    config = tiny_config(tmp_path, tiny_model_dir)
    result = train(config)
    run = config.run_dir
    assert {p.name for p in run.iterdir()} >= {
        "config.yaml",
        "model",
        "checkpoints",
        "metrics.jsonl",
        "results.json",
        "report.md",
    }
    assert result.global_step == 8  # 64 pairs / 16 per batch × 2 epochs

    results = json.loads((run / "results.json").read_text())
    assert results["after"][0]["task"] == "stsb" and results["after"][0]["n"] == len(load_sts("stsb", "test"))
    assert results["before"][0]["value"] != results["after"][0]["value"]  # training changed the model
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert sum("eval_dev_spearman_cosine" in entry for entry in logged) == 2  # one dev evaluation per epoch
    assert any("loss" in entry for entry in logged)

    reloaded = SentenceTransformer(str(run / "model"), device="cpu")
    original = SentenceTransformer(str(tiny_model_dir), device="cpu")
    sentence = ["a man plays guitar"]
    assert not np.allclose(reloaded.encode(sentence), original.encode(sentence))
    card = (run / "model" / "README.md").read_text()
    assert f"| STS-B test | {len(load_sts('stsb', 'test')):,} |" in card and "learning_rate: 0.001" in card
    assert not any(p.name.startswith(".model") for p in run.iterdir())


def test_existing_run_needs_resume_or_overwrite(tmp_path, tiny_model_dir):
    quick = {"max_steps": 2, "batch_size": 16}
    config = tiny_config(
        tmp_path, tiny_model_dir, dev=None, training=quick, eval={"tasks": [], "before": False}
    )
    train(config)
    with pytest.raises(ConfigError, match="already exists; pass --resume"):
        train(config)
    changed = tiny_config(
        tmp_path, tiny_model_dir, seed=7, dev=None, training=quick, eval={"tasks": [], "before": False}
    )
    with pytest.raises(ConfigError, match=r"differs .* in seed"):
        train(changed, resume=True)


def test_a_run_stopped_before_its_first_checkpoint_starts_again(tmp_path, tiny_model_dir):
    from embedlab.train.run_folder import prepare_run_dir

    config = tiny_config(tmp_path, tiny_model_dir, eval={"tasks": [], "before": False})
    prepare_run_dir(config, resume=False, overwrite=False)  # the run folder as a killed run leaves it
    with pytest.raises(ConfigError, match="no complete checkpoint"):
        train(config, resume=True)
    assert train(config).global_step == 8  # nothing to lose: a plain rerun starts it again


def test_a_bad_eval_task_fails_before_the_run_folder_is_made(tmp_path, tiny_model_dir):
    config = tiny_config(tmp_path, tiny_model_dir, eval={"tasks": ["stsb", "nosuchtask"]})
    with pytest.raises(Exception, match="nosuchtask"):
        train(config)
    assert not config.run_dir.exists()


def test_resume_continues_the_log_and_the_clock(tmp_path, tiny_model_dir):
    import shutil

    training = {"max_steps": 6, "batch_size": 16, "eval_steps": 2, "logging_steps": 1, "save_total_limit": 5}
    config = tiny_config(
        tmp_path, tiny_model_dir, dev=None, training=training, eval={"tasks": [], "before": False}
    )
    train(config)
    checkpoints = config.run_dir / "checkpoints"
    spent = json.loads((checkpoints / "checkpoint-4" / "embedlab_time.json").read_text())["train_seconds"]
    shutil.rmtree(checkpoints / "checkpoint-6")  # as if killed after step 5
    saved = config.run_dir / "config.yaml"
    older = yaml.safe_load(saved.read_text())
    del older["loss"]["mask_same_label"]  # as saved before the option existed: it resumes at the default
    saved.write_text(yaml.safe_dump(older))
    lines = []
    result = train(config, resume=True, log=lines.append)
    assert lines == ["resuming from checkpoint-4"] and result.global_step == 6
    logged = [json.loads(line) for line in (config.run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [entry["step"] for entry in logged if "loss" in entry]
    assert steps == [1, 2, 3, 4, 5, 6]  # steps 5 and 6, logged before the kill, are not there twice
    assert result.train_seconds > spent > 0  # the time before the resume counts too


def test_cli_train_bad_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: m\ntrain: {task: stsb}\ntraining: {epochs: -1}\n")
    result = CliRunner().invoke(app, ["train", str(bad)])
    assert result.exit_code == 2
    assert "training.epochs" in result.stderr and "Traceback" not in result.stderr


def test_bf16_training_runs_on_a_cpu_only_machine(tmp_path, tiny_model_dir, monkeypatch):
    """`--bf16` on a machine without a GPU: transformers refuses bf16 unless told it is on the CPU."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    config = tiny_config(
        tmp_path,
        tiny_model_dir,
        dev=None,
        training={"max_steps": 2, "batch_size": 16, "bf16": True},
        eval={"tasks": [], "before": False},
    )
    result = train(config)
    assert result.bf16 and result.global_step == 2
    assert json.loads((config.run_dir / "results.json").read_text())["bf16"] is True


def test_tensorboard_tracking_writes_event_files_inside_the_run(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    training = {"max_steps": 3, "batch_size": 16, "logging_steps": 1, "report_to": ["tensorboard"]}
    config = tiny_config(
        tmp_path, tiny_model_dir, dev=None, training=training, eval={"tasks": [], "before": False}
    )
    train(config)
    events = list((config.run_dir / "tracking" / "tensorboard").rglob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    assert "TENSORBOARD_LOGGING_DIR" not in __import__("os").environ  # set for the run only


def test_a_diverged_run_stops_in_one_line_and_saves_no_model(tmp_path, tiny_model_dir):
    config = tiny_config(
        tmp_path,
        tiny_model_dir,
        training={"epochs": 2, "batch_size": 16, "learning_rate": 1e4, "logging_steps": 1},
        eval={"tasks": ["stsb"], "before": False},
    )
    path = tmp_path / "diverge.yaml"
    path.write_text(config.to_yaml())
    result = CliRunner().invoke(app, ["train", str(path)])
    assert result.exit_code == 2 and "diverged" in result.stderr, result.output
    lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and "learning_rate" in lines[0] and "Traceback" not in result.output
    assert not (config.run_dir / "model").exists() and not (config.run_dir / "results.json").exists()


def test_non_finite_logs_and_figures_stop_the_run(tmp_path):
    import math
    from types import SimpleNamespace

    from embedlab.errors import TrainingError
    from embedlab.train.run_folder import MetricsLog

    callback = MetricsLog(tmp_path / "metrics.jsonl")
    state = SimpleNamespace(global_step=3, epoch=1.0, is_world_process_zero=True)
    args = SimpleNamespace(learning_rate=1e4)
    callback.on_log(args, state, None, logs={"loss": 0.5, "learning_rate": 1e4})  # finite: logged
    for logs in ({"loss": math.nan}, {"grad_norm": math.inf}, {"eval_dev_spearman_cosine": math.nan}):
        with pytest.raises(TrainingError, match="diverged at step 3"):
            callback.on_log(args, state, None, logs=logs)
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 4  # the bad entries are kept, to see
