"""Rerankers: a cross-encoder trained by sentence-transformers' CrossEncoder trainer on a user's documents,
saved where plain `CrossEncoder(path)` loads it, its card's figures those of the saved folder, and the
kind of a model folder checked wherever a reranker or an embedding model belongs."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from datasets import Dataset

from embedlab.config import RunConfig
from embedlab.errors import ModelError


def minilm_words(count: int) -> list[str]:
    """Plain words of MiniLM's vocabulary (the pretrained transformer a reranker starts from reads them)."""
    from embedlab.models.registry import resolve

    vocab = (Path(resolve("all-MiniLM-L6-v2")) / "vocab.txt").read_text(encoding="utf-8").split()
    return [w for w in vocab if re.fullmatch("[a-z]{4,9}", w)][2000 : 2000 + count]


def write_word_documents(path: Path, words: list[str], count: int = 240, seed: int = 0) -> Path:
    """Each document holds its query's three words, found in no other document, among eight fillers shared
    by all: the retriever's nearest other documents (the mined negatives) share fillers, never the query's
    words, so "holds the query's words" is what a reranker learns in one short epoch.
    """
    rng = random.Random(seed)
    own, fillers = words[: 3 * count], words[3 * count :]
    with path.open("w", encoding="utf-8") as out:
        for number in range(count):
            query = own[3 * number : 3 * number + 3]
            text = query + rng.sample(fillers, 8)
            rng.shuffle(text)
            row = {"id": f"p{number}", "title": " ".join(query), "abstract": " ".join(text)}
            out.write(json.dumps({**row, "cat": "abc"[number % 3]}) + "\n")
    return path


def reranker_config(tmp_path, model, docs, retriever=None, **cross_encoder) -> RunConfig:
    return RunConfig.model_validate(
        {
            "name": "reranker",
            "model": str(model),
            "output_dir": str(tmp_path / "runs"),
            "retrieval": {"documents": str(docs), "query_field": "title", "document_field": "abstract",
                          "label_field": "cat", "held_out": 0.2, "dev_queries": 24, "corpus_size": 200,
                          "hard_negatives": 3, "relative_margin": None},
            "cross_encoder": {"loss": "bce", "depth": 100, "max_length": 40,
                              "retriever": str(retriever) if retriever else None, **cross_encoder},
            "training": {"epochs": 1, "batch_size": 16, "learning_rate": 2e-4, "logging_steps": 10},
            "eval": {"tasks": [], "batch_size": 32},
        }
    )  # fmt: skip


def test_ranking_rows_take_the_shape_each_loss_reads():
    from embedlab.train.cross_encoder import ranking_dataset

    pairs = Dataset.from_dict({"anchor": ["q1", "q2"], "positive": ["p1", "p2"], "negative_1": ["n1", "n2"],
                               "negative_2": ["m1", "m2"], "label": [0, 1]})  # fmt: skip
    bce = ranking_dataset(pairs, "bce")
    assert bce.column_names == ["query", "document", "label"] and len(bce) == 6
    assert [(r["query"], r["document"], r["label"]) for r in bce][:3] == [
        ("q1", "p1", 1.0), ("q1", "n1", 0.0), ("q1", "m1", 0.0)
    ]  # fmt: skip
    listwise = ranking_dataset(pairs, "lambda")
    assert listwise[1] == {"query": "q2", "docs": ["p2", "n2", "m2"], "labels": [1.0, 0.0, 0.0]}
    assert ranking_dataset(pairs, "mnrl").column_names == ["anchor", "positive", "negative_1", "negative_2"]


