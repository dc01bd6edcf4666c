"""Retrieval metrics: a hand-computed example and agreement with sentence-transformers."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.data.arxiv import load_split
from embedlab.evaluate.retrieval import evaluate_embeddings, query_metrics, retrieval_inputs


def test_metrics_match_a_hand_computed_example():
    # relevant: a, c, e (3 documents); ranking: b a c d e ...
    metrics = query_metrics(["b", "a", "c", "d", "e", "f", "g", "h", "i", "j"], {"a", "c", "e"})
    assert metrics["precision@1"] == 0
    assert metrics["precision@5"] == pytest.approx(3 / 5)
    assert metrics["precision@10"] == pytest.approx(3 / 10)
    assert metrics["recall@10"] == pytest.approx(1.0)
    assert metrics["mrr@10"] == pytest.approx(1 / 2)
    dcg = 1 / np.log2(3) + 1 / np.log2(4) + 1 / np.log2(6)
    ideal = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert metrics["ndcg@10"] == pytest.approx(dcg / ideal)
    assert metrics["map@100"] == pytest.approx((1 / 2 + 2 / 3 + 3 / 5) / 3)


def test_retrieval_metrics_agree_with_sentence_transformers_evaluator(arxiv_splits, tiny_model):
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    test = load_split(arxiv_splits, "test")
    inputs = retrieval_inputs(test, "title", "abstract")
    theirs = InformationRetrievalEvaluator(
        inputs.queries, inputs.corpus, inputs.relevant, name="t", precision_recall_at_k=[1, 5, 10]
    )(tiny_model)
    ours = evaluate_embeddings(
        inputs,
        tiny_model.encode(list(inputs.queries.values())),
        tiny_model.encode(list(inputs.corpus.values())),
    ).metrics
    assert 0 < ours["precision@10"] < 1  # a non-trivial ranking
    for name, value in ours.items():
        assert value == pytest.approx(theirs[f"t_cosine_{name}"], abs=1e-6), name
