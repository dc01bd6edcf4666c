"""Compressed vectors (issue 37): float, int8 + rescoring, binary + rescoring, Matryoshka 256 / 128.

1. On the built-in arXiv tasks (`embedlab data retrieval`): nDCG@10 and recall@10 against float exact search,
   with the model's real vectors (cached by the retrieval evaluation: a rerun encodes nothing).
2. At scale: `--n` vectors shaped like those real ones (k-means centres plus their residuals' covariance,
   as `benchmarks/index_recall.py --like` makes them): bytes per vector in memory, the process's anonymous
   memory after loading and searching (the memory-mapped rescoring files are page cache, not the index's),
   recall@10 against float exact search, queries/s — each index built, saved and searched as
   `embedlab index build` / `index search` do it, then loaded in a fresh process.

    EMBEDLAB_DATA_DIR=../shared/data .venv/bin/python benchmarks/compression.py --tasks data/retrieval \
        [--model all-MiniLM-L6-v2] [--n 1000000] [--queries 1000] [--systems "binary + rescore (int8)"] \
        [--scale-only]

Writes benchmarks/results/compression.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from embedlab.hardware import machine_summary

SYSTEMS = {  # name: (vectors_precision, dims, kind)
    "float flat": ("float", None, "flat"),
    "int8 + rescore (float16)": ("int8", None, "flat"),
    "binary + rescore (int8)": ("binary", None, "flat"),
    "Matryoshka 256, float": ("float", 256, "flat"),
    "Matryoshka 128, float": ("float", 128, "flat"),
}
BYTES = {"float": 4, "int8": 1, "binary": 1 / 8}  # in memory, per dimension


def task_vectors(model: str, task):
    from embedlab.evaluate.ir_metrics import cached_vectors
    from embedlab.runtime.encoder import load_encoder

    encoder = load_encoder(model, "torch")
    encode = lambda texts: lambda: encoder.encode(list(texts.values()), 64)  # noqa: E731
    return cached_vectors(encoder, task.corpus, encode(task.corpus)), cached_vectors(
        encoder, task.queries, encode(task.queries)
    )


def on_tasks(folder: str, model: str) -> list[dict]:
    """nDCG@10 of each system on each task, and its recall@10 against float exact search."""
    from embedlab.data.beir import load_beir
    from embedlab.evaluate.ir_metrics import mean_measures
    from embedlab.index import DocumentIndex

    rows = []
    for path in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        task = load_beir(path)
        corpus, queries = task_vectors(model, task)
        ids, names = list(task.corpus), list(task.queries)
        docs = [{"id": i, "text": ""} for i in ids]
        exact = None
        for system, (precision, dims, kind) in SYSTEMS.items():
            index = DocumentIndex.build(
                corpus, docs, model=model, kind=kind, vectors_precision=precision, dims=dims
            )
            found = index.search(index.fit_width(queries), k=100)
            rankings = {q: [h.document["id"] for h in hits] for q, hits in zip(names, found, strict=True)}
            exact = exact or rankings
            recall = np.mean([len(set(rankings[q][:10]) & set(exact[q][:10])) / 10 for q in names])
            measures = mean_measures(rankings, task.qrels)
            rows.append({"task": task.name, "system": system, "ndcg@10": round(100 * measures["ndcg@10"], 2),
                         "recall@10 vs float": round(float(recall), 4)})  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    return rows


MEASURE = """
import json, resource, sys, time
import numpy as np, faiss
from embedlab.index import DocumentIndex
faiss.omp_set_num_threads(int(sys.argv[3]))
def anon():
    return int(next(l for l in open("/proc/self/status") if l.startswith("RssAnon")).split()[1]) // 1024
before = anon()
index = DocumentIndex.load(sys.argv[1])
queries = np.load(sys.argv[2])
loaded = anon()
index.search(index.fit_width(queries[:10]), k=10)
started = time.perf_counter()
found = index.search(index.fit_width(queries), k=10)
seconds = time.perf_counter() - started
rows = [[int(h.document["id"]) for h in hits] for hits in found]
print(json.dumps({"qps": len(queries) / seconds, "index_mb": loaded - before,
                  "after_search_mb": anon() - before, "rows": rows}))
"""


def at_scale(
    real: np.ndarray, n: int, queries: int, threads: int, model: str, systems: list[str]
) -> list[dict]:
    """Each system built on `n` real-shaped vectors, saved, then loaded and searched in a fresh process."""
    import faiss

    from embedlab.index.store import create_index

    sys.path.insert(0, str(Path(__file__).parent))
    from index_recall import RealShaped

    make = RealShaped(real)
    base, asked = make(n, real.shape[1], 1000, seed=1), make(queries, real.shape[1], 1000, seed=2)
    truth = faiss.knn(asked, base, 10, metric=faiss.METRIC_INNER_PRODUCT)[1]
    docs = [{"id": str(i), "text": ""} for i in range(n)]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        np.save(Path(work) / "queries.npy", asked)
        for system in systems:
            precision, dims, kind = SYSTEMS[system]
            folder = Path(work) / system.replace(" ", "_").replace("(", "").replace(")", "")
            started = time.perf_counter()
            create_index(folder, base, docs, model=model, kind=kind, vectors_precision=precision, dims=dims)
            build = time.perf_counter() - started
            out = subprocess.run([sys.executable, "-c", MEASURE, str(folder), str(Path(work) / "queries.npy"),
                                  str(threads)], capture_output=True, text=True, check=True)  # fmt: skip
            measured = json.loads(out.stdout.strip().splitlines()[-1])
            found = np.array(measured.pop("rows"))
            recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
            disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / n
            width = dims or real.shape[1]
            manifest = json.loads((folder / "manifest.json").read_text())
            rows.append({"system": system, "bytes/vector in memory": width * BYTES[precision],
                         "bytes/vector on disk": round(disk), "index RAM MB": measured["index_mb"],
                         "RAM after search MB": measured["after_search_mb"],
                         "recall@10 vs float": round(float(recall), 4), "queries/s": round(measured["qps"]),
                         "build s": round(build, 1),
                         "rescore multiplier": manifest.get("rescore_multiplier", "–")})  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="data/retrieval", help="`embedlab data retrieval`'s folder")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors at scale (0: skip)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS), help="at scale")
    parser.add_argument("--scale-only", action="store_true", help="skip the arXiv task table")
    args = parser.parse_args()
    quality = [] if args.scale_only else on_tasks(args.tasks, args.model)
    from embedlab.data.beir import load_beir

    first = load_beir(sorted(p for p in Path(args.tasks).iterdir() if p.is_dir())[0])
    real = task_vectors(args.model, first)[0]
    scale = at_scale(real, args.n, args.queries, args.threads, args.model, args.systems) if args.n else []
    out = Path("benchmarks/results/compression.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine_summary(), "tasks": quality, "scale": scale}, indent=2))
    print(f"\n{machine_summary()}\n\n| task | system | nDCG@10 | recall@10 vs float |\n|---|---|---|---|")
    for row in quality:
        print(f"| {row['task']} | {row['system']} | {row['ndcg@10']:.2f} | {row['recall@10 vs float']:.3f} |")
    if scale:
        headers = list(scale[0])
        print(f"\n{args.n:,} vectors\n\n| " + " | ".join(headers) + " |\n|" + "---|" * len(headers))
        for row in scale:
            print("| " + " | ".join(str(row[h]) for h in headers) + " |")


if __name__ == "__main__":
    main()