def test_config_checks_for_reranker_runs(tmp_path):
    config = reranker_config(tmp_path, "m", tmp_path / "d.jsonl")
    raw = config.model_dump()
    with pytest.raises(ValueError, match="learns from mined negatives"):
        RunConfig.model_validate({**raw, "retrieval": {**raw["retrieval"], "hard_negatives": 0}})
    with pytest.raises(ValueError, match=r"'retrieval' data .* or scored 'train' pairs"):
        RunConfig.model_validate({**raw, "retrieval": None, "dev": None})
    sts = {**raw, "retrieval": None, "train": {"task": "stsb", "split": "train"}, "dev": None}
    assert RunConfig.model_validate(sts).cross_encoder.loss == "bce"
    with pytest.raises(ValueError, match="scored pairs with loss bce"):
        RunConfig.model_validate({**sts, "cross_encoder": {"loss": "lambda"}})


def test_a_tiny_reranker_trains_ranks_the_planted_document_first_and_loads_as_a_cross_encoder(tmp_path):
    from sentence_transformers import CrossEncoder

    from embedlab.data.beir import load_beir
    from embedlab.models.cross_encoder import rerank
    from embedlab.models.registry import resolve
    from embedlab.train import train
    from embedlab.train.cross_encoder import score_reranker

    # MiniLM's transformer learns the task in one short epoch; a random tiny retriever knowing the same words
    # mines (varied negatives) and is weak
    from tests.conftest import make_tiny_model

    words = minilm_words(3 * 240 + 200)
    (tmp_path / "retriever").mkdir()
    retriever = make_tiny_model(tmp_path / "retriever", words)
    docs = write_word_documents(tmp_path / "d.jsonl", words)
    config = reranker_config(tmp_path, resolve("all-MiniLM-L6-v2"), docs, retriever=retriever)
    result = train(config)
    figures = {(r.task, r.metric): r.value for r in result.after}
    alone, reranked = (
        figures[("retrieval:held-out", "ndcg@10")],
        figures[("retrieval:held-out+rerank", "ndcg@10")],
    )
    assert reranked > alone + 10, (alone, reranked)  # the random tiny retriever is weak; the reranker is not
    assert ("retrieval:held-out+hybrid+rerank", "ndcg@10") in figures
    # a planted relevant document among others comes first for most held-out queries
    task = load_beir(config.run_dir / "held-out")
    first = 0
    for query, judged in list(task.qrels.items())[:20]:
        own = next(iter(judged))
        others = [text for doc, text in task.corpus.items() if doc != own][:9]
        scores = rerank(task.queries[query], [*others, task.corpus[own]], result.model_dir)
        first += int(scores.argmax() == len(others))
    assert first >= 14, first
    # plain CrossEncoder loads it; the card's figures are the saved folder's
    saved = CrossEncoder(str(result.model_dir), device="cpu")
    again = {(r.task, r.metric): r.value for r in score_reranker(config, saved)}
    assert again[("retrieval:held-out+rerank", "ndcg@10")] == pytest.approx(reranked, abs=1e-4)
    card = (result.model_dir / "README.md").read_text()
    assert "CrossEncoder(" in card and "starts from the" in card and f"{reranked:.2f}" in card
    results = json.loads((config.run_dir / "results.json").read_text())
    assert results["retriever"] == str(retriever) and results["best_dev"] is not None


def test_the_kind_of_a_model_folder_is_checked_where_it_matters(tmp_path, tiny_model_dir):
    from embedlab.models.cross_encoder import (
        check_embedding_model,
        check_reranker,
        load_cross_encoder,
        model_kind,
    )

    assert model_kind(tiny_model_dir) == "embedding model"
    with pytest.raises(ModelError, match=r"is an embedding model .*not a reranker"):
        check_reranker(tiny_model_dir)
    with pytest.raises(ModelError, match="not a reranker"):
        load_cross_encoder(tiny_model_dir)
    reranker = load_cross_encoder(tiny_model_dir, start=True)  # the start of a reranker's training
    reranker.save(str(tmp_path / "ce"))
    assert model_kind(tmp_path / "ce") == "cross-encoder"
    with pytest.raises(ModelError, match=r"is a reranker .*makes no vectors"):
        check_embedding_model(tmp_path / "ce")
    check_embedding_model(tiny_model_dir)
    check_reranker(tmp_path / "ce")
