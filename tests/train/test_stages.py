"""Staged runs (NLI, then STS-B): each stage a run folder started from the one before; finished ones kept."""

from __future__ import annotations

import json

import pytest
from sentence_transformers import SentenceTransformer

from embedlab.config import RunConfig, load_config
from embedlab.train import train
from embedlab.train.seeds import train_seeds
from embedlab.train.stages import stage_configs


@pytest.mark.parametrize("name", ["nli-stsb-minilm", "nli-stsb-mpnet"])
def test_the_two_stage_configs_validate_and_chain_their_stages(name):
    config = load_config(f"configs/{name}.yaml")
    nli, stsb = stage_configs(config)
    assert nli.train.hard_negatives and nli.loss.name == "mnrl" and stsb.loss.name == "cosent"
    assert stsb.model == str(config.run_dir / "nli" / "model") and nli.model == config.model
    assert nli.eval.tasks == [] and stsb.eval.tasks == config.eval.tasks  # the suite after the last stage


def test_a_two_stage_config_runs_for_a_few_steps_and_keeps_finished_stages(tmp_path, tiny_model_dir):
    raw = load_config("configs/nli-stsb-minilm.yaml").model_dump(mode="json")
    raw.update(
        model=str(tiny_model_dir),
        output_dir=str(tmp_path / "runs"),
        eval={"tasks": ["stsb"], "before": False},
    )
    raw["dev"]["max_pairs"] = 32
    raw["stages"][0]["train"]["nli"] = ["snli:dev", "mnli:train-sample"]  # the synthetic folder's files
    for stage in raw["stages"]:
        stage["training"].update(max_steps=2, batch_size=8)
    config = RunConfig.model_validate(raw)
    result = train(config)
    run = tmp_path / "runs" / "nli-stsb-minilm"
    assert result.model_dir == run / "stsb" / "model" and result.global_step == 2
    assert SentenceTransformer(str(result.model_dir), device="cpu").encode(["a dog"]).shape == (1, 32)
    nli_config = json.loads((run / "nli" / "results.json").read_text())["config"]
    assert nli_config["train"]["hard_negatives"] and nli_config["model"] == str(tiny_model_dir)
    stsb_results = json.loads((run / "stsb" / "results.json").read_text())
    assert stsb_results["config"]["model"] == str(run / "nli" / "model") and stsb_results["after"]
    assert [s["stage"] for s in json.loads((run / "stages.json").read_text())] == ["nli", "stsb"]

    lines = []
    train(config, log=lines.append)
    assert lines == [f"stage {s}: finished before, kept ({run / s})" for s in ("nli", "stsb")]
    # asked again with --bf16: precision is not the recipe, the finished stages are still kept
    lines = []
    train(with_run_bf16(config), log=lines.append)
    assert lines == [f"stage {s}: finished before, kept ({run / s})" for s in ("nli", "stsb")]

    # seeds of a staged run vary its last stage only: NLI is kept, the plain STS-B stage is seed 42
    lines = []
    seeds = train_seeds(config, 2, soup="uniform", log=lines.append)
    assert lines[:3] == [
        f"stage nli: finished before, kept ({run / 'nli'})",
        f"seed 42: finished before, kept ({run / 'stsb'})",
        f"seed 43: training {run / 'stsb-seed43'}",
    ]
    assert [r.run_dir for r in seeds.runs] == [run / "stsb", run / "stsb-seed43"]
    seed43 = json.loads((run / "stsb-seed43" / "results.json").read_text())["config"]
    assert seed43["seed"] == 43 and seed43["model"] == str(run / "nli" / "model")
    assert seeds.out == run / "stsb-seeds" and (run / "stsb-seeds" / "soup" / "model" / "README.md").is_file()


def with_run_bf16(config: RunConfig) -> RunConfig:
    """What `embedlab train CONFIG --bf16` makes of a config: the run's training.bf16 forced on."""
    return config.model_copy(update={"training": config.training.model_copy(update={"bf16": True})})


def test_bf16_of_the_run_reaches_every_stage_left_at_auto():
    config = load_config("configs/nli-stsb-mpnet.yaml", ["training.bf16=true"])  # what --bf16 sets
    assert [stage.training.bf16 for stage in stage_configs(config)] == [True, True]
    assert [stage.training.bf16 for stage in stage_configs(load_config("configs/nli-stsb-mpnet.yaml"))] == [
        "auto",
        "auto",
    ]
    raw = config.model_dump(mode="json")
    raw["stages"][0]["training"]["bf16"] = False  # a stage's own setting wins
    assert [stage.training.bf16 for stage in stage_configs(RunConfig.model_validate(raw))] == [False, True]


def test_a_staged_config_refuses_top_level_data():
    with pytest.raises(ValueError, match="no top-level train, distill, scratch or retrieval"):
        RunConfig.model_validate(
            {
                "name": "x",
                "model": "m",
                "train": {"task": "stsb", "split": "train"},
                "stages": [{"name": "a", "train": {"task": "stsb", "split": "train"}}],
            }
        )
    with pytest.raises(ValueError, match="stage a: NLI and unlabelled data train with loss mnrl"):
        RunConfig.model_validate(
            {"name": "x", "model": "m", "stages": [{"name": "a", "train": {"nli": ["snli:dev"]}}]}
        )
