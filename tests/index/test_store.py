"""The index never loses or mixes data: build over folders, concurrent writers, model identity, bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embedlab.cli import app
from embedlab.index.manifest import writer_lock
from embedlab.models.registry import resolve

runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def built(tiny_model_dir, fixtures, tmp_path) -> Path:
    out = tmp_path / "idx"
    result = cli("index", "build", tiny_model_dir, fixtures / "docs.jsonl", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_build_refuses_a_folder_that_is_not_an_index_and_deletes_nothing(tiny_model_dir, fixtures, tmp_path):
    project = tmp_path / "project"
    for name in ("venv", "vendor", "videos", "v1"):
        (project / name).mkdir(parents=True)
        (project / name / "keep.txt").write_text(name)
    result = cli("index", "build", tiny_model_dir, fixtures / "docs.jsonl", "--out", project, "--force")
    assert result.exit_code == 2 and "embedlab did not write" in result.stderr
    assert sorted(p.name for p in project.iterdir()) == ["v1", "vendor", "venv", "videos"]
    assert all((project / n / "keep.txt").read_text() == n for n in ("venv", "vendor", "videos", "v1"))


def test_rebuild_needs_force_and_only_removes_its_own_versions(tiny_model_dir, fixtures, built):
    again = cli("index", "build", tiny_model_dir, fixtures / "docs.jsonl", "--out", built)
    assert again.exit_code == 2 and "already holds an index" in again.stderr and "--force" in again.stderr
    (built / "v9-notes").mkdir()  # a user's file in the index folder makes it the user's: never rebuilt over
    (built / "v9-notes" / "keep.txt").write_text("mine")
    mixed = cli("index", "build", tiny_model_dir, fixtures / "docs.jsonl", "--out", built, "--force")
    assert mixed.exit_code == 2 and "embedlab did not write" in mixed.stderr
    assert (built / "v9-notes" / "keep.txt").read_text() == "mine"
    (built / "v9-notes" / "keep.txt").rename(built.parent / "keep.txt")
    (built / "v9-notes").rmdir()
    for _ in range(3):
        forced = cli("index", "build", tiny_model_dir, fixtures / "docs.jsonl", "--out", built, "--force")
        assert forced.exit_code == 0, forced.output
    versions = sorted(p.name for p in built.iterdir() if p.name.startswith("v") and p.name[1:].isdigit())
    assert versions == ["v3", "v4"]  # the live one and the one before; v1 and v2 were removed by name


def test_out_that_is_a_file_fails_before_encoding(tiny_model_dir, fixtures, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("precious")
    result = cli("index", "build", "no-such-model-folder/x/y", fixtures / "docs.jsonl", "--out", target)
    assert result.exit_code == 2 and "is a file" in result.stderr  # checked before the model is even loaded
    assert target.read_text() == "precious"


def add_process(model: Path, index: Path, docs: Path, timeout: float = 120) -> subprocess.Popen:
    code = "import sys; from embedlab.cli import app; sys.argv[0] = 'embedlab'; app()"
    command = [
        sys.executable,
        "-c",
        code,
        "index",
        "add",
        str(index),
        str(docs),
        "--lock-timeout",
        str(timeout),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_two_concurrent_adds_keep_both(tiny_model_dir, built, tmp_path):
    batches = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.jsonl"
        path.write_text(
            "".join(json.dumps({"id": f"{name}{i}", "text": f"a dog runs {i}"}) + "\n" for i in range(20))
        )
        batches.append(path)
    processes = [add_process(tiny_model_dir, built, path) for path in batches]
    outputs = [p.communicate(timeout=180) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    manifest = json.loads((built / "manifest.json").read_text())
    ids = {json.loads(line)["id"] for line in (built / manifest["data"] / "documents.jsonl").open()}
    assert manifest["count"] == 44 and {f"a{i}" for i in range(20)} | {f"b{i}" for i in range(20)} <= ids


def test_a_writer_waits_for_the_lock_then_fails_clearly(tiny_model_dir, built, tmp_path):
    more = tmp_path / "more.jsonl"
    more.write_text('{"id": "x1", "text": "a cat sits"}\n')
    with writer_lock(built):
        started = time.monotonic()
        result = add_process(tiny_model_dir, built, more, timeout=0.5)
        _out, err = result.communicate(timeout=120)
    assert result.returncode == 2 and "another process is writing this index" in err, err
    assert "Traceback" not in err and time.monotonic() - started < 60
    assert json.loads((built / "manifest.json").read_text())["count"] == 4


def test_vectors_of_another_model_are_refused(other_model_dir, built, tmp_path):
    more = tmp_path / "more.jsonl"
    more.write_text('{"id": "x1", "text": "a cat sits"}\n')
    added = cli("index", "add", built, more, "--model", other_model_dir)
    assert added.exit_code == 2 and "built with another model" in added.stderr
    searched = cli("index", "search", built, "a dog", "--model", other_model_dir)
    assert searched.exit_code == 2 and "built with another model" in searched.stderr
    assert json.loads((built / "manifest.json").read_text())["count"] == 4


def test_the_same_model_from_a_copy_or_a_relative_path_is_accepted(
    tiny_model_dir, built, tmp_path, monkeypatch
):
    import shutil

    copy = tmp_path / "copy-of-model"
    shutil.copytree(tiny_model_dir, copy)
    monkeypatch.chdir(tmp_path)
    found = cli("index", "search", built, "a man plays guitar", "--model", "copy-of-model", "-k", "1")
    assert found.exit_code == 0, found.output
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the manifest stores the resolved folder, not the text typed
    assert cli("index", "search", built, "a man plays guitar", "-k", "1").exit_code == 0


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ("[]", "must be a JSON object"),
        ('{"dim": 32}', "has no 'model'"),
        ('{"model": "m", "dim": "32", "kind": "flat", "count": 4, "data": "v1"}', "'dim' has the wrong type"),
        (
            '{"model": "m", "dim": 32, "kind": "flat", "count": 4, "data": "../etc"}',
            "must name a version folder",
        ),
        ("{not json", "unreadable manifest"),
    ],
)
def test_broken_manifests_are_one_line_errors(built, content, phrase, tmp_path):
    (built / "manifest.json").write_text(content)
    more = tmp_path / "more.jsonl"
    more.write_text('{"id": "x1", "text": "a cat sits"}\n')
    for result in (cli("index", "search", built, "a dog"), cli("index", "add", built, more)):
        assert result.exit_code == 2 and phrase in result.stderr, result.output
        assert "Traceback" not in result.output


@pytest.mark.parametrize("damage", ["missing", "truncated", "documents"])
def test_missing_or_truncated_data_files_are_one_line_errors(built, damage, tmp_path):
    data = built / json.loads((built / "manifest.json").read_text())["data"]
    if damage == "missing":
        (data / "index.faiss").unlink()
    elif damage == "truncated":
        raw = (data / "index.faiss").read_bytes()
        (data / "index.faiss").write_bytes(raw[: len(raw) // 2])
    else:
        (data / "documents.jsonl").write_text('{"id": "d1", "text": "a"}\n{broken\n')
    more = tmp_path / "more.jsonl"
    more.write_text('{"id": "x1", "text": "a cat sits"}\n')
    for result in (cli("index", "search", built, "a dog"), cli("index", "add", built, more)):
        assert result.exit_code == 2, result.output
        assert (
            "index.faiss" in result.stderr or "documents.jsonl" in result.stderr
        ) and "rebuild" in result.stderr


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["-k", "0"], "-k"),
        (["-k", "-5"], "-k"),
    ],
)
def test_search_options_out_of_range(built, args, phrase):
    result = cli("index", "search", built, "a dog", *args)
    assert result.exit_code == 2 and phrase in result.output


def test_empty_query_and_bad_target_recall(tiny_model_dir, fixtures, built, tmp_path):
    empty = cli("index", "search", built, "   ")
    assert empty.exit_code == 2 and "query is empty" in empty.stderr
    recall = cli(
        "index",
        "build",
        tiny_model_dir,
        fixtures / "docs.jsonl",
        "--out",
        tmp_path / "r",
        "--target-recall",
        "1.5",
    )
    assert recall.exit_code == 2 and "target-recall" in recall.output and not (tmp_path / "r").exists()


def test_an_unknown_model_name_fails_in_seconds_when_the_hub_is_unreachable(monkeypatch):
    from embedlab.errors import ModelError

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    started = time.monotonic()
    with pytest.raises(ModelError, match=r"not a known model name or a local folder.*unreachable"):
        resolve("no-such-model")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE"):
        resolve("acme/no-such-model")
    assert time.monotonic() - started < 10


def test_added_vectors_of_another_precision_are_recorded(tmp_path):
    import numpy as np

    from embedlab.index import add_to_index, create_index, model_backend, read_manifest

    rng = np.random.default_rng(0)
    model = {"name": "m", "path": "/m", "fingerprint": "f" * 64, "pooling": "mean", "normalize": True}
    docs = [{"id": f"d{i}", "text": "t"} for i in range(4)]
    create_index(tmp_path / "idx", rng.standard_normal((4, 8)), docs, model={**model, "precision": "int8"})
    assert model_backend(read_manifest(tmp_path / "idx")) == "onnx-int8"  # add/search default to it
    more = [{"id": "e1", "text": "t"}]
    add_to_index(tmp_path / "idx", rng.standard_normal((1, 8)), more, model={**model, "precision": "fp32"})
    assert read_manifest(tmp_path / "idx")["model"]["precision"] == "int8+fp32"


def test_cli_build_search_add(tiny_model_dir, fixtures, tmp_path):
    runner = CliRunner()
    out = tmp_path / "idx"
    built = runner.invoke(
        app, ["index", "build", str(tiny_model_dir), str(fixtures / "docs.jsonl"), "--out", str(out)]
    )
    assert built.exit_code == 0, built.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["model"]["path"] == str(tiny_model_dir.resolve())
        and len(manifest["model"]["fingerprint"]) == 64
    )
    assert manifest["count"] == 4 and manifest["kind"] == "flat" and manifest["model"]["precision"] == "fp32"
    found = runner.invoke(
        app,
        [
            "index",
            "search",
            str(out),
            "A man is playing a guitar on the street.",
            "-k",
            "2",
            "--mode",
            "dense",
        ],
    )
    assert found.exit_code == 0, found.output
    assert "d1" in found.output and "1.000" in found.output
    more = tmp_path / "more.jsonl"
    more.write_text('{"id": "d5", "text": "A cat sits on the mat."}\n')
    added = runner.invoke(app, ["index", "add", str(out), str(more)])
    assert added.exit_code == 0 and "5 documents" in added.output
    missing = runner.invoke(app, ["index", "search", str(tmp_path / "nothing"), "q"])
    assert missing.exit_code == 2 and "holds no index" in missing.stderr


def test_ivfpq_on_too_few_documents_is_one_line_before_encoding(tiny_model_dir, fixtures, tmp_path):
    result = cli("index", "build", tiny_model_dir, fixtures / "docs.jsonl", "--out", tmp_path / "pq",
                 "--kind", "ivfpq")  # fmt: skip
    assert result.exit_code == 2 and "needs at least 256 vectors" in result.stderr
    assert "index: encoding" not in result.output and not (tmp_path / "pq" / "manifest.json").exists()


def test_a_version_a_failed_write_left_behind_is_removed_by_the_next_write(tiny_model_dir, fixtures, built):
    import shutil

    shutil.copytree(built / "v1", built / "v5")  # as a write that crashed after its rename leaves it
    (built / "v5" / "documents.jsonl").write_text("")  # never named by a manifest
    more = built.parent / "more.jsonl"
    more.write_text('{"id": "new1", "text": "a new document about guitars"}\n')
    assert cli("index", "add", built, more).exit_code == 0
    versions = sorted(p.name for p in built.iterdir() if p.name.startswith("v"))
    assert versions == ["v1", "v2"]  # the live one and the one before it; the leftover v5 is gone
