"""Shared helpers: atomic files and folders never leave half a result nor replace a user's folder."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.errors import EmbedlabError
from embedlab.io import atomic_dir, atomic_path, l2_normalise, sha256_file, write_json_atomic


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
    is_model = lambda folder: (folder / "modules.json").is_file()  # noqa: E731
    model = tmp_path / "model"
    with atomic_dir(model, replaces=is_model) as staging:
        (staging / "modules.json").write_text("[]")
    with atomic_dir(model, replaces=is_model) as staging:
        (staging / "modules.json").write_text("[1]")
    assert (model / "modules.json").read_text() == "[1]"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging or previous copy left

    mine = tmp_path / "venv"
    (mine / "bin").mkdir(parents=True)
    with (
        pytest.raises(EmbedlabError, match="not what this command writes"),
        atomic_dir(mine, replaces=is_model),
    ):
        pass
    assert (mine / "bin").is_dir()
    with pytest.raises(RuntimeError), atomic_dir(model, replaces=is_model) as staging:
        (staging / "modules.json").write_text("half")
        raise RuntimeError("crash")
    assert (model / "modules.json").read_text() == "[1]"


def test_sha256_and_normalisation(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    unit = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert unit.dtype == np.float32 and np.allclose(unit, [[0.6, 0.8], [0.0, 0.0]])
