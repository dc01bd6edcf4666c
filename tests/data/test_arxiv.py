"""arXiv preprocessing: cleaning, bad records named by line, stratified splits, label levels."""

from __future__ import annotations

import json

import pytest

from embedlab.data.arxiv import ArxivSettings, load_split, normalise_text, prepare_arxiv
from embedlab.errors import DataError
from tests.corpora import SUBJECT_WORDS


def test_normalise_text_collapses_whitespace():
    assert normalise_text("  Spectral\n gaps\tof  graphs ") == "Spectral gaps of graphs"


def test_bad_records_are_counted_with_their_line_and_small_labels_set_aside(arxiv_splits, arxiv_corpus):
    manifest = json.loads((arxiv_splits / "manifest.json").read_text())
    aside = manifest["set_aside"]
    assert aside["invalid JSON"] == 1
    assert aside["missing or non-text field 'abstract'"] == 1
    assert aside["empty title or abstract"] == 1
    assert aside["duplicate (id, title or abstract seen before)"] == 1
    assert aside["label with fewer than 10 papers"] == 5
    assert manifest["set_aside_examples"]["invalid JSON"][0].startswith(f"{arxiv_corpus}:")
    assert manifest["papers"] == 160 and manifest["labels"] == 4


def test_stratified_split_keeps_every_subject_in_every_split_and_no_paper_in_two(arxiv_splits):
    splits = {split: load_split(arxiv_splits, split) for split in ("train", "eval", "test")}
    ids = [p["id"] for papers in splits.values() for p in papers]
    assert len(ids) == len(set(ids)) == 160
    for papers in splits.values():
        assert {p["label"] for p in papers} == set(SUBJECT_WORDS)
    test_counts = {label: sum(p["label"] == label for p in splits["test"]) for label in SUBJECT_WORDS}
    assert set(test_counts.values()) == {10}  # 25 % of 40 in each subject
    manifest = json.loads((arxiv_splits / "manifest.json").read_text())
    assert manifest["per_label"]["cs"] == {"train": 22, "eval": 8, "test": 10}
    assert "  " not in splits["train"][0]["abstract"]  # normalised


def test_label_level_category_and_errors(arxiv_corpus, tmp_path):
    manifest = prepare_arxiv(
        arxiv_corpus, tmp_path / "c", ArxivSettings(label_level="category", min_papers=10)
    )
    assert {"math.PR", "math.CO", "cs.LG"} <= set(manifest["per_label"])
    with pytest.raises(DataError, match="only 0 label"):
        prepare_arxiv(arxiv_corpus, tmp_path / "d", ArxivSettings(min_papers=1000))
    with pytest.raises(DataError, match="cannot read"):
        prepare_arxiv(tmp_path / "missing.jsonl", tmp_path / "e")
    assert not (tmp_path / "d").exists()
