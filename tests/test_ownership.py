"""Every command that writes, against the four ways a user's data was lost before: a folder of the user's,
the input's own folder, the input file itself, and an earlier result replaced with --force (only that).

One table drives the commands; each case checks the exit status, the one-line reason and that nothing of
the user's changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embedlab.cli import app

TEXTS = [
    ("a man plays a guitar on the street", "music"),
    ("a woman plays the piano", "music"),
    ("a girl sings and plays the flute", "music"),
    ("a man plays guitar", "music"),
    ("the stock market fell sharply today", "news"),
    ("the market fell today", "news"),
    ("people are reading the news today", "news"),
    ("two men are fighting in the street", "news"),
    ("a dog runs in the park", "animals"),
    ("a cat sits on the mat", "animals"),
    ("a dog is running with a ball", "animals"),
    ("a horse is eating food", "animals"),
]


def invoke(*args) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def project(tmp_path) -> Path:
    """A user's project folder: the corpus and a file of theirs beside it."""
    folder = tmp_path / "proj"
    folder.mkdir()
    rows = [{"id": f"d{i}", "text": t, "label": label} for i, (t, label) in enumerate(TEXTS)]
    (folder / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "notes.txt").write_text("mine")
    return folder


def commands(model: Path, docs: Path, out: Path) -> dict[str, list]:
    """Each writing command, run on `docs` into the folder `out`, quickly."""
    return {
        "dedup": ["dedup", docs, "-m", model, "--out", out],
        "cluster": ["cluster", docs, "-m", model, "--clusters", "2", "--out", out],
        "match": ["match", docs, docs, "-m", model, "--out", out],
        "classify train": ["classify", "train", docs, "--label-field", "label", "-m", model, "--out", out],
        "index build": ["index", "build", model, docs, "--out", out],
        "tokenizer train": ["tokenizer", "train", docs, "--field", "text", "--vocab-size", "300",
                            "--out", out],
        "bench speed": ["bench", "speed", model, "--backends", "torch", "--sentences", "8", "--repeats", "1",
                        "--out", out],
        "soup": ["soup", model, model.parent / "copy", "--how", "uniform", "--tasks", "stsb", "--out", out],
        "embed": ["embed", docs, "--model", model, "--out", out],
    }  # fmt: skip


@pytest.fixture
def model(tiny_model_dir, tmp_path) -> Path:
    """The tiny model and a copy of it beside it (a soup needs two)."""
    import shutil

    folder = tmp_path / "models" / "tiny"
    shutil.copytree(tiny_model_dir, folder)
    shutil.copytree(tiny_model_dir, folder.parent / "copy")
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


NAMES = list(commands(Path("m"), Path("d"), Path("o")))


@pytest.mark.parametrize("name", NAMES)
def test_a_users_folder_the_inputs_folder_and_the_input_file_are_refused(name, model, project, tmp_path):
    docs = project / "docs.jsonl"
    users = tmp_path / "users"
    users.mkdir()
    (users / "report.md").write_text("my report")  # looks like a result, embedlab did not write it
    before = {folder: snapshot(folder) for folder in (project, users, model.parent)}
    for out, reason in (
        (users, "embedlab did not write"),
        (project, "contains the input"),
        (docs, "one of this command's inputs"),
    ):
        if name in ("bench speed", "soup") and out != users:
            out, reason = model, "one of this command's inputs"  # their inputs are models
        result = invoke(*commands(model, docs, out)[name], *([] if name == "embed" else ["--force"]))
        assert result.exit_code == 2, (name, out, result.output)
        assert reason in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert {folder: snapshot(folder) for folder in (project, users, model.parent)} == before


@pytest.mark.parametrize("name", [n for n in NAMES if n != "embed"])  # embed continues with --resume instead
def test_an_earlier_result_is_replaced_with_force_only(name, model, project, tmp_path):
    out = tmp_path / "out"
    args = commands(model, project / "docs.jsonl", out)[name]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    again = invoke(*args)
    assert again.exit_code == 2 and "--force" in again.stderr, again.output
    forced = invoke(*args, "--force")
    assert forced.exit_code == 0, forced.output
    (out / "mine.txt").write_text("mine")  # now the folder holds something of the user's
    mixed = invoke(*args, "--force")
    assert mixed.exit_code == 2 and "embedlab did not write" in mixed.stderr
    assert (out / "mine.txt").read_text() == "mine"


