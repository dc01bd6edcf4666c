"""Retrieval metrics: a hand-computed example and agreement with sentence-transformers."""

from __future__ import annotations

import dataclasses
import random

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


def test_retrieval_metrics_agree_with_sentence_transformers_evaluator(arxiv_splits, minilm):
    # The packaged MiniLM, not the tiny random model: that one maps most of these texts to one vector, and the
    # metrics then compare how two implementations break exact ties (they differed between two CPUs). MiniLM
    # ranks these easy subjects perfectly, so relevance is a seeded random set of 1-12 papers per query: the
    # same ranking and judgements must give the same numbers, and the numbers are far from 0 and 1.
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    inputs = retrieval_inputs(load_split(arxiv_splits, "test"), "title", "abstract")
    rng = random.Random(0)
    relevant = {q: set(rng.sample(sorted(inputs.corpus), rng.randint(1, 12))) for q in inputs.queries}
    inputs = dataclasses.replace(inputs, relevant=relevant)
    theirs = InformationRetrievalEvaluator(
        inputs.queries, inputs.corpus, inputs.relevant, name="t", precision_recall_at_k=[1, 5, 10]
    )(minilm)
    ours = evaluate_embeddings(
        inputs,
        minilm.encode(list(inputs.queries.values())),
        minilm.encode(list(inputs.corpus.values())),
    ).metrics
    assert 0 < ours["precision@10"] < 1 and 0 < ours["map@100"] < 1  # a non-trivial ranking
    for name, value in ours.items():
        assert value == pytest.approx(theirs[f"t_cosine_{name}"], abs=1e-6), name
