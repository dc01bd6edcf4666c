"""Milvus Lite against FAISS flat on real vectors: recall@10 (exact = FAISS flat) and queries/s, through
embedlab's own index (`DocumentIndex`), so what is measured is what `index search` and `/search` do.

    .venv/bin/python benchmarks/milvus_vs_faiss.py --vectors runs/bench-embed/arxiv-titles --queries 1000

The vectors folder is what `embedlab embed` wrote (here: the 78,545 arXiv titles); `--queries` of them are
held out as queries and the rest indexed. Queries/s are measured one query per call (a service's case)
and in one batch.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from embedlab.embed import read_vectors
from embedlab.index import DocumentIndex, create_index, milvus_settings


def measure(index: DocumentIndex, queries: np.ndarray, truth: list[list[str]] | None) -> dict:
    started = time.perf_counter()
    for query in queries[:200]:
        index.search(query[None, :], 10)
    single = 200 / (time.perf_counter() - started)
    started = time.perf_counter()
    hits = index.search(queries, 10)
    batch = len(queries) / (time.perf_counter() - started)
    found = [[h.document["id"] for h in row] for row in hits]
    recall = (
        1.0
        if truth is None
        else float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))
    )
    return {
        "single_qps": round(single, 1),
        "batch_qps": round(batch, 1),
        "recall_at_10": round(recall, 4),
    }, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", default="runs/bench-embed/arxiv-titles")
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    vectors, documents, manifest = read_vectors(args.vectors)
    for document in documents:
        document.setdefault("text", document.get("title", ""))
    held = np.random.default_rng(0).permutation(len(vectors))
    queries = vectors[held[: args.queries]]
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    rest = np.sort(held[args.queries :])
    base, docs = vectors[rest], [documents[i] for i in rest]
    work = Path(tempfile.mkdtemp(prefix="milvus-bench-"))
    report = {"vectors": args.vectors, "indexed": len(base), "queries": len(queries), "rows": []}
    truth = None
    for name, options in [
        ("faiss flat", {}),
        ("milvus lite FLAT", {"milvus": milvus_settings(work / "m-flat", None, None)}),
        ("faiss hnsw", {"kind": "hnsw"}),
        ("milvus lite HNSW", {"kind": "hnsw", "milvus": milvus_settings(work / "m-hnsw", None, None)}),
    ]:
        folder = work / name.replace(" ", "-")
        if "milvus" in options:
            folder = Path(options["milvus"]["uri"]).parent
        started = time.perf_counter()
        try:
            create_index(folder, base, docs, model=manifest["model"], **options)
        except Exception as error:
            report["rows"].append({"index": name, "error": str(error)[:200]})
            print(report["rows"][-1], flush=True)
            continue
        build = time.perf_counter() - started
        index = DocumentIndex.load(folder)
        figures, found = measure(index, queries, truth)
        truth = truth or found
        row = {"index": name, "build_s": round(build, 1), **figures}
        print(json.dumps(row), flush=True)
        report["rows"].append(row)
    out = Path("benchmarks/results/milvus_vs_faiss.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
