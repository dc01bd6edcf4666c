"""FAISS indexes by kind (flat, ivf, hnsw, ivfpq), with their search effort tuned to a recall target on
the documents' own vectors.

`ivfpq` is for corpora that outgrow memory: product-quantised codes (dim/8 bytes per vector by default,
more for higher recall; optionally after an OPQ rotation) find candidates, and the best `RERANK_DEPTH` of
them are re-scored exactly with the full vectors, kept as float16 on disk and memory-mapped (only the
candidates' rows are read).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from embedlab.errors import EmbedlabError, EmbedlabWarning

KINDS = ("flat", "ivf", "hnsw", "ivfpq")
HNSW_M = 32
TARGET_RECALL = 0.95
RERANK_DEPTH = 100


class WrappedIndex:
    """A FAISS index behind an object of ours (`self.index`), counted and sized as FAISS's own."""

    index: Any  # a FAISS index (or our binary wrapper of one)

    @property
    def ntotal(self) -> int:
        """Vectors in the index."""
        return int(self.index.ntotal)

    @property
    def d(self) -> int:
        """Their width."""
        return int(self.index.d)


class Reranked(WrappedIndex):
    """A FAISS index whose candidates are re-scored with the full vectors (float16, e.g. memory-mapped).

    Example::

        index = Reranked(ivfpq, np.load("vectors.f16.npy", mmap_mode="r"))
        scores, rows = index.search(queries, 10)  # exact inner products of the best 100 candidates
    """

    def __init__(self, index, vectors, depth: int = RERANK_DEPTH, multiplier: int | None = None) -> None:
        self.index, self.vectors, self.depth = index, vectors, depth
        self.multiplier = multiplier  # rescore k × multiplier candidates (compressed vectors), not `depth`

    def add(self, vectors: np.ndarray) -> None:
        """Add to the codes and to the full vectors (held in memory until saved)."""
        self.index.add(vectors)
        if hasattr(self.vectors, "append"):  # int8 codes in their calibrated ranges
            self.vectors = self.vectors.append(vectors)
        else:
            self.vectors = np.concatenate([np.asarray(self.vectors), vectors.astype(np.float16)])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) like FAISS, the scores exact (up to float16 storage)."""
        wanted = k * self.multiplier if self.multiplier else max(k, self.depth)
        _, candidates = self.index.search(queries, min(wanted, max(self.ntotal, 1)))
        valid = candidates >= 0
        rows = np.where(valid, candidates, 0)
        order = np.argsort(rows, axis=None)  # read the file in order: sequential, not random, pages
        gathered = np.empty((rows.size, self.d), dtype=np.float32)
        gathered[order] = self.vectors[rows.reshape(-1)[order]]
        scores = np.einsum("qcd,qd->qc", gathered.reshape(*rows.shape, self.d), queries)
        scores = np.where(valid, scores, -np.inf)
        best = np.argsort(-scores, axis=1)[:, :k]
        top_rows = np.take_along_axis(np.where(valid, rows, -1), best, axis=1)
        return np.take_along_axis(scores, best, axis=1).astype(np.float32), top_rows

    def reconstruct(self, row: int) -> np.ndarray:
        """The stored full vector of `row`."""
        return np.asarray(self.vectors[row], dtype=np.float32)


@dataclass(frozen=True)
class PQSettings:
    """How `ivfpq` compresses: bytes per vector (`code_bytes`, default about dim/8) and an OPQ rotation.

    More bytes rank candidates better (recall) for more memory and slower scans: 48 bytes for 384-d vectors
    is 0.48 GB per 10M vectors, 96 is 0.96 GB.

    Example::

        DocumentIndex.build(vectors, docs, model=identity, kind="ivfpq", pq=PQSettings(code_bytes=96))
    """

    code_bytes: int | None = None
    opq: bool = False


def pq_subquantizers(dim: int, code_bytes: int | None = None) -> int:
    """Bytes per PQ code (one byte per sub-vector): `code_bytes`, or about dim/8 (48 for 384-d); it must
    divide dim so the sub-vectors are equal.

    Example::

        pq_subquantizers(384), pq_subquantizers(384, 96)  # (48, 96)
    """
    if code_bytes is None:
        return max(m for m in range(1, max(1, dim // 8) + 1) if dim % m == 0)
    if code_bytes < 1 or dim % code_bytes:
        divisors = [m for m in range(1, dim + 1) if dim % m == 0 and m >= dim // 32]
        raise EmbedlabError(
            f"pq=PQSettings(code_bytes={code_bytes}): it must divide the vectors' width {dim}, e.g. "
            + ", ".join(map(str, divisors))
        )
    return code_bytes


def new_ivfpq(dim: int, nlist: int, pq: PQSettings = PQSettings()):
    """An untrained IVF-PQ index (inner product), behind an OPQ rotation when `pq.opq`.

    Example::

        index = new_ivfpq(384, 4096, PQSettings(code_bytes=96, opq=True))
        index.train(sample)  # about 64 vectors per list
    """
    import faiss

    m = pq_subquantizers(dim, pq.code_bytes)
    ivf = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
    # FAISS prints a raw "WARNING clustering ..." below 39 points a centroid; embedlab says it once, its way
    ivf.pq.cp.min_points_per_centroid = 1
    return faiss.IndexPreTransform(faiss.OPQMatrix(dim, m), ivf) if pq.opq else ivf


MAX_LISTS = 4096  # beyond this, assigning 10M+ vectors to lists costs more CPU than the lists save


def ivf_lists(n: int) -> int:
    """About 4·sqrt(n) lists (at most 4,096), with at least 39 training points each (FAISS' own minimum).

    Example::

        ivf_lists(1_000_000)  # 4000
    """
    return max(1, min(int(4 * math.sqrt(n)), n // 39, MAX_LISTS))


IVFPQ_MIN_VECTORS = 256  # 8-bit codes: each code book has 256 centroids, trained on at least that many
PQ_WELL_TRAINED = 39 * 256  # FAISS' own minimum of 39 points a centroid, for the 256 of each code book


def check_kind(kind: str, count: int) -> None:
    """Refuse, before any encoding, a kind that cannot be built from `count` vectors (ivfpq below 256).

    Example::

        check_kind("ivfpq", 100)  # EmbedlabError: kind ivfpq needs at least 256 vectors ...
    """
    from embedlab.errors import EmbedlabError

    if kind == "ivfpq" and count < IVFPQ_MIN_VECTORS:
        raise EmbedlabError(
            f"kind ivfpq needs at least {IVFPQ_MIN_VECTORS} vectors to train its code books, these documents "
            f"give {count:,}; use kind flat (exact) or hnsw, which suit a collection this small"
        )


def _new_faiss_index(kind: str, dim: int, vectors: np.ndarray, pq: PQSettings = PQSettings()):
    """An empty index of `kind`, trained on `vectors` where the kind needs it, with its build parameters."""
    import faiss

    if kind == "flat":
        return faiss.IndexFlatIP(dim), {}
    if kind == "hnsw":
        return faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT), {"hnsw_m": HNSW_M}
    if kind == "ivfpq":
        check_kind(kind, len(vectors))
        nlist = ivf_lists(len(vectors))
        index = new_ivfpq(dim, nlist, pq)
        # PQ needs 256 points per code book (x39 for FAISS' minimum); lists need far fewer
        sample = np.random.default_rng(0).choice(
            len(vectors), min(len(vectors), max(64 * nlist, 10_000)), replace=False
        )
        if len(sample) < PQ_WELL_TRAINED:
            warnings.warn(
                f"kind ivfpq: {len(sample):,} vectors train its 256-centroid code books thinly (FAISS asks "
                f"for {PQ_WELL_TRAINED:,}); recall suffers at this size — kind hnsw or flat suit it better",
                EmbedlabWarning,
                stacklevel=2,
            )
        index.train(vectors[np.sort(sample)])
        return Reranked(index, np.empty((0, dim), dtype=np.float16)), {
            "nlist": nlist,
            "pq_bytes": pq_subquantizers(dim, pq.code_bytes),
            "opq": pq.opq,
            "rerank_depth": RERANK_DEPTH,
        }
    if kind == "ivf":
        nlist = ivf_lists(len(vectors))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        # k-means on 64 points per list is enough to place the lists; on all of a million vectors it takes
        # ten times longer for no measurable recall (FAISS itself samples 256 per list)
        sample = np.random.default_rng(0).choice(len(vectors), min(len(vectors), 64 * nlist), replace=False)
        index.train(vectors[np.sort(sample)])
        return index, {"nlist": nlist}
    raise EmbedlabError(f"unknown index kind '{kind}'; choose one of {', '.join(KINDS)}")


def _set_search_effort(index, kind: str, effort: int) -> None:
    import faiss

    if kind == "ivf":
        index.nprobe = effort
    elif kind == "ivfpq":
        faiss.extract_index_ivf(index.index).nprobe = effort
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
    truth = faiss.knn(queries, indexed, depth, metric=faiss.METRIC_INNER_PRODUCT)[1]
    return tune_effort(index, kind, queries, truth, target_recall=target_recall)


def tune_effort(index, kind: str, queries: np.ndarray, truth: np.ndarray, *, target_recall: float) -> dict:
    """The least effort (doubling) at which `index` finds the `truth` rows (exact top-k of each query) with
    the target recall; for callers that computed the truth themselves (in chunks, for 10M vectors). For
    `ivfpq` the re-ranking depth doubles too when all lists probed are not enough.
    """
    if kind != "ivfpq":
        return _tune_one(index, kind, queries, truth, target_recall)
    for depth in (RERANK_DEPTH, 2 * RERANK_DEPTH, 4 * RERANK_DEPTH, 8 * RERANK_DEPTH):
        index.depth = depth
        tuned = _tune_one(index, kind, queries, truth, target_recall)
        if tuned["tuned_recall_at_10"] >= target_recall:
            break
    return {**tuned, "rerank_depth": index.depth}


def _tune_one(index, kind: str, queries: np.ndarray, truth: np.ndarray, target_recall: float) -> dict:
    import faiss

    right = [set(row) for row in truth]
    ivf = kind in ("ivf", "ivfpq")
    ceiling = faiss.extract_index_ivf(getattr(index, "index", index)).nlist if ivf else 4096
    effort, previous = (1 if ivf else 16), -1.0
    while True:
        _set_search_effort(index, kind, effort)
        found = index.search(queries, truth.shape[1])[1]
        recall = float(np.mean([len(set(row) & r) / len(r) for row, r in zip(found, right, strict=True)]))
        # stop at the target, at the ceiling, or where doubling no longer helps (IVF-PQ: the codes, not the
        # lists probed, limit recall there; a deeper re-ranking is the next step)
        if kind == "ivfpq" and recall - previous < 0.002 and recall < target_recall:
            effort, recall = effort // 2, previous  # the doubling bought nothing: keep the cheaper effort
            _set_search_effort(index, kind, effort)
            break
        if recall >= target_recall or effort >= ceiling:
            break
        effort, previous = min(effort * 2, ceiling), recall
    name = "nprobe" if ivf else "ef_search"
    return {name: effort, "tuned_recall_at_10": round(recall, 4), "target_recall": target_recall}


def build_tuned(
    kind: str,
    vectors: np.ndarray,
    *,
    target_recall: float = TARGET_RECALL,
    samples: int = 200,
    seed: int = 0,
    pq: PQSettings = PQSettings(),
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
    index, parameters = _new_faiss_index(kind, vectors.shape[1], vectors, pq)
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
