"""FAISS indexes by kind (flat, ivf, hnsw), with their search effort tuned to a recall target on the
documents' own vectors.
"""

from __future__ import annotations

import math

import numpy as np

from embedlab.errors import EmbedlabError

KINDS = ("flat", "ivf", "hnsw")
HNSW_M = 32
TARGET_RECALL = 0.95


def _new_faiss_index(kind: str, dim: int, vectors: np.ndarray):
    """An empty index of `kind`, trained on `vectors` where the kind needs it, with its build parameters."""
    import faiss

    if kind == "flat":
        return faiss.IndexFlatIP(dim), {}
    if kind == "hnsw":
        return faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT), {"hnsw_m": HNSW_M}
    if kind == "ivf":
        # about 4·sqrt(n) lists, but at least 39 training points per list (FAISS' own minimum)
        nlist = max(1, min(int(4 * math.sqrt(len(vectors))), len(vectors) // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        # k-means on 64 points per list is enough to place the lists; on all of a million vectors it takes
        # ten times longer for no measurable recall (FAISS itself samples 256 per list)
        sample = np.random.default_rng(0).choice(len(vectors), min(len(vectors), 64 * nlist), replace=False)
        index.train(vectors[np.sort(sample)])
        return index, {"nlist": nlist}
    raise EmbedlabError(f"unknown index kind '{kind}'; choose one of {', '.join(KINDS)}")


def _set_search_effort(index, kind: str, effort: int) -> None:
    if kind == "ivf":
        index.nprobe = effort
    elif kind == "hnsw":
        index.hnsw.efSearch = effort


def tune_search(
    index,
    kind: str,
    indexed: np.ndarray,
    queries: np.ndarray,
    *,
    target_recall: float = TARGET_RECALL,
    k: int = 10,
) -> dict:
    """The least search effort (IVF nprobe, HNSW efSearch, doubling) whose recall@k against exact search over
    `indexed` (the vectors in `index`) reaches the target for `queries` (vectors *not* in the index).

    Recall depends on the data — clustered real embeddings need far less effort than uniform noise — so the
    effort is tuned on the documents' own vectors. The queries must not be in the index: a query that is a
    node of an HNSW graph finds its neighbours far more easily than a new query does.
    """
    import faiss

    if kind == "flat" or len(queries) == 0:
        return {}
    depth = min(k, len(indexed))
    truth = [set(row) for row in faiss.knn(queries, indexed, depth, metric=faiss.METRIC_INNER_PRODUCT)[1]]
    ceiling = index.nlist if kind == "ivf" else 4096
    effort = 1 if kind == "ivf" else 16
    while True:
        _set_search_effort(index, kind, effort)
        found = index.search(queries, depth)[1]
        recall = float(
            np.mean([len(set(row) & right) / len(right) for row, right in zip(found, truth, strict=True)])
        )
        if recall >= target_recall or effort >= ceiling:
            break
        effort = min(effort * 2, ceiling)
    name = "nprobe" if kind == "ivf" else "ef_search"
    return {name: effort, "tuned_recall_at_10": round(recall, 4), "target_recall": target_recall}


def build_tuned(
    kind: str, vectors: np.ndarray, *, target_recall: float = TARGET_RECALL, samples: int = 200, seed: int = 0
) -> tuple[object, dict, np.ndarray]:
    """A filled index of `kind` with its search effort tuned, and the order its rows were added in.

    Up to `samples` vectors (at most a tenth) are held out, the rest indexed, the effort tuned with the
    held-out ones as queries, and then they are added too — so the returned order puts them last.
    """
    order = np.arange(len(vectors))
    held = min(samples, len(vectors) // 10) if kind != "flat" else 0
    if held:
        picked = np.random.default_rng(seed).choice(len(vectors), size=held, replace=False)
        order = np.concatenate([np.setdiff1d(order, picked), np.sort(picked)])
    vectors = vectors[order]
    index, parameters = _new_faiss_index(kind, vectors.shape[1], vectors)
    index.add(vectors[: len(vectors) - held])
    parameters.update(
        tune_search(
            index,
            kind,
            vectors[: len(vectors) - held],
            vectors[len(vectors) - held :],
            target_recall=target_recall,
        )
    )
    if held:
        index.add(vectors[len(vectors) - held :])
    return index, parameters, order
