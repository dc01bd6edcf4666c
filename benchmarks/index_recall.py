"""Recall@10 of the approximate FAISS kinds against exact search, and queries/s, at their tuned effort.

Usage:
  .venv/bin/python benchmarks/index_recall.py [--n 1000000] [--dim 384] [--queries 1000] [--target 0.95]
  .venv/bin/python benchmarks/index_recall.py --vectors runs/vectors [--queries 1000]   # real embeddings
  /usr/bin/time -v .venv/bin/python benchmarks/index_recall.py --n 10000000 --kinds ivfpq [--opq]
      [--pq-bytes 96] [--like runs/vectors]

Synthetic vectors are clustered (1,000 centres) and queries come from the same centres, as new documents of
a corpus would: by default the centres are random and the noise around them isotropic (the hardest case for
product quantisation); with --like (an `embedlab embed` folder or a .npy) the centres are k-means centres
of those real embeddings and the noise has their residuals' covariance — vectors shaped like real ones, as
many as wanted. With --vectors (an `embedlab embed` folder or a .npy) the real vectors themselves are used:
a random `--queries` rows are held out as queries and the rest indexed.
Each index is built and tuned exactly as `embedlab index build` does it (`build_tuned`), then measured on
the held-out queries. Prints a markdown table.

Above 2M vectors (ivfpq only) nothing holds all vectors in memory: they are made, added and written to disk
(float16, the re-ranking copy) in chunks of 500k, the exact top-10 is merged chunk by chunk, and the effort
is tuned (`tune_effort`) on one set of queries and measured on another.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from embedlab.embed import read_vectors
from embedlab.index.faiss_build import (
    PQSettings,
    Reranked,
    build_tuned,
    ivf_lists,
    new_ivfpq,
    pq_subquantizers,
    tune_effort,
)
from embedlab.io import l2_normalise as _normalised

CHUNK = 500_000


def clustered_vectors(n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).standard_normal((clusters, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, clusters, n)] + 0.5 * rng.standard_normal((n, dim)).astype(np.float32)
    return _normalised(vectors)


def load_real(path: str) -> np.ndarray:
    """Normalised vectors from an `embedlab embed` folder or a .npy file."""
    return _normalised(read_vectors(path)[0] if Path(path).is_dir() else np.load(path))


class RealShaped:
    """Synthetic vectors shaped like `real` ones: a k-means centre of the real vectors (chosen as often as
    its cluster is), plus Gaussian noise with the covariance of the real vectors' residuals to their centres.
    """

    def __init__(self, real: np.ndarray, clusters: int = 1000) -> None:
        kmeans = faiss.Kmeans(real.shape[1], clusters, niter=20, seed=0, spherical=True)
        kmeans.train(real)
        assigned = kmeans.index.search(real, 1)[1][:, 0]
        residuals = real - kmeans.centroids[assigned]
        values, vectors = np.linalg.eigh(np.cov(residuals, rowvar=False))
        self.factor = (vectors * np.sqrt(values.clip(min=0))).astype(np.float32)  # noise = g @ factor.T
        self.centres = kmeans.centroids
        self.weights = np.bincount(assigned, minlength=clusters) / len(real)

    def __call__(self, n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(self.centres), n, p=self.weights)
        noise = rng.standard_normal((n, dim), dtype=np.float32) @ self.factor.T
        return _normalised(self.centres[chosen] + noise)


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))


def in_memory(args) -> None:
    if args.vectors:
        real = load_real(args.vectors)
        held_out = np.random.default_rng(0).permutation(len(real))
        queries, base = real[held_out[: args.queries]], real[held_out[args.queries :]]
        source = args.vectors
    else:
        base = args.make(args.n, args.dim, 1000, seed=1)
        queries = args.make(args.queries, args.dim, 1000, seed=2)
        source = args.source
    print(
        f"{len(base):,} × {base.shape[1]} vectors ({source}), {len(queries)} queries, {args.threads} threads"
    )
    print(f"approximate kinds tuned for recall@10 ≥ {args.target}")
    print("| kind | build + tune s | queries/s | recall@10 vs flat | parameters |")
    print("|---|---|---|---|---|")
    truth = faiss.knn(queries, base, 10, metric=faiss.METRIC_INNER_PRODUCT)[1]
    for kind in args.kinds:
        started = time.perf_counter()
        index, parameters, order = build_tuned(kind, base, target_recall=args.target, pq=args.pq)
        build = time.perf_counter() - started
        started = time.perf_counter()
        _, found = index.search(queries, 10)
        qps = len(queries) / (time.perf_counter() - started)
        found = np.where(found >= 0, order[found], -1)  # back to positions in `base`
        shown = {k: v for k, v in parameters.items() if k != "target_recall"}
        print(
            f"| {kind} | {build:.1f} | {qps:,.0f} | {recall_at_10(found, truth):.3f} | {shown or '–'} |",
            flush=True,
        )


def exact_top10(queries: np.ndarray, n: int, dim: int, make) -> np.ndarray:
    """The exact top-10 of each query over all chunks, merged as they are made again (same seeds)."""
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_rows = np.full((len(queries), 10), -1, dtype=np.int64)
    for number, start in enumerate(range(0, n, CHUNK)):
        chunk = make(min(CHUNK, n - start), dim, 1000, seed=100 + number)
        scores, rows = faiss.knn(queries, chunk, 10, metric=faiss.METRIC_INNER_PRODUCT)
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_rows = np.concatenate([best_rows, rows + start], axis=1)
        top = np.argsort(-merged_scores, axis=1)[:, :10]
        best_scores = np.take_along_axis(merged_scores, top, axis=1)
        best_rows = np.take_along_axis(merged_rows, top, axis=1)
    return best_rows


def chunked_ivfpq(args) -> None:
    n, dim = args.n, args.dim
    nlist = ivf_lists(n)
    make = args.make
    print(f"{n:,} × {dim} vectors ({args.source}), made in chunks of {CHUNK:,}; {args.threads} threads")
    started = time.perf_counter()
    index = new_ivfpq(dim, nlist, args.pq)
    index.train(make(max(64 * nlist, 10_000), dim, 1000, seed=99))
    trained = time.perf_counter() - started
    folder = Path(tempfile.mkdtemp(prefix="ivfpq-", dir=args.workdir))
    full_path = folder / "vectors.f16"
    with full_path.open("wb") as full:
        for number, start in enumerate(range(0, n, CHUNK)):
            chunk = make(min(CHUNK, n - start), dim, 1000, seed=100 + number)
            index.add(chunk)
            full.write(chunk.astype(np.float16).tobytes())
            print(f"  added {start + len(chunk):,} ({time.perf_counter() - started:.0f} s)", flush=True)
    built = time.perf_counter() - started
    faiss.write_index(index, str(folder / "index.faiss"))
    codes_mb = (folder / "index.faiss").stat().st_size / 1e6
    reranked = Reranked(index, np.memmap(full_path, dtype=np.float16, mode="r", shape=(n, dim)))
    tuning = make(args.queries, dim, 1000, seed=2)
    measured = make(args.queries, dim, 1000, seed=3)
    started = time.perf_counter()
    truth = exact_top10(np.concatenate([tuning, measured]), n, dim, make)
    truth_tuning, truth_measured = truth.reshape(2, -1, 10)
    print(
        f"  exact top-10 of {2 * args.queries} queries in {time.perf_counter() - started:.0f} s", flush=True
    )
    started = time.perf_counter()
    tuned = tune_effort(reranked, "ivfpq", tuning, truth_tuning, target_recall=args.target)
    print(f"  tuned in {time.perf_counter() - started:.0f} s: {tuned}", flush=True)
    started = time.perf_counter()
    _, found = reranked.search(measured, 10)
    qps = len(measured) / (time.perf_counter() - started)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    anon_gb, file_gb = (int(status[k].split()[0]) / 1e6 for k in ("RssAnon", "RssFile"))
    print(
        "| kind | vectors | lists | code bytes | OPQ | nprobe | re-rank depth | train s | build s "
        "| index file MB | re-rank file GB (disk) | queries/s | recall@10 (other queries) | peak RSS GB "
        "| at the end: anonymous / file-backed (the mapped re-rank file) GB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| ivfpq | {n:,} | {nlist} | {pq_subquantizers(dim, args.pq.code_bytes)} | {args.pq.opq} | "
        f"{tuned['nprobe']} | "
        f"{tuned['rerank_depth']} | {trained:.0f} | {built:.0f} | {codes_mb:,.0f} | "
        f"{full_path.stat().st_size / 1e9:.1f} | {qps:,.0f} | {recall_at_10(found, truth_measured):.3f} | "
        f"{peak_gb:.2f} | {anon_gb:.2f} / {file_gb:.2f} |"
    )
    for path in (full_path, folder / "index.faiss"):
        path.unlink()
    folder.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--vectors", help="real embeddings (embed folder or .npy) instead of synthetic ones")
    parser.add_argument("--like", help="real embeddings (embed folder or .npy) the synthetic ones imitate")
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--kinds", nargs="+", default=["flat", "ivf", "hnsw", "ivfpq"])
    parser.add_argument("--opq", action="store_true", help="ivfpq: OPQ rotation before quantising")
    parser.add_argument("--pq-bytes", type=int, help="ivfpq: bytes per code (default: width/8)")
    parser.add_argument("--workdir", default=None, help="where the 10M run keeps its float16 vectors")
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    args.pq = PQSettings(code_bytes=args.pq_bytes, opq=args.opq)
    args.make, args.source = clustered_vectors, "synthetic, 1,000 random centres, isotropic noise"
    if args.like:
        real = load_real(args.like)
        args.make, args.dim = RealShaped(real), real.shape[1]
        args.source = f"synthetic, shaped like the {len(real):,} vectors of {args.like}"
    if args.n > 2_000_000 and not args.vectors:
        if args.kinds != ["ivfpq"]:
            parser.error("above 2M vectors only --kinds ivfpq runs (the others need every vector in memory)")
        chunked_ivfpq(args)
    else:
        in_memory(args)


if __name__ == "__main__":
    main()
