"""Recall@10 of the approximate FAISS kinds against exact search, and queries/s, at their tuned effort.

Usage:
  .venv/bin/python benchmarks/index_recall.py [--n 1000000] [--dim 384] [--queries 1000] [--target 0.95]
  .venv/bin/python benchmarks/index_recall.py --vectors embeddings.npy [--queries 1000]   # real embeddings

Synthetic vectors are clustered (1,000 centres) and queries come from the same centres, as new documents of
a corpus would. With --vectors, a random `--queries` rows are held out as queries and the rest indexed.
Each approximate index is built and tuned exactly as `embedlab index build` does it (`build_tuned`),
then measured on the held-out queries. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np

from embedlab.index.faiss_build import build_tuned
from embedlab.io import l2_normalise as _normalised


def clustered_vectors(n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).standard_normal((clusters, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, clusters, n)] + 0.5 * rng.standard_normal((n, dim)).astype(np.float32)
    return _normalised(vectors)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--vectors", help="a .npy of real embeddings instead of synthetic vectors")
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    if args.vectors:
        real = _normalised(np.load(args.vectors))
        held_out = np.random.default_rng(0).permutation(len(real))
        queries, base = real[held_out[: args.queries]], real[held_out[args.queries :]]
        source = args.vectors
    else:
        base = clustered_vectors(args.n, args.dim, clusters=1000, seed=1)
        queries = clustered_vectors(args.queries, args.dim, clusters=1000, seed=2)
        source = "synthetic, 1,000 clusters"
    print(
        f"{len(base):,} × {base.shape[1]} vectors ({source}), {len(queries)} queries, {args.threads} threads"
    )
    print(f"approximate kinds tuned for recall@10 ≥ {args.target}")
    print("| kind | build + tune s | queries/s | recall@10 vs flat | parameters |")
    print("|---|---|---|---|---|")
    truth = None
    for kind in ("flat", "ivf", "hnsw"):
        started = time.perf_counter()
        index, parameters, order = build_tuned(kind, base, target_recall=args.target)
        build = time.perf_counter() - started
        started = time.perf_counter()
        _, found = index.search(queries, 10)
        found = np.where(found >= 0, order[found], -1)  # back to positions in `base`
        qps = len(queries) / (time.perf_counter() - started)
        if truth is None:
            truth = found
        recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
        shown = {k: v for k, v in parameters.items() if k != "target_recall"}
        print(f"| {kind} | {build:.1f} | {qps:,.0f} | {recall:.3f} | {shown or '–'} |", flush=True)


if __name__ == "__main__":
    main()
