"""Recall@10 of the approximate FAISS kinds against exact search, and queries/s, on synthetic vectors.

Usage: .venv/bin/python benchmarks/index_recall.py [--n 1000000] [--dim 384] [--queries 1000]
Vectors are clustered (so approximate search has structure to exploit, as with real embeddings) and
L2-normalised, exactly as `DocumentIndex` stores them. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np

from embedlab.index.faiss_index import _new_faiss_index, _normalised


def clustered_vectors(n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, clusters, n)] + 0.5 * rng.standard_normal((n, dim)).astype(np.float32)
    return _normalised(vectors)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    base = clustered_vectors(args.n, args.dim, clusters=1000, seed=0)
    queries = clustered_vectors(args.queries, args.dim, clusters=1000, seed=1)
    print(f"{args.n:,} × {args.dim} vectors, {args.queries} queries, {args.threads} threads")
    print("| kind | build s | queries/s | recall@10 vs flat | parameters |")
    print("|---|---|---|---|---|")
    truth = None
    for kind in ("flat", "ivf", "hnsw"):
        started = time.perf_counter()
        index, parameters = _new_faiss_index(kind, args.dim, base)
        index.add(base)
        build = time.perf_counter() - started
        started = time.perf_counter()
        _, found = index.search(queries, 10)
        qps = args.queries / (time.perf_counter() - started)
        if truth is None:
            truth = found
        recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
        print(f"| {kind} | {build:.1f} | {qps:,.0f} | {recall:.3f} | {parameters or '–'} |", flush=True)


if __name__ == "__main__":
    main()
