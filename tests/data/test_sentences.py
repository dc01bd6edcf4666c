"""Sentence and NLI-pair collection for unsupervised and supervised SimCSE and distillation."""

from __future__ import annotations

import gzip
import json

import pytest

from embedlab.config import DataSource
from embedlab.data.sentences import (
    collect_sentences,
    entailment_pairs,
    evaluation_sentences,
    split_sentences,
)
from embedlab.data.sts import sentences as sts_sentences
from embedlab.errors import DataError
from embedlab.paths import data_dir
from embedlab.train.sources import load_source


def test_sentences_never_include_evaluation_sides_and_abstracts_split(tmp_path):
    held_out = evaluation_sentences()
    test_sentence = sts_sentences("stsb", "test")[0]
    assert test_sentence in held_out
    corpus = tmp_path / "mixed.txt"
    corpus.write_text(f"{test_sentence}\nA sentence only found in training files.\n", encoding="utf-8")
    kept, removed = collect_sentences([str(corpus)])
    assert kept == ["A sentence only found in training files."] and removed == 1
    abstract = "We study graphs, e.g. trees here. $G$ is a planar graph here. Short. Finally (a) follows."
    assert split_sentences(abstract) == [
        "We study graphs, e.g. trees here.",  # no split before a lower-case word
        "$G$ is a planar graph here.",
        "Finally (a) follows.",  # "Short." is under 20 characters: dropped
    ]


def test_nli_entailment_pairs_for_supervised_simcse():
    pairs, removed = entailment_pairs(["snli:dev"])
    with gzip.open(data_dir() / "nli" / "snli_dev.jsonl.gz", "rt") as lines:
        rows = [json.loads(line) for line in lines]
    labels = {(" ".join(r["premise"].split()), " ".join(r["hypothesis"].split())): r["label"] for r in rows}
    entailed = {pair for pair, label in labels.items() if label == "entailment"}
    assert 0 < len(pairs) < len(entailed) and removed > 0  # SNLI dev shares caption sentences with SICK
    assert all(labels[pair] == "entailment" for pair in pairs)
    held_out = evaluation_sentences()
    assert not any(premise in held_out or hypothesis in held_out for premise, hypothesis in pairs)
    two_sources = ["snli:dev", "mnli:train-sample"]
    limited, _ = entailment_pairs(two_sources, limit=100, seed=1)
    assert len(limited) == 100 and limited == entailment_pairs(two_sources, limit=100, seed=1)[0]
    dataset, _ = load_source(DataSource(nli=["snli:dev"], max_pairs=50))
    assert dataset.column_names == ["anchor", "positive"] and len(dataset) == 50
    assert labels[(dataset[0]["anchor"], dataset[0]["positive"])] == "entailment"
    with pytest.raises(DataError, match="unknown NLI source 'arxiv'"):
        entailment_pairs(["arxiv"])


def test_nli_row_without_a_label_is_named_by_file_and_line(tmp_path, monkeypatch):
    for folder in data_dir().iterdir():  # the real benchmarks (for the held-out sentences), a broken NLI file
        if folder.is_dir() and folder.name != "nli":
            (tmp_path / folder.name).symlink_to(folder)
    (tmp_path / "nli").mkdir()
    good = {"premise": "A dog runs.", "hypothesis": "An animal moves.", "label": "entailment"}
    with gzip.open(tmp_path / "nli" / "snli_dev.jsonl.gz", "wt") as handle:
        handle.write(json.dumps(good) + "\n" + json.dumps({"premise": "A cat sleeps."}) + "\n")
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"snli_dev.jsonl.gz.*line 2"):
        entailment_pairs(["snli:dev"])


def test_nli_triplets_pair_each_entailment_with_a_contradiction_of_its_premise():
    from embedlab.data.sentences import nli_triplets

    triplets, removed = nli_triplets(["snli:dev", "mnli:train-sample"])
    rows = []
    for name in ("snli_dev", "mnli_train_sample"):
        with gzip.open(data_dir() / "nli" / f"{name}.jsonl.gz", "rt") as lines:
            rows += [json.loads(line) for line in lines]
    label = {(" ".join(r["premise"].split()), " ".join(r["hypothesis"].split())): r["label"] for r in rows}
    assert len(triplets) >= 10 and removed > 0  # random contradictions often are evaluation sentences here
    for premise, positive, negative in triplets:
        assert label[(premise, positive)] == "entailment" and label[(premise, negative)] == "contradiction"
    held_out = evaluation_sentences()
    assert not any(set(t) & held_out for t in triplets)
    dataset, _ = load_source(DataSource(nli=["snli:dev"], hard_negatives=True, max_pairs=5))
    assert dataset.column_names == ["anchor", "positive", "negative"] and len(dataset) == 5
    with pytest.raises(ValueError, match="hard_negatives: only with 'nli' sources"):
        DataSource(task="stsb", split="train", hard_negatives=True)
