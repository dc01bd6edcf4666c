"""The k nearest neighbours of many vectors at once, through a FAISS index — never an n×n matrix.

Exact (flat) up to `EXACT_UP_TO` vectors; above that an IVF index whose search effort is tuned on the vectors
themselves to a recall target (`build_tuned`), so a million vectors take minutes on two cores, not hours.
The apps (dedup, match, cluster) build on this.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from embedlab.index.faiss_build import TARGET_RECALL, build_tuned

EXACT_UP_TO = 100_000
SEARCH_BATCH = 8_192


def neighbour_index(vectors: np.ndarray, *, kind: str = "auto", target_recall: float = TARGET_RECALL):
    """A FAISS index over `vectors` (unit rows, inner product = cosine) and the row each index id stands for.

    Example::

        index, rows = neighbour_index(vectors)           # flat for small collections, IVF for large ones
        scores, ids = index.search(queries, 10)          # rows[ids] are positions in `vectors`
    """
    if kind == "auto":
        kind = "flat" if len(vectors) <= EXACT_UP_TO else "ivf"
    index, _, order = build_tuned(
        kind, np.ascontiguousarray(vectors, dtype=np.float32), target_recall=target_recall
    )
    return index, order


def nearest(
    index,
    rows: np.ndarray,
    queries: np.ndarray,
    k: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and rows of the `k` nearest indexed vectors for each query (rows −1 where fewer exist).

    Example::

        index, rows = neighbour_index(corpus_vectors)
        scores, found = nearest(index, rows, query_vectors, k=5)
    """
    k = max(1, min(k, index.ntotal))
    scores = np.empty((len(queries), k), dtype=np.float32)
    found = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), SEARCH_BATCH):
        batch = np.ascontiguousarray(queries[start : start + SEARCH_BATCH], dtype=np.float32)
        s, ids = index.search(batch, k)
        scores[start : start + len(batch)] = s
        found[start : start + len(batch)] = np.where(ids >= 0, rows[np.maximum(ids, 0)], -1)
        if progress is not None:
            progress(len(batch))
    return scores, found


def best_matches(
    queries: np.ndarray, candidates: np.ndarray, *, k: int = 1, min_score: float = -1.0
) -> list[list[tuple[int, float]]]:
    """For each query, up to `k` (candidate row, cosine) with cosine ≥ `min_score`, best first; [] = no match.

    Example::

        best_matches(question_vectors, answer_vectors, k=1, min_score=0.5)  # [[(3, 0.71)], [], ...]
    """
    index, rows = neighbour_index(candidates)
    scores, found = nearest(index, rows, queries, k)
    return [
        [(int(c), float(s)) for c, s in zip(row, row_scores, strict=True) if c >= 0 and s >= min_score]
        for row, row_scores in zip(found, scores, strict=True)
    ]


def pairs_above(
    vectors: np.ndarray,
    threshold: float,
    *,
    k: int = 20,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (i < j) of rows whose cosine is at least `threshold`, among each row's `k` nearest.

    A k-NN search with a range check: a row with more than `k - 1` neighbours above the threshold keeps its
    `k - 1` closest, which is enough to join it to its group.

    Example::

        left, right, scores = pairs_above(l2_normalise(vectors), 0.9)
    """
    index, rows = neighbour_index(vectors)
    scores, found = nearest(index, rows, vectors, k, progress)
    left = np.repeat(np.arange(len(vectors)), found.shape[1])
    right, score = found.ravel(), scores.ravel()
    keep = (right >= 0) & (right != left) & (score >= threshold)
    left, right, score = left[keep], right[keep], score[keep]
    low, high = np.minimum(left, right), np.maximum(left, right)
    pairs = np.unique(np.stack([low, high], axis=1), axis=0, return_index=True)
    (unique_pairs, first) = pairs
    return unique_pairs[:, 0], unique_pairs[:, 1], score[first]
