"""Benchmark loaders against the shared data folder (counts from the data READMEs) and fixture folders."""

from __future__ import annotations

import pytest

from embedlab.data import sts
from embedlab.data.sts import STS_SUITE, load_sts
from embedlab.errors import DataError


@pytest.mark.integration  # counts of the real releases
@pytest.mark.parametrize(
    ("task", "split", "count", "low", "high"),
    [
        ("stsb", "train", 5749, 0.0, 5.0),
        ("stsb", "dev", 1500, 0.0, 5.0),
        ("stsb", "test", 1379, 0.0, 5.0),
        ("sickr", "full", 9927, 1.0, 5.0),
        ("sickr", "train", 4500, 1.0, 5.0),
        ("sickr", "dev", 500, 1.0, 5.0),
        ("sickr", "test", 4927, 1.0, 5.0),
        ("sts12", "test", 3108, 0.0, 5.0),
        ("sts13", "test", 1500, 0.0, 5.0),
        ("sts14", "test", 3750, 0.0, 5.0),
        ("sts15", "test", 3000, 0.0, 5.0),
        ("sts16", "test", 1186, 0.0, 5.0),
    ],
)
def test_benchmark_counts_match_the_releases(task, split, count, low, high):
    pairs = load_sts(task, split)
    assert len(pairs) == count
    assert min(pairs["score"]) == low and max(pairs["score"]) == high
    assert all(s.strip() for s in pairs["sentence1"]) and all(s.strip() for s in pairs["sentence2"])


@pytest.mark.integration  # the real STS-B file
def test_stsb_sentences_with_quotes_are_not_mangled():
    # The files have unbalanced '"' characters; a quote-honouring CSV reader would merge lines.
    pairs = load_sts("stsb", "train")
    assert any('"' in s for s in pairs["sentence1"])
    assert not any("\t" in s or "\n" in s for s in [*pairs["sentence1"], *pairs["sentence2"]])


def test_default_split_is_the_evaluation_split():
    assert sts.get_task("sickr").default_split == "full"
    assert STS_SUITE == ["stsb", "sickr", "sts12", "sts13", "sts14", "sts15", "sts16"]
    with pytest.raises(DataError, match="has no split 'validation'"):
        load_sts("stsb", "validation")


def _semeval_folder(tmp_path, gold_lines: list[str]):
    folder = tmp_path / "sts12"
    folder.mkdir()
    (folder / "STS.input.toy.txt").write_text("A b.\tA b c.\nC d.\tE f.\nG h.\tG h.\tsource\n")
    (folder / "STS.gs.toy.txt").write_text("\n".join(gold_lines) + "\n")
    return tmp_path


def test_semeval_skips_unscored_pairs(tmp_path):
    root = _semeval_folder(tmp_path, ["4.0", "", "5"])
    pairs = load_sts("sts12", root=root)
    assert pairs["sentence1"] == ["A b.", "G h."]
    assert pairs["score"] == [4.0, 5.0]


def test_semeval_bad_gold_names_the_line(tmp_path):
    root = _semeval_folder(tmp_path, ["4.0", "n/a", "5"])
    with pytest.raises(DataError) as caught:
        load_sts("sts12", root=root)
    assert caught.value.line == 2 and caught.value.field == "score"


def test_missing_folder_falls_back_to_hub_with_a_clear_error(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr("datasets.load_dataset", offline)
    with pytest.raises(DataError) as caught:
        load_sts("stsb", "test", root=tmp_path)
    message = str(caught.value)
    assert "not found at" in message and "sentence-transformers/stsb" in message and "no network" in message


def test_data_dir_comes_from_the_environment(tmp_path, monkeypatch):
    from embedlab.paths import data_dir

    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
