"""Clustering: k-means (FAISS, spherical) or HDBSCAN (scikit-learn's) over unit embeddings; each cluster gets
keywords (class-based TF-IDF over its documents, as BERTopic computes them) and its most central documents;
a 2-D map (t-SNE) coloured by cluster.

`embedlab cluster DOCS --model M (--k N | --min-cluster-size N) --out DIR` is this module on a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embedlab.errors import EmbedlabError

KIND = "cluster result"  # the kind of folder `write_clustering` makes (embedlab.io ownership)
NOISE = -1  # HDBSCAN's label for documents in no cluster


@dataclass
class Cluster:
    """One cluster: its size, keywords and the rows of its most central documents."""

    label: int
    size: int
    keywords: list[str]
    central: list[int]


@dataclass
class Clustering:
    """Every row's cluster (−1: noise, HDBSCAN only), its cosine to the cluster centre, and the clusters.

    Example::

        result = cluster_vectors(vectors, k=8)
        result.labels[:5], result.clusters[0].keywords
    """

    labels: np.ndarray
    scores: np.ndarray
    clusters: list[Cluster] = field(default_factory=list)
    method: str = "kmeans"


def kmeans(vectors: np.ndarray, k: int, seed: int = 42) -> np.ndarray:
    """Spherical k-means with FAISS (centroids kept on the unit sphere, cosine assignment).

    Example::

        labels = kmeans(vectors, k=10)
    """
    import faiss

    if not 1 <= k <= len(vectors):
        raise EmbedlabError(f"k={k}: choose between 1 and the number of documents ({len(vectors):,})")
    # nredo=5: one run often stops in a poor local optimum, so the best of five starts is kept;
    # min_points_per_centroid=1: small collections are clustered without a warning
    model = faiss.Kmeans(
        vectors.shape[1],
        k,
        niter=25,
        nredo=5,
        seed=seed,
        spherical=True,
        verbose=False,
        min_points_per_centroid=1,
    )
    model.train(np.ascontiguousarray(vectors, dtype=np.float32))
    return model.index.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)[1][:, 0]


def hdbscan(vectors: np.ndarray, min_cluster_size: int, seed: int = 42) -> np.ndarray:
    """HDBSCAN on a 50-d PCA of the vectors (density estimates degrade in hundreds of dimensions); −1 = noise.

    Example::

        labels = hdbscan(vectors, min_cluster_size=15)
    """
    from sklearn.cluster import HDBSCAN
    from sklearn.decomposition import PCA

    if not 2 <= min_cluster_size <= len(vectors):
        raise EmbedlabError(f"min_cluster_size={min_cluster_size}: choose between 2 and {len(vectors):,}")
    reduced = vectors
    if vectors.shape[1] > 50 and len(vectors) > 50:
        reduced = PCA(n_components=50, random_state=seed).fit_transform(vectors)
    return HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit_predict(reduced)


def class_tfidf_keywords(texts: list[str], labels: np.ndarray, top: int = 8) -> dict[int, list[str]]:
    """Keywords per cluster by class-based TF-IDF: term frequency in the cluster × log(1 + A / f_term), where
    A is the mean number of words per cluster and f_term the term's frequency over all clusters.

    Example::

        class_tfidf_keywords(texts, labels)[0]  # ["graph", "vertices", ...]
    """
    from sklearn.feature_extraction.text import CountVectorizer

    clusters = sorted(int(c) for c in set(labels.tolist()) if c != NOISE)
    if not clusters:
        return {}
    joined = [" ".join(texts[i] for i in np.flatnonzero(labels == c)) for c in clusters]
    vectorizer = CountVectorizer(stop_words="english", min_df=1, max_features=50_000)
    try:
        counts = vectorizer.fit_transform(joined).toarray().astype(np.float64)
    except ValueError:  # only stop words
        return {c: [] for c in clusters}
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    idf = np.log(1 + counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1))
    scores = tf * idf
    terms = vectorizer.get_feature_names_out()
    return {
        c: [str(terms[j]) for j in np.argsort(-scores[i])[:top] if scores[i, j] > 0]
        for i, c in enumerate(clusters)
    }


def cluster_vectors(
    vectors: np.ndarray,
    texts: list[str],
    *,
    k: int | None = None,
    min_cluster_size: int | None = None,
    central: int = 3,
    seed: int = 42,
) -> Clustering:
    """Cluster unit vectors by k-means (`k`) or HDBSCAN (`min_cluster_size`), with keywords and central rows;
    with neither, k-means with the k whose clusters separate best (`choose_k`): topics without tuning.

    Example::

        result = cluster_vectors(encode_texts(encoder, texts, "cluster"), texts)  # k chosen
        result = cluster_vectors(vectors, texts, k=8)
    """
    from embedlab.io import l2_normalise

    if k is not None and min_cluster_size is not None:
        raise EmbedlabError("give k (k-means) or min_cluster_size (HDBSCAN), not both")
    if len(vectors) == 0:
        raise EmbedlabError("no documents to cluster")
    unit = l2_normalise(vectors)
    method = "hdbscan" if min_cluster_size is not None else "kmeans"
    if k is None and min_cluster_size is None:
        k, method = choose_k(unit, seed), "kmeans, k chosen by silhouette"
    labels = kmeans(unit, k, seed) if k is not None else hdbscan(unit, min_cluster_size, seed)  # type: ignore[arg-type]
    keywords = class_tfidf_keywords(texts, labels)
    scores = np.zeros(len(unit), dtype=np.float32)
    clusters = []
    for label in sorted(keywords):
        rows = np.flatnonzero(labels == label)
        centre = l2_normalise(unit[rows].mean(axis=0, keepdims=True))[0]
        scores[rows] = unit[rows] @ centre
        best = rows[np.argsort(-scores[rows], kind="stable")[:central]]
        clusters.append(Cluster(label, len(rows), keywords[label], [int(r) for r in best]))
    clusters.sort(key=lambda c: -c.size)
    return Clustering(labels, scores, clusters, method)


def choose_k(vectors: np.ndarray, seed: int = 42, largest: int = 40, sample: int = 2000) -> int:
    """The k (2 to `largest`, at most a tenth of the rows) whose k-means clusters have the best mean
    silhouette (cosine) on up to `sample` rows: how many topics the data itself separates.

    Example::

        choose_k(unit_vectors)  # 12
    """
    from sklearn.metrics import silhouette_score

    top = min(largest, max(2, len(vectors) // 10))
    if len(vectors) < 4:
        return max(1, len(vectors) // 2)
    picked = vectors[np.random.default_rng(seed).permutation(len(vectors))[:sample]]  # a sample decides
    scored = {}
    for k in range(2, top + 1):
        labels = kmeans(picked, k, seed)
        if len(set(labels.tolist())) > 1:
            scored[k] = float(silhouette_score(picked, labels, metric="cosine"))
    return max(scored, key=scored.__getitem__) if scored else 2


def agreement(labels: np.ndarray, truth: list[str]) -> dict[str, float]:
    """V-measure, ARI and NMI (×100) of a clustering against known labels (noise counts as one cluster).

    Example::

        agreement(result.labels, subjects)["v_measure"]
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, v_measure_score

    return {
        "v_measure": round(100 * float(v_measure_score(truth, labels)), 2),
        "ari": round(100 * float(adjusted_rand_score(truth, labels)), 2),
        "nmi": round(100 * float(normalized_mutual_info_score(truth, labels)), 2),
    }


