"""Topics without tuning (issue 38): `cluster_vectors` with no options (k chosen by silhouette) against a
fixed k and HDBSCAN, on all-MiniLM-L6-v2's vectors of the 7,855 arXiv test abstracts (the retrieval cache:
`benchmarks/compression.py` or `eval --tasks retrieval:data/retrieval/arxiv-title-abstract` fills it), scored
against the papers' subjects: clusters, share of outliers, V-measure / ARI / NMI (×100), seconds.

    EMBEDLAB_DATA_DIR=../shared/data .venv/bin/python benchmarks/cluster_defaults.py --tasks data/retrieval
    # beside BERTopic's defaults on the same vectors (BERTopic and umap-learn on PYTHONPATH, e.g.
    # `pip install --target /tmp/btlib bertopic umap-learn pynndescent numba llvmlite --no-deps`):
    PYTHONPATH=/tmp/btlib ... benchmarks/cluster_defaults.py --bertopic
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
    parser.add_argument(
        "--bertopic", action="store_true", help="also BERTopic's defaults on the same vectors"
    )
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
    if args.bertopic:
        print(json.dumps(bertopic_row(vectors, texts, truth)), flush=True)


def bertopic_row(vectors, texts: list[str], truth: list[str]) -> dict:
    """BERTopic() as a user starts it (UMAP to 5-d, HDBSCAN min_cluster_size 10), given the same vectors."""
    import numpy as np
    from bertopic import BERTopic

    started = time.perf_counter()
    topics, _ = BERTopic(verbose=False).fit_transform(texts, embeddings=vectors)
    labels = np.asarray(topics)
    return {"options": "BERTopic() defaults", "method": "UMAP + HDBSCAN",
            "clusters": len(set(labels.tolist()) - {-1}), "outliers": round(float((labels == -1).mean()), 3),
            **agreement(labels, truth), "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


if __name__ == "__main__":
    main()
