"""Shared helpers: atomic files and folders never leave half a result nor replace a user's folder."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.errors import EmbedlabError
from embedlab.io import (
    atomic_dir,
    atomic_path,
    check_not_input,
    check_output_dir,
    check_output_file,
    claim_dir,
    folder_kind,
    is_owned,
    l2_normalise,
    open_dir,
    output_dir,
    sha256_file,
    write_json_atomic,
)


def test_atomic_path_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "results.json"
    write_json_atomic(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as staging:
        staging.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == '{\n  "a": 1\n}\n' and [p.name for p in tmp_path.iterdir()] == [
        "results.json"
    ]


def test_atomic_dir_replaces_its_own_kind_and_refuses_a_users_folder(tmp_path):
    model = tmp_path / "model"
    with atomic_dir(model, kind="model") as staging:
        (staging / "modules.json").write_text("[]")
    with atomic_dir(model, kind="model") as staging:
        (staging / "modules.json").write_text("[1]")
    assert (model / "modules.json").read_text() == "[1]"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging or previous copy left
    assert folder_kind(model) == "model" and is_owned(model, "model")

    mine = tmp_path / "venv"
    (mine / "bin").mkdir(parents=True)
    (mine / "modules.json").write_text("[]")  # looks like a model, but embedlab did not make it
    with pytest.raises(EmbedlabError, match="embedlab did not write"), atomic_dir(mine, kind="model"):
        pass
    assert (mine / "bin").is_dir()
    with pytest.raises(RuntimeError), atomic_dir(model, kind="model") as staging:
        (staging / "modules.json").write_text("half")
        raise RuntimeError("crash")
    assert (model / "modules.json").read_text() == "[1]"


def test_an_owned_folder_with_a_users_file_in_it_is_the_users(tmp_path):
    out = tmp_path / "dedup"
    with output_dir(out, kind="dedup result") as staging:
        (staging / "report.md").write_text("# dedup")
    with pytest.raises(EmbedlabError, match="earlier dedup result; pass force=True"):
        check_output_dir(out, kind="dedup result")
    check_output_dir(out, kind="dedup result", force=True)  # replaceable
    with pytest.raises(EmbedlabError, match="embedlab's dedup result, not a cluster result"):
        check_output_dir(out, kind="cluster result", force=True)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(EmbedlabError, match="embedlab did not write"):
        check_output_dir(out, kind="dedup result", force=True)
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("out", "inputs", "problem"),
    [
        ("proj", ["proj/corpus.jsonl"], "contains the input"),
        ("proj/corpus.jsonl", ["proj/corpus.jsonl"], "one of this command's inputs"),
        ("proj/out", ["proj"], "lies inside the input"),
    ],
)
def test_no_output_is_contains_or_lies_inside_an_input(tmp_path, out, inputs, problem):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "corpus.jsonl").write_text("{}\n")
    with pytest.raises(EmbedlabError, match=problem):
        check_output_dir(tmp_path / out, kind="x", force=True, inputs=[tmp_path / i for i in inputs])
    check_not_input(tmp_path / "elsewhere", [tmp_path / i for i in inputs])  # a sibling is fine


def test_a_file_output_replaces_only_with_force_and_never_an_input(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(EmbedlabError, match="exists; pass force=True"):
        check_output_file(notes)
    check_output_file(notes, force=True)
    with pytest.raises(EmbedlabError, match="one of this command's inputs"):
        check_output_file(notes, force=True, inputs=[notes])
    with pytest.raises(EmbedlabError, match="is a folder"):
        check_output_file(tmp_path, force=True)


def test_claim_dir_replaces_only_its_own_kind_and_open_dir_continues(tmp_path):
    run = claim_dir(tmp_path / "run", kind="training run", names=["model", "config.yaml"])
    (run / "config.yaml").write_text("a")
    assert open_dir(run, kind="training run", names=["model"]) == run and (run / "config.yaml").exists()
    claim_dir(run, kind="training run", names=["model"], force=True)
    assert [p.name for p in run.iterdir()] == [".embedlab.json"]  # replaced: the old run is gone
    user = tmp_path / "user"
    user.mkdir()
    (user / "model").mkdir()  # the shape of a run, not made by embedlab
    with pytest.raises(EmbedlabError, match="embedlab did not write"):
        claim_dir(user, kind="training run", names=["model"], force=True)
    with pytest.raises(EmbedlabError, match="embedlab did not write"):
        open_dir(user, kind="training run", names=["model"])
    assert (user / "model").is_dir()


def test_full_disk_and_read_only_become_one_line(tmp_path, monkeypatch):
    import errno

    target = tmp_path / "out" / "results.json"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("pathlib.Path.replace", full)
    with pytest.raises(EmbedlabError, match=f"no space left writing {target}"):
        write_json_atomic(target, {"a": 1})
    assert list((tmp_path / "out").iterdir()) == []  # nothing half-written


def test_a_read_only_place_is_one_line(tmp_path, monkeypatch):
    import errno
    import os

    def read_only(path, *args, **kwargs):  # root ignores permission bits: a read-only mount, as the OS says
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(EmbedlabError, match="read-only"):
        write_json_atomic(tmp_path / "x.json", {})


def test_sha256_and_normalisation(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    unit = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert unit.dtype == np.float32 and np.allclose(unit, [[0.6, 0.8], [0.0, 0.0]])