def cluster_map(
    vectors: np.ndarray,
    labels: np.ndarray,
    path: Path,
    *,
    points: int = 3000,
    seed: int = 42,
    keywords: dict[int, list[str]] | None = None,
) -> Path:
    """A t-SNE map of (a sample of) the vectors coloured by cluster, saved as a PNG; with `keywords`, each
    cluster is labelled on the map with its number and top keywords, and the legend names them too.

    Example::

        cluster_map(vectors, result.labels, Path("clusters/map.png"), keywords={0: ["graph", "vertices"]})
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from embedlab.evaluate.arxiv import two_d_map

    rng = np.random.default_rng(seed)
    shown = np.sort(rng.choice(len(vectors), size=min(points, len(vectors)), replace=False))
    xy = two_d_map(vectors[shown], seed) if len(shown) > 3 else np.zeros((len(shown), 2))
    figure, axis = plt.subplots(figsize=(9, 6))  # room for the legend beside the map
    colours = plt.get_cmap("tab20")
    for label in sorted(set(labels[shown].tolist())):
        mask = labels[shown] == label
        # tab20 comes in (dark, light) pairs of one hue: the ten dark ones first, so neighbours differ
        colour = (0.75, 0.75, 0.75, 0.6) if label == NOISE else colours((2 * label) % 20 + (label // 10) % 2)
        words = ", ".join((keywords or {}).get(label, [])[:3])
        name = "noise" if label == NOISE else f"{label}: {words}" if words else str(label)
        axis.scatter(xy[mask, 0], xy[mask, 1], s=4, color=colour, label=name)
        if label != NOISE and words and mask.any():  # the cluster's name where its documents are
            x, y = np.median(xy[mask], axis=0)
            box = {"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.8, "lw": 0}
            axis.annotate(name, (x, y), fontsize=7, ha="center", bbox=box)
    if len(set(labels[shown].tolist())) <= 20:
        axis.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, markerscale=3, frameon=False)
    axis.set_title(f"t-SNE of {len(shown):,} documents, coloured by cluster")
    axis.set_xticks([])
    axis.set_yticks([])
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def cluster_report(result: Clustering, documents: list[dict], source: str) -> str:
    """Markdown: one row per cluster with its size, keywords and most central document.

    Example::

        print(cluster_report(result, docs, "docs.jsonl"))
    """
    noise = int((result.labels == NOISE).sum())
    lines = [
        f"# Clusters of {source}",
        "",
        f"- documents: {len(documents):,}; method: {result.method}; clusters: {len(result.clusters)}"
        + (f"; noise: {noise:,}" if result.method == "hdbscan" else ""),
        "",
        "| cluster | size | keywords | most central document |",
        "|---|---|---|---|",
    ]
    for c in result.clusters:
        text = documents[c.central[0]]["text"].replace("|", "\\|")[:80] if c.central else ""
        lines.append(f"| {c.label} | {c.size:,} | {', '.join(c.keywords)} | {text} |")
    return "\n".join(lines) + "\n\n![map](map.png)\n"


def write_clustering(
    out: str | Path,
    result: Clustering,
    documents: list[dict],
    vectors: np.ndarray,
    source: str,
    *,
    fmt: str = "jsonl",
    force: bool = False,
) -> Path:
    """Write assignments (id, cluster, score), clusters.json, report.md and map.png into `out` atomically.

    Example::

        write_clustering("clusters", result, docs, vectors, "docs.jsonl")
    """
    from embedlab.apps.common import write_rows
    from embedlab.io import output_dir

    assignments = [
        {"id": d["id"], "cluster": int(label), "score": round(float(score), 4)}
        for d, label, score in zip(documents, result.labels, result.scores, strict=True)
    ]
    clusters = [
        {
            "cluster": c.label,
            "size": c.size,
            "keywords": c.keywords,
            "central": [{"id": documents[r]["id"], "text": documents[r]["text"]} for r in c.central],
        }
        for c in result.clusters
    ]
    with output_dir(out, kind=KIND, force=force, inputs=[source]) as staging:
        write_rows(staging / f"assignments.{fmt}", assignments)
        write_rows(staging / "clusters.jsonl", clusters)
        named = {c.label: c.keywords for c in result.clusters}
        cluster_map(vectors, result.labels, staging / "map.png", keywords=named)
        (staging / "report.md").write_text(cluster_report(result, documents, source), encoding="utf-8")
    return Path(out)
