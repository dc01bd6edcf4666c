"""Run configs: typed defaults and overrides, unknown keys and bad values named, shipped configs valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from embedlab.config import load_config
from embedlab.errors import ConfigError

MINIMAL = "name: demo\nmodel: all-MiniLM-L6-v2\ntrain: {task: stsb, split: train}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def test_defaults_and_overrides_are_typed(tmp_path):
    config = load_config(
        write(tmp_path, MINIMAL),
        ["training.learning_rate=3e-5", "training.epochs=2", "eval.tasks=[stsb, sickr]", "loss.name=angle"],
    )
    assert config.training.learning_rate == 3e-5
    assert config.training.epochs == 2.0
    assert config.eval.tasks == ["stsb", "sickr"]
    assert config.loss.name == "angle"
    assert config.dev is not None and config.dev.task == "stsb" and config.dev.split == "dev"
    assert config.run_dir == Path("runs/demo")


def test_unknown_key_and_bad_type_are_named(tmp_path):
    text = MINIMAL + "training: {lerning_rate: 1e-5, batch_size: many}\n"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert "training.lerning_rate: unknown key" in message
    assert "training.batch_size" in message and "'many'" in message


def test_bad_loss_name_and_matryoshka_dims(tmp_path):
    with pytest.raises(ConfigError, match=r"loss\.name"):
        load_config(write(tmp_path, MINIMAL), ["loss.name=triplet-ish"])
    with pytest.raises(ConfigError, match="descending"):
        load_config(write(tmp_path, MINIMAL), ["loss.matryoshka_dims=[64, 128]"])


def test_data_source_needs_exactly_one_of_task_or_path(tmp_path):
    with pytest.raises(ConfigError, match="exactly one of 'task'"):
        load_config(write(tmp_path, MINIMAL), ["train.path=pairs.csv"])


def test_yaml_syntax_error_gives_the_line(tmp_path):
    with pytest.raises(ConfigError, match="line 2 not valid YAML"):
        load_config(write(tmp_path, "name: x\nmodel: y: z\n"))


def test_bad_override_syntax(tmp_path):
    with pytest.raises(ConfigError, match="key=value"):
        load_config(write(tmp_path, MINIMAL), ["training.epochs"])


def test_shipped_configs_validate():
    from embedlab.apps.arxiv.config import load_pipeline_config

    paths = sorted(Path(__file__).parents[1].joinpath("configs").glob("**/*.yaml"))  # experiments/ too
    pipelines = [p for p in paths if p.name.startswith("arxiv-")]
    assert len(pipelines) > 8 and len(paths) > len(pipelines)
    for path in paths:
        config = load_pipeline_config(path) if path in pipelines else load_config(path)
        assert config.name == path.stem