def test_file_outputs_never_replace_without_force_nor_an_input(model, project, tmp_path):
    docs, notes = project / "docs.jsonl", project / "notes.txt"
    clf = tmp_path / "clf"
    trained = invoke("classify", "train", docs, "--label-field", "label", "-m", model, "--out", clf)
    assert trained.exit_code == 0, trained.output
    for args in (
        ["classify", "predict", clf, docs, "--out", docs, "--force"],
        ["classify", "predict", clf, docs, "--out", notes],
        ["eval", model, "--tasks", "stsb", "--out", notes],
        ["eval", model, "--tasks", "stsb", "--out", model, "--force"],
    ):
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert len(result.stderr.strip().splitlines()) == 1
    assert notes.read_text() == "mine" and len(docs.read_text().splitlines()) == len(TEXTS)
    mine = project / "predictions"  # a folder of the user's, already holding a predictions file
    mine.mkdir()
    (mine / "predictions.jsonl").write_text("mine")
    refused = invoke("classify", "predict", clf, docs, "--out", mine)
    assert refused.exit_code == 2 and (mine / "predictions.jsonl").read_text() == "mine"
    predicted = invoke("classify", "predict", clf, docs, "--out", mine, "--force")
    assert predicted.exit_code == 0 and len((mine / "predictions.jsonl").read_text().splitlines()) == len(
        TEXTS
    )


def test_train_overwrites_only_its_own_run(tiny_model_dir, tmp_path):
    runs = tmp_path / "runs"
    (runs / "mine" / "model").mkdir(parents=True)  # the shape of a run, made by the user
    (runs / "mine" / "model" / "weights.bin").write_bytes(b"precious")
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: mine\n"
        f"model: {tiny_model_dir}\n"
        f"output_dir: {runs}\n"
        "train: {task: stsb, split: train, max_pairs: 16}\n"
        "dev: null\n"
        "training: {epochs: 1, batch_size: 8}\n"
        "eval: {tasks: [], before: false}\n"
    )
    for extra in ([], ["--overwrite"], ["--resume"]):
        result = invoke("train", config, *extra)
        assert result.exit_code == 2 and "mine" in result.stderr, (extra, result.output)
    assert (runs / "mine" / "model" / "weights.bin").read_bytes() == b"precious"
    assert invoke("train", config, "--set", "name=ours").exit_code == 0
    assert invoke("train", config, "--set", "name=ours", "--overwrite").exit_code == 0
    inside = invoke("train", config, "--set", "name=ours", "--set", f"model={runs / 'ours' / 'model'}",
                    "--overwrite")  # fmt: skip
    assert inside.exit_code == 2 and "contains the input" in inside.stderr
    assert (runs / "ours" / "model" / "modules.json").is_file()


def test_export_never_replaces_an_onnx_folder_it_did_not_write(model):
    (model / "onnx").mkdir()
    (model / "onnx" / "model.onnx").write_bytes(b"the user's own export")
    result = invoke("export", "onnx", model, "--force")
    assert result.exit_code == 2 and "embedlab did not write" in result.stderr
    assert (model / "onnx" / "model.onnx").read_bytes() == b"the user's own export"


def test_embedlabs_own_results_folder_takes_eval_and_speed_reports_again(model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    speed = ["bench", "speed", model, "--backends", "torch", "--sentences", "8", "--repeats", "1"]
    assert invoke(*speed).exit_code == 0 and (tmp_path / "results" / "speed" / "speed.md").is_file()
    for _ in range(2):  # the default records file of a model is replaced in embedlab's results folder
        result = invoke("eval", model, "--tasks", "stsb")
        assert result.exit_code == 0, result.output
    assert (tmp_path / "results" / "models_tiny.json").is_file()  # named by its path from here
    assert invoke(*speed, "--force").exit_code == 0
    (tmp_path / "results" / "mine.txt").write_text("mine")  # now the folder is the user's as well
    refused = invoke("eval", model, "--tasks", "stsb")
    assert refused.exit_code == 2 and "embedlab did not write" in refused.stderr
