"""Clustering, MTEB's way: k-means (k = the number of labels) on the vectors of arXiv test titles, scored by
the V-measure against their subjects, averaged over seeded runs (MTEB's ArxivClusteringS2S on our split).

    evaluate_clustering(model)  # [EvalRecord("arxiv-clustering", "test", "v_measure", 41.2, 7855), ...]
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embedlab.evaluate.records import EvalRecord

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

TASK = "arxiv-clustering"
V_MEASURE = "v_measure"
RUNS = 5  # k-means restarts with seeds 0..4: the figure is their mean, the spread their sd


def v_measures(vectors: np.ndarray, labels: list[str], runs: int = RUNS) -> list[float]:
    """The V-measure (×100) of mini-batch k-means (MTEB's settings: batch 500, k = distinct labels) on
    L2-normalised `vectors`, once per seed.

    Example::

        v_measures(vectors, ["math", "cs", ...])  # [41.0, 41.5, 40.8, 41.3, 41.1]
    """
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.metrics import v_measure_score

    from embedlab.io import l2_normalise

    unit = l2_normalise(vectors)
    k = len(set(labels))
    scores = []
    for seed in range(runs):
        assigned = MiniBatchKMeans(
            n_clusters=k, batch_size=500, n_init="auto", random_state=seed
        ).fit_predict(unit)
        scores.append(100 * float(v_measure_score(labels, assigned)))
    return scores


def evaluate_clustering(
    model: SentenceTransformer,
    *,
    arxiv_dir: Path | None = None,
    field: str = "title",
    label: str = "primary_subject",
    batch_size: int = 64,
    show_progress: bool = True,
) -> list[EvalRecord]:
    """Cluster the arXiv test split's `field` texts (titles: MTEB's S2S) by `label` (20 subjects), from
    `arxiv_dir` (default: the prepared default splits): records `v_measure` (the mean over `RUNS` seeds) and
    `v_measure_sd`.

    Example::

        evaluate_clustering(load_model("all-MiniLM-L6-v2"))[0].value
    """
    from embedlab.data.arxiv import default_prepared_dir, load_split
    from embedlab.evaluate.sts import encode_labelled

    papers = load_split(arxiv_dir or default_prepared_dir(), "test")
    vectors = encode_labelled(
        model, [p[field] for p in papers], f"clustering arXiv {field}s", batch_size, show_progress
    )
    scores = v_measures(vectors, [p[label] for p in papers])
    spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
    return [
        EvalRecord(TASK, "test", V_MEASURE, statistics.fmean(scores), len(papers)),
        EvalRecord(TASK, "test", f"{V_MEASURE}_sd", spread, len(papers)),
    ]
