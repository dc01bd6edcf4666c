"""Retrieval on the built-in arXiv tasks (issue 36): models × modes (dense, BM25, hybrid) on the BEIR folders
`embedlab data retrieval` writes, with the time of each cell; then the speed goal on a 10,000-document task:
the int8 encoder's first evaluation (corpus encoded) and a rerun (corpus vectors cached).

    .venv/bin/python benchmarks/retrieval_table.py --tasks data/retrieval \
        [--models base=all-MiniLM-L6-v2] [--int8 runs/minilm] [--chunk]
    .venv/bin/python benchmarks/retrieval_table.py --int8 runs/minilm --memory 2500 5000 10000

`--memory`: each corpus size evaluated once (cold cache, int8) in a fresh process, with that process's peak
memory — flat in the corpus size when encoding streams (only the texts and the vectors grow with it).

Writes benchmarks/results/retrieval_table.json and prints markdown tables (×100).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from embedlab.data.beir import load_beir
from embedlab.evaluate.ir_metrics import evaluate_retrieval_task
from embedlab.hardware import machine_summary

SHOWN = ("ndcg@10", "mrr@10", "recall@10", "recall@100", "map@100")


def run_cell(model: str, task, mode: str, backend: str = "torch", long_documents: str = "truncate") -> dict:
    started = time.perf_counter()
    records = evaluate_retrieval_task(model, task, mode=mode, backend=backend, long_documents=long_documents,
                                      show_progress=False)  # fmt: skip
    row = {
        "task": task.name,
        "model": model,
        "mode": mode + ("+chunks" if long_documents == "chunk" else ""),
        "backend": backend,
        "seconds": round(time.perf_counter() - started, 1),
        **{r.metric: round(r.value, 2) for r in records},
    }
    print(json.dumps(row), flush=True)
    return row


def arxiv_task(documents: int):
    """Title → own abstract over the first `documents` arXiv papers."""
    import gzip
    from itertools import islice

    from embedlab.data.arxiv import arxiv_retrieval_tasks, default_arxiv_path

    with gzip.open(default_arxiv_path(), "rt", encoding="utf-8") as handle:
        papers = [json.loads(line) for line in islice(handle, documents)]
    return arxiv_retrieval_tasks(papers)[0]


def memory_curve(int8_model: str, sizes: list[int]) -> list[dict]:
    """Each size in a fresh process (`--one-size`): seconds and peak memory of a cold int8 evaluation."""
    import subprocess
    import sys

    rows = []
    for size in sizes:
        out = subprocess.run([sys.executable, __file__, "--int8", int8_model, "--one-size", str(size)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def one_size(int8_model: str, size: int) -> None:
    import os

    task = arxiv_task(size)
    text_mb = sum(len(t) for t in task.corpus.values()) / 1e6
    with tempfile.TemporaryDirectory() as cache:
        os.environ["EMBEDLAB_CACHE_DIR"] = cache
        cell = run_cell(int8_model, task, "dense", "onnx-int8")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"documents": size, "seconds": cell["seconds"], "peak_rss_mb": round(peak),
                      "corpus_text_mb": round(text_mb, 1), "ndcg@10": cell["ndcg@10"]}))  # fmt: skip


def speed_goal(int8_model: str) -> dict:
    """10,000 arXiv papers (title → own abstract): int8 first run, then the rerun with cached vectors."""
    task = arxiv_task(10_000)
    with tempfile.TemporaryDirectory() as cache:
        import os

        os.environ["EMBEDLAB_CACHE_DIR"] = cache  # a cold cache for the first run
        first = run_cell(int8_model, task, "dense", "onnx-int8")
        again = run_cell(int8_model, task, "dense", "onnx-int8")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"documents": len(task.corpus), "first_s": first["seconds"], "cached_s": again["seconds"],
            "peak_rss_mb": round(peak), "ndcg@10": first["ndcg@10"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="data/retrieval", help="`embedlab data retrieval`'s folder")
    parser.add_argument("--models", nargs="*", default=["base=all-MiniLM-L6-v2"], help="NAME=MODEL")
    parser.add_argument("--int8", default=None, help="an --int8 export, for the speed goal")
    parser.add_argument("--chunk", action="store_true", help="also dense with long documents chunked")
    parser.add_argument(
        "--memory", nargs="+", type=int, help="corpus sizes for the memory curve (with --int8)"
    )
    parser.add_argument(
        "--one-size", type=int, help=argparse.SUPPRESS
    )  # one cell of --memory, in its process
    parser.add_argument("--speed-only", action="store_true", help="only the 10,000-document speed goal")
    args = parser.parse_args()
    if args.one_size:
        return one_size(args.int8, args.one_size)
    if args.memory:
        rows = memory_curve(args.int8, args.memory)
        Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
        Path("benchmarks/results/retrieval_memory.json").write_text(
            json.dumps({"machine": machine_summary(), "rows": rows}, indent=2)
        )
        return None
    if args.speed_only:
        print(json.dumps(speed_goal(args.int8)))
        return None
    tasks = [load_beir(folder) for folder in sorted(Path(args.tasks).iterdir()) if folder.is_dir()]
    rows = []
    for task in tasks:
        rows.append(run_cell("bm25", task, "bm25"))
        for entry in args.models:
            name, _, model = entry.partition("=")
            for mode in ("dense", "hybrid"):
                rows.append({**run_cell(model, task, mode), "model": name})
            if args.chunk:
                rows.append({**run_cell(model, task, "dense", long_documents="chunk"), "model": name})
    speed = speed_goal(args.int8) if args.int8 else None
    out = Path("benchmarks/results/retrieval_table.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine_summary(), "rows": rows, "speed": speed}, indent=2))
    print(f"\n{machine_summary()}\n")
    for task in tasks:
        print(f"\n{task.name} ({len(task.qrels):,} queries, {len(task.corpus):,} documents)\n")
        print("| system | " + " | ".join(SHOWN) + " | seconds |\n|" + "---|" * (len(SHOWN) + 2))
        for row in (r for r in rows if r["task"] == task.name):
            label = "BM25" if row["mode"] == "bm25" else f"{row['model']} {row['mode']}"
            print(f"| {label} | " + " | ".join(f"{row[m]:.2f}" for m in SHOWN) + f" | {row['seconds']} |")
    if speed:
        print(f"\nspeed goal: {json.dumps(speed)}")


if __name__ == "__main__":
    main()
