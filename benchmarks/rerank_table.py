"""Reranking on the built-in arXiv tasks (issue 37): dense, hybrid, dense + rerank and hybrid + rerank for
each retriever, on a seeded sample of each task's queries (a cross-encoder reads every (query, candidate)
pair: all 7,855 queries × 50 candidates would take hours on 2 cores), then the latency of reranking one
query's 50 candidates with the reranker on each backend (torch fp32, and the ONNX int8 file of
`embedlab export onnx RERANKER --int8`) on this machine. The table is scored with the first backend.

    EMBEDLAB_DATA_DIR=../shared/data .venv/bin/python benchmarks/rerank_table.py --tasks data/retrieval \
        --reranker runs/reranker-arxiv-minilm/model [--models base=all-MiniLM-L6-v2] [--queries 500] \
        [--backends torch onnx-int8]   # --queries 0: latency only

Writes benchmarks/results/rerank_table.json and prints markdown tables (×100).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from embedlab.data.beir import RetrievalTask, load_beir
from embedlab.evaluate.ir_metrics import evaluate_retrieval_task
from embedlab.hardware import machine_summary
from embedlab.models.cross_encoder import score_pairs
from embedlab.runtime.reranker import RERANKER_BACKENDS, load_reranker

SHOWN = ("ndcg@10", "mrr@10", "recall@10", "recall@100")


def sample(task: RetrievalTask, count: int, seed: int = 42) -> RetrievalTask:
    """`count` of the task's queries (seeded), all its documents: the same sample for every system."""
    chosen = sorted(random.Random(seed).sample(sorted(task.qrels), min(count, len(task.qrels))))
    return RetrievalTask(task.name, task.split, {q: task.queries[q] for q in chosen}, task.corpus,
                         {q: task.qrels[q] for q in chosen})  # fmt: skip


def cells(model: str, name: str, task: RetrievalTask, reranker, depth: int, cache: dict) -> list[dict]:
    rows = []
    for mode in ("dense", "hybrid"):
        started = time.perf_counter()
        records = evaluate_retrieval_task(model, task, mode=mode, show_progress=False, rerank=reranker,
                                          rerank_depth=depth, rerank_cache=cache)  # fmt: skip
        seconds = round(time.perf_counter() - started, 1)
        for reranked in (False, True):
            figures = {r.metric: round(r.value, 2) for r in records
                       if r.task.endswith("+rerank") == reranked and r.metric in SHOWN}  # fmt: skip
            system = f"{name} {mode}" + (f" + rerank {depth}" if reranked else "")
            rows.append({"task": task.name, "system": system, "seconds": seconds, **figures})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def latency(task: RetrievalTask, reranker, depth: int, queries: int = 20) -> dict:
    """Milliseconds to score one query's `depth` candidates (its judged documents first, then others), the
    median (and min–max) over `queries` queries, after one warm-up."""
    ids = list(task.corpus)
    timings = []
    for number, query in enumerate(list(task.qrels)[: queries + 1]):
        candidates = (list(task.qrels[query]) + ids[number * depth :])[:depth]
        pairs = [(task.queries[query], task.corpus[d]) for d in candidates]
        started = time.perf_counter()
        score_pairs(pairs, reranker, batch_size=depth)
        if number:  # the first is the warm-up
            timings.append((time.perf_counter() - started) * 1000)
    return {
        "depth": depth,
        "median_ms": round(statistics.median(timings), 1),
        "min_ms": round(min(timings), 1),
        "max_ms": round(max(timings), 1),
        "queries": len(timings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="data/retrieval", help="`embedlab data retrieval`'s folder")
    parser.add_argument("--reranker", required=True, help="a CrossEncoder folder")
    parser.add_argument("--models", nargs="*", default=["base=all-MiniLM-L6-v2"], help="NAME=MODEL")
    parser.add_argument("--queries", type=int, default=500, help="queries sampled from each task")
    parser.add_argument("--depth", type=int, default=50, help="candidates reranked per query")
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx-int8"], choices=RERANKER_BACKENDS)
    args = parser.parse_args()
    rerankers = {backend: load_reranker(args.reranker, backend, device="cpu") for backend in args.backends}
    folders = [f for f in sorted(Path(args.tasks).iterdir()) if f.is_dir()]
    tasks = [sample(load_beir(f), max(args.queries, 21)) for f in folders]
    cache: dict = {}  # the two arXiv tasks share queries and documents: each pair is scored once
    rows = []
    for task in tasks if args.queries else []:
        for entry in args.models:
            name, _, model = entry.partition("=")
            rows += cells(model, name, task, rerankers[args.backends[0]], args.depth, cache)
    timing = {backend: latency(tasks[0], reranker, args.depth) for backend, reranker in rerankers.items()}
    out = Path("benchmarks/results/rerank_table.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine_summary(), "reranker": args.reranker, "rows": rows,
                               "table_backend": args.backends[0], "latency": timing}, indent=2))  # fmt: skip
    print(f"\n{machine_summary()}\n")
    for task in tasks:
        print(f"\n{task.name} ({len(task.qrels):,} sampled queries, {len(task.corpus):,} documents)\n")
        print("| system | " + " | ".join(SHOWN) + " |\n|" + "---|" * (len(SHOWN) + 1))
        for row in (r for r in rows if r["task"] == task.name):
            print(f"| {row['system']} | " + " | ".join(f"{row[m]:.2f}" for m in SHOWN) + " |")
    print(f"\nlatency: {json.dumps(timing)}")


if __name__ == "__main__":
    main()
