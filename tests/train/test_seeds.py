"""Seed sweeps: mean ± spread over seeds, finished seeds kept, a soup of the seeds, clear refusals."""

from __future__ import annotations

import json
import statistics
import sys

import pytest
import torch
from sentence_transformers import SentenceTransformer

from embedlab.errors import ConfigError
from embedlab.evaluate.records import lookup
from embedlab.evaluate.sts import SPEARMAN
from embedlab.train.run_folder import finished_run
from embedlab.train.seeds import check_seeds, train_seeds
from tests.train.test_trainer import tiny_config


def test_seeds_report_mean_and_spread_and_soup_their_weights(tmp_path, tiny_model_dir):
    config = tiny_config(
        tmp_path,
        tiny_model_dir,
        dev={"task": "stsb", "split": "dev", "max_pairs": 32},
        training={"max_steps": 2, "batch_size": 16, "learning_rate": 1e-3},
        eval={"tasks": ["stsb"], "before": False},
    )
    result = train_seeds(config, 2, soup="uniform")
    assert [run.run_dir.name for run in result.runs] == ["tiny-seed42", "tiny-seed43"]
    stsb, dev = result.summary
    values = [lookup(run.after, "stsb", SPEARMAN, "test") for run in result.runs]
    assert stsb["task"] == "stsb" and stsb["values"] == [round(v, 2) for v in values]
    assert stsb["mean"] == pytest.approx(sum(values) / 2, abs=0.01)
    assert stsb["std"] == pytest.approx(statistics.stdev(values), abs=0.01)
    assert dev["task"] == "best dev" and dev["n"] == 2 and dev["std"] > 0  # the seeds trained differently
    summary = json.loads((result.out / "summary.json").read_text())
    assert summary["seeds"] == ["tiny-seed42", "tiny-seed43"] and len(summary["soup"]["members"]) == 2
    assert "mean ± sd of 2 seeds" in (result.out / "report.md").read_text()

    soup = SentenceTransformer(str(result.soup_dir), device="cpu")
    a, b = (SentenceTransformer(str(run.model_dir), device="cpu").state_dict() for run in result.runs)
    key = "0.model.encoder.layer.0.attention.self.query.weight"
    torch.testing.assert_close(soup.state_dict()[key], (a[key] + b[key]) / 2, rtol=0, atol=1e-6)
    assert "uniform: the mean of the weights of 2 of 2 seeds" in (result.soup_dir / "README.md").read_text()

    lines = []
    again = train_seeds(config, 2, log=lines.append)  # finished seeds are kept, not trained again
    assert lines == [f"seed {s}: finished before, kept ({tmp_path}/runs/tiny-seed{s})" for s in (42, 43)]
    assert again.summary[0]["values"] == stsb["values"]

    # a run saved before a setting existed (here training.batches, at its default) still counts as finished
    saved = tmp_path / "runs" / "tiny-seed42" / "results.json"
    results = json.loads(saved.read_text())
    del results["config"]["training"]["batches"]
    saved.write_text(json.dumps(results))
    lines = []
    train_seeds(config, 2, log=lines.append)
    assert lines[0] == f"seed 42: finished before, kept ({tmp_path}/runs/tiny-seed42)"
    results["config"]["training"]["learning_rate"] = 0.5  # another config: trained again
    saved.write_text(json.dumps(results))
    assert finished_run(config.model_copy(update={"name": "tiny-seed42"})) is None


def test_seeds_measure_their_shared_starting_model_once(tmp_path, tiny_model_dir, monkeypatch):
    import embedlab.train.run_folder as run_folder

    calls = []
    evaluate = run_folder.evaluate_model

    def counted(*args, **kwargs):
        if sys._getframe(1).f_code.co_name == "evaluate_before":  # the after figures are scored per seed
            calls.append(args)
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(run_folder, "evaluate_model", counted)
    config = tiny_config(
        tmp_path, tiny_model_dir, training={"max_steps": 1}, eval={"tasks": ["stsb"], "before": True}
    )
    first, second = train_seeds(config, 2).runs
    assert len(calls) == 1  # the before figures of seed 42, reused for seed 43
    assert first.before and second.before == first.before
    saved = [json.loads((run.run_dir / "before.json").read_text()) for run in (first, second)]
    assert saved[0] == saved[1]


def test_incompatible_seed_options_are_config_errors(tmp_path, tiny_model_dir):
    config = tiny_config(tmp_path, tiny_model_dir)
    with pytest.raises(ConfigError, match="seeds=1: give 2 or more"):
        check_seeds(config, 1, None)
    with pytest.raises(ConfigError, match="soup=best: choose uniform or greedy"):
        check_seeds(config, 2, "best")
    with pytest.raises(ConfigError, match="soup=greedy chooses its members on dev"):
        check_seeds(tiny_config(tmp_path, tiny_model_dir, dev=None), 2, "greedy")
    from typer.testing import CliRunner

    from embedlab.cli import app

    result = CliRunner().invoke(app, ["train", "configs/nli-stsb-minilm.yaml", "--seeds", "1"])
    assert result.exit_code == 2 and "--seeds 1: give 2 or more" in result.stderr
    result = CliRunner().invoke(app, ["train", "configs/stsb-minilm.yaml", "--soup", "greedy"])
    assert result.exit_code == 2 and "give --seeds N too" in result.stderr
