"""The apps on the arXiv test split (7,855 papers; `embedlab pipeline configs/arxiv-minilm.yaml` makes the
split and the fine-tuned model): search (title → its own abstract; same-subject precision@10) for BM25,
dense and hybrid; clustering of the abstracts against their subjects (TF-IDF + k-means, the embeddings with
k-means and HDBSCAN, and BERTopic on the same embeddings when it is installed); matching (title → own
abstract, precision@1).

    .venv/bin/python benchmarks/apps_arxiv.py --splits runs/arxiv-minilm/data \
        --model base=all-MiniLM-L6-v2 --model finetuned=runs/arxiv-minilm/train/model
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from embedlab.apps.cluster import agreement, cluster_vectors, kmeans
from embedlab.apps.common import encode_texts
from embedlab.apps.match import match
from embedlab.data.arxiv import load_split
from embedlab.index import DocumentIndex
from embedlab.index.search import search_rows
from embedlab.runtime.encoder import load_encoder


def vectors_of(name: str, model: str, papers: list[dict], cache: Path) -> dict[str, np.ndarray]:
    """Title and abstract vectors of the papers, cached per model (encoding is the slow part)."""
    path = cache / f"{name}.npz"
    if path.is_file():
        with np.load(path) as saved:
            return {"title": saved["title"], "abstract": saved["abstract"]}
    encoder = load_encoder(model)
    out = {f: encode_texts(encoder, [p[f] for p in papers], f"{name} {f}s") for f in ("title", "abstract")}
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def search_metrics(index, papers, vectors, mode: str, k: int = 10) -> dict[str, float]:
    """Title → own abstract (recall@1, recall@10, MRR@10) and same-subject precision@10."""
    r1 = r10 = mrr = same = 0.0
    for row, paper in enumerate(papers):
        vector = vectors["title"][row] if vectors is not None else None
        hits = search_rows(index, vector=vector, text=paper["title"], k=k, mode=mode, where={}, exclude=None)
        ids = [h.id for h in hits]
        rank = ids.index(paper["id"]) + 1 if paper["id"] in ids else None
        r1 += rank == 1
        r10 += rank is not None
        mrr += 1 / rank if rank else 0
        same += sum(h.metadata["label"] == paper["label"] for h in hits) / k
    n = len(papers)
    return {
        k_: round(100 * v / n, 2)
        for k_, v in (("recall@1", r1), ("recall@10", r10), ("mrr@10", mrr), ("p@10 same subject", same))
    }


def run_search(papers, models: dict[str, dict]) -> list[dict]:
    docs = [{"id": p["id"], "text": p["abstract"], "label": p["label"]} for p in papers]
    rows = []
    bm25_done = False
    for name, vectors in models.items():
        index = DocumentIndex.build(vectors["abstract"], docs, model={"name": name}, bm25=True)
        modes = ["dense", "hybrid"] if bm25_done else ["bm25", "dense", "hybrid"]
        for mode in modes:
            started = time.perf_counter()
            metrics = search_metrics(index, papers, vectors if mode != "bm25" else None, mode)
            system = "BM25 (bm25s)" if mode == "bm25" else f"{mode} ({name})"
            rows.append(
                {
                    "system": system,
                    **metrics,
                    "queries/s": round(len(papers) / (time.perf_counter() - started)),
                }
            )
            print(rows[-1])
        bm25_done = True
    return rows


def run_clustering(papers, models: dict[str, dict], k: int, map_path: Path | None = None) -> list[dict]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    subjects = [p["label"] for p in papers]
    abstracts = [p["abstract"] for p in papers]
    rows = []
    started = time.perf_counter()
    tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2, max_df=0.5, stop_words="english").fit_transform(
        abstracts
    )
    from sklearn.decomposition import TruncatedSVD

    reduced = (
        TruncatedSVD(256, random_state=42).fit_transform(tfidf).astype(np.float32)
    )  # LSA: dense for k-means
    rows.append(
        {
            "system": "TF-IDF (LSA 256) + k-means",
            **agreement(kmeans(reduced, k), subjects),
            "seconds": round(time.perf_counter() - started, 1),
        }
    )
    print(rows[-1])
    for name, vectors in models.items():
        for method, options in (("k-means", {"k": k}), ("HDBSCAN", {"min_cluster_size": 30})):
            started = time.perf_counter()
            result = cluster_vectors(vectors["abstract"], abstracts, **options)
            if map_path is not None and method == "k-means" and name == list(models)[-1]:
                from embedlab.apps.cluster import cluster_map

                cluster_map(vectors["abstract"], result.labels, map_path)  # the last model's k-means
            rows.append(
                {
                    "system": f"embedlab cluster, {method} ({name})",
                    **agreement(result.labels, subjects),
                    "clusters": len(result.clusters),
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
            print(rows[-1])
        rows.append(bertopic_row(name, abstracts, vectors["abstract"], subjects))
        print(rows[-1])
    return rows


def bertopic_row(name: str, abstracts, vectors, subjects) -> dict:
    try:
        from bertopic import BERTopic
    except ImportError:
        return {"system": f"BERTopic ({name})", "note": "not installed"}
    started = time.perf_counter()
    topics, _ = BERTopic(calculate_probabilities=False).fit_transform(abstracts, embeddings=vectors)
    labels = np.asarray(topics)
    return {
        "system": f"BERTopic 0.17, same embeddings ({name})",
        **agreement(labels, subjects),
        "clusters": len(set(labels.tolist()) - {-1}),
        "seconds": round(time.perf_counter() - started, 1),
    }


def run_matching(papers, models: dict[str, dict]) -> list[dict]:
    rows = []
    for name, vectors in models.items():
        found = match(vectors["title"], vectors["abstract"], k=1, min_score=-1)
        p1 = np.mean([bool(m) and m[0].candidate == row for row, m in enumerate(found)])
        rows.append({"system": f"embedlab match ({name})", "precision@1": round(100 * float(p1), 2)})
        print(rows[-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", default="runs/arxiv-minilm/data")
    parser.add_argument("--model", action="append", default=[], help="NAME=MODEL (repeatable)")
    parser.add_argument("--cache", default="runs/apps-arxiv-vectors")
    parser.add_argument("--out", default="benchmarks/results/apps_arxiv.json")
    parser.add_argument(
        "--map", default="docs/images/cluster-map-arxiv.png", help="k-means map of the last model"
    )
    args = parser.parse_args()
    papers = load_split(args.splits, "test")
    models = {}
    for spec in args.model or ["base=all-MiniLM-L6-v2"]:
        name, _, model = spec.partition("=")
        models[name] = vectors_of(name, model, papers, Path(args.cache))
    k = len({p["label"] for p in papers})
    report = {
        "papers": len(papers),
        "subjects": k,
        "search": run_search(papers, models),
        "matching": run_matching(papers, models),
        "clustering": run_clustering(papers, models, k, Path(args.map) if args.map else None),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
