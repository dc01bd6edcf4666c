"""Retrieval evaluation: queries against a corpus, relevance by shared label.

The metrics follow sentence-transformers' InformationRetrievalEvaluator exactly (same definitions, ties broken
by ascending corpus id; tests hold the two together), but are computed from any score matrix, so the TF-IDF
baseline and the embedding models are measured by the same code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from embedlab.evaluate.records import EvalRecord
from embedlab.io import l2_normalise

TASK = "arxiv-retrieval"
PRECISION_AT = (1, 5, 10)
RECALL_AT = (10,)
MRR_AT = NDCG_AT = 10
MAP_AT = 100
DEPTH = max(MAP_AT, *PRECISION_AT, *RECALL_AT, MRR_AT, NDCG_AT)


@dataclass(frozen=True)
class RetrievalInputs:
    """The shape InformationRetrievalEvaluator takes, plus each query's label for per-label figures."""

    queries: dict[str, str]
    corpus: dict[str, str]
    relevant: dict[str, set[str]]
    query_labels: dict[str, str]


def retrieval_inputs(
    papers: list[dict], query_field: str = "title", corpus_field: str = "abstract"
) -> RetrievalInputs:
    """Each paper's `query_field` is a query; the corpus is every paper's `corpus_field`;
    relevant = the papers of the same label.
    """
    by_label: dict[str, set[str]] = defaultdict(set)
    for paper in papers:
        by_label[paper["label"]].add(paper["id"])
    return RetrievalInputs(
        queries={f"q-{p['id']}": p[query_field] for p in papers},
        corpus={p["id"]: p[corpus_field] for p in papers},
        relevant={f"q-{p['id']}": by_label[p["label"]] for p in papers},
        query_labels={f"q-{p['id']}": p["label"] for p in papers},
    )


def ranked_hits(
    score_rows: Callable[[int, int], np.ndarray], n_queries: int, corpus_ids: list[str], depth: int = DEPTH
) -> list[list[str]]:
    """Top-`depth` corpus ids per query, best first, ties by ascending corpus id. `score_rows(start, stop)`
    gives the score matrix rows of those queries, so the full matrix is never held at once.
    """
    order_of_id = np.argsort(
        np.argsort(np.array(corpus_ids, dtype=object))
    )  # rank of each id in sorted order
    depth = min(depth, len(corpus_ids))
    ranked: list[list[str]] = []
    for start in range(0, n_queries, 256):
        scores = np.asarray(score_rows(start, min(start + 256, n_queries)), dtype=np.float64)
        for row in scores:
            if depth < len(row):
                threshold = np.partition(row, -depth)[-depth]
                candidates = np.flatnonzero(row >= threshold)  # ties at the threshold all compete
            else:
                candidates = np.arange(len(row))
            best = candidates[np.lexsort((order_of_id[candidates], -row[candidates]))][:depth]
            ranked.append([corpus_ids[i] for i in best])
    return ranked


def _dcg(relevances: list[int]) -> float:
    return float(sum(r / np.log2(i + 2) for i, r in enumerate(relevances)))


def query_metrics(hits: list[str], relevant: set[str]) -> dict[str, float]:
    """Precision@k, recall@k, MRR@10, nDCG@10 and MAP of one ranked hit list against its relevant ids.

    Example::

        query_metrics(["d3", "d1", "d7"], {"d1"})["mrr@10"]  # 0.5
    """
    metrics: dict[str, float] = {}
    is_relevant = [1 if h in relevant else 0 for h in hits]
    for k in PRECISION_AT:
        metrics[f"precision@{k}"] = sum(is_relevant[:k]) / k
    for k in RECALL_AT:
        metrics[f"recall@{k}"] = sum(is_relevant[:k]) / len(relevant)
    first = next((rank for rank, r in enumerate(is_relevant[:MRR_AT]) if r), None)
    metrics[f"mrr@{MRR_AT}"] = 0.0 if first is None else 1.0 / (first + 1)
    ideal = _dcg([1] * min(len(relevant), NDCG_AT))
    metrics[f"ndcg@{NDCG_AT}"] = _dcg(is_relevant[:NDCG_AT]) / ideal
    found, precisions = 0, 0.0
    for rank, r in enumerate(is_relevant[:MAP_AT]):
        if r:
            found += 1
            precisions += found / (rank + 1)
    metrics[f"map@{MAP_AT}"] = precisions / min(MAP_AT, len(relevant))
    return metrics


@dataclass(frozen=True)
class RetrievalResult:
    """Mean retrieval metrics over all queries and per label.

    Example::

        result = evaluate_encoder(encoder, inputs)
        result.metrics["precision@10"]
    """

    metrics: dict[str, float]  # fractions in [0, 1], as InformationRetrievalEvaluator returns them
    per_label: dict[str, dict[str, float]]  # label → metric → mean over that label's queries
    queries: int
    corpus: int

    def records(self, split: str = "test", task: str = TASK) -> list[EvalRecord]:
        """The metrics as evaluation records (percentages), for the results file."""
        return [
            EvalRecord(task, split, name, round(100 * value, 2), self.queries)
            for name, value in self.metrics.items()
        ]


def evaluate_rankings(inputs: RetrievalInputs, ranked: list[list[str]]) -> RetrievalResult:
    """Score ranked corpus ids (one list per query, in query order).

    Example::

        result = evaluate_rankings(inputs, [["d1", "d3"], ["d2", "d9"]])
    """
    per_query = [
        query_metrics(hits, inputs.relevant[q]) for q, hits in zip(inputs.queries, ranked, strict=True)
    ]
    names = list(per_query[0])
    by_label: dict[str, list[dict[str, float]]] = defaultdict(list)
    for query_id, metrics in zip(inputs.queries, per_query, strict=True):
        by_label[inputs.query_labels[query_id]].append(metrics)
    return RetrievalResult(
        metrics={name: float(np.mean([m[name] for m in per_query])) for name in names},
        per_label={
            label: {name: float(np.mean([m[name] for m in rows])) for name in names}
            for label, rows in sorted(by_label.items())
        },
        queries=len(inputs.queries),
        corpus=len(inputs.corpus),
    )


def evaluate_embeddings(
    inputs: RetrievalInputs, query_vectors: np.ndarray, corpus_vectors: np.ndarray
) -> RetrievalResult:
    """Cosine similarity ranking of the corpus for every query."""
    queries = l2_normalise(query_vectors, query_vectors.dtype)
    corpus = l2_normalise(corpus_vectors, corpus_vectors.dtype)
    ranked = ranked_hits(lambda a, b: queries[a:b] @ corpus.T, len(queries), list(inputs.corpus))
    return evaluate_rankings(inputs, ranked)


def evaluate_encoder(encoder, inputs: RetrievalInputs, batch_size: int = 64) -> RetrievalResult:
    """Encode queries and corpus with `encoder` and score exact cosine rankings.

    Example::

        result = evaluate_encoder(load_encoder("all-MiniLM-L6-v2"), inputs, batch_size=64)
    """
    query_vectors = encoder.encode(list(inputs.queries.values()), batch_size=batch_size)
    corpus_vectors = encoder.encode(list(inputs.corpus.values()), batch_size=batch_size)
    return evaluate_embeddings(inputs, query_vectors, corpus_vectors)
