"""Topics without tuning (issue 38): `cluster_vectors` with no options (k chosen by silhouette) against a
fixed k and HDBSCAN, on all-MiniLM-L6-v2's vectors of the 7,855 arXiv test abstracts (the retrieval cache:
`benchmarks/compression.py` or `eval --tasks retrieval:data/retrieval/arxiv-title-abstract` fills it), scored
against the papers' subjects: clusters, share of outliers, V-measure / ARI / NMI (×100), seconds.

    EMBEDLAB_DATA_DIR=../shared/data .venv/bin/python benchmarks/cluster_defaults.py --tasks data/retrieval
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from embedlab.apps.cluster import agreement, cluster_vectors
from embedlab.data.arxiv import default_prepared_dir, load_split
from embedlab.data.beir import load_beir
from embedlab.hardware import machine_summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="data/retrieval", help="`embedlab data retrieval`'s folder")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from compression import task_vectors

    task = load_beir(Path(args.tasks) / "arxiv-title-abstract")
    vectors, _ = task_vectors(args.model, task)
    subjects = {p["id"]: p["label"] for p in load_split(default_prepared_dir(), "test")}
    truth = [subjects[i] for i in task.corpus]
    texts = list(task.corpus.values())
    print(machine_summary())
    for options in ({}, {"k": len(set(truth))}, {"min_cluster_size": 30}):
        started = time.perf_counter()
        result = cluster_vectors(vectors, texts, **options)
        row = {"options": options or "none (default)", "method": result.method,
               "clusters": len(result.clusters), "outliers": round(float((result.labels == -1).mean()), 3),
               **agreement(result.labels, truth),
               "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
