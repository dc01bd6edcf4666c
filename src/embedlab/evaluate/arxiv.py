"""arXiv retrieval and classification evaluation of one system (an embedding model or TF-IDF) on prepared
splits (`embedlab data arxiv`): the code behind `embedlab eval --tasks arxiv-*` and the pipeline's evaluate
stages."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from embedlab.config import Strict
from embedlab.data.arxiv import load_split
from embedlab.evaluate.classification import TASK as CLASSIFICATION
from embedlab.evaluate.classification import classify_embeddings
from embedlab.evaluate.retrieval import TASK as RETRIEVAL
from embedlab.evaluate.retrieval import evaluate_embeddings, retrieval_inputs
from embedlab.evaluate.tfidf import fit_vectorizer, tfidf_classification, tfidf_retrieval
from embedlab.io import l2_normalise

ARXIV_TASKS = (RETRIEVAL, CLASSIFICATION)


TextField = Literal["title", "abstract"]


class ArxivEvalConfig(Strict):
    """How the arXiv retrieval and classification evaluation runs (the pipeline's `eval:` section)."""

    query_field: TextField = "title"
    corpus_field: TextField = "abstract"
    classification_field: TextField = "abstract"
    classification_train_size: int = Field(default=10_000, gt=0)  # train-split papers for the classifier
    class_weight: Literal["balanced", "none"] = "balanced"  # balanced: every label counts equally (macro-F1)
    test_size: int | None = Field(default=None, gt=0)  # None: the whole test split
    training_eval_queries: int = Field(default=1_000, gt=0)  # eval-split queries for checkpoint selection
    max_seq_length: int | None = Field(default=256, gt=0)  # the same for every model compared
    batch_size: int = Field(default=64, gt=0)
    map_points: int = Field(default=2_000, gt=0)  # test papers on the 2-D map


def stratified_sample(papers: list[dict], size: int | None, seed: int) -> list[dict]:
    if size is None or size >= len(papers):
        return papers
    from sklearn.model_selection import train_test_split

    chosen, _ = train_test_split(
        papers, train_size=size, stratify=[p["label"] for p in papers], random_state=seed
    )
    return sorted(chosen, key=lambda p: p["id"])


def two_d_map(vectors: np.ndarray, seed: int) -> np.ndarray:
    """t-SNE of the unit vectors, after PCA to 50 dimensions as its authors recommend."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    unit = l2_normalise(vectors, vectors.dtype)
    reduced = PCA(n_components=min(50, *unit.shape), random_state=seed).fit_transform(unit)
    perplexity = min(30, len(unit) - 1)
    return TSNE(n_components=2, init="pca", random_state=seed, perplexity=perplexity).fit_transform(reduced)


def evaluate_arxiv(
    model: str | None,
    data_dir: str | Path,
    settings: ArxivEvalConfig | None = None,
    *,
    tasks: tuple[str, ...] = ARXIV_TASKS,
    seed: int = 42,
    with_map: bool = False,
) -> dict:
    """Evaluate `model` (a name or folder; None = the TF-IDF baseline). Returns records (×100) and per-label
    figures; with `with_map`, 2-D t-SNE coordinates of a sample of test embeddings."""
    settings = settings or ArxivEvalConfig()
    class_weight = None if settings.class_weight == "none" else settings.class_weight
    test = stratified_sample(load_split(data_dir, "test"), settings.test_size, seed)
    inputs = retrieval_inputs(test, settings.query_field, settings.corpus_field)
    test_labels = [p["label"] for p in test]
    field = settings.classification_field
    classifier_train: list[dict] = []
    if CLASSIFICATION in tasks or model is None:
        classifier_train = stratified_sample(
            load_split(data_dir, "train"), settings.classification_train_size, seed
        )
    train_labels = [p["label"] for p in classifier_train]
    retrieval = classification = None
    payload: dict = {"test_papers": len(test), "corpus": len(inputs.corpus)}
    if model is None:
        vectorizer = fit_vectorizer(
            [p[settings.query_field] for p in classifier_train]
            + [p[settings.corpus_field] for p in classifier_train]
        )
        if RETRIEVAL in tasks:
            retrieval = tfidf_retrieval(vectorizer, inputs)
        if CLASSIFICATION in tasks:
            classification = tfidf_classification(
                vectorizer,
                [p[field] for p in classifier_train],
                train_labels,
                [p[field] for p in test],
                test_labels,
                class_weight=class_weight,
            )
    else:
        from embedlab.runtime.encoder import TorchEncoder

        encoder = TorchEncoder(model)
        if settings.max_seq_length:
            encoder.model.max_seq_length = settings.max_seq_length
        batch = settings.batch_size
        vectors: dict[str, np.ndarray] = {}

        def test_vectors(name: str) -> np.ndarray:
            if name not in vectors:
                vectors[name] = encoder.encode([p[name] for p in test], batch_size=batch)
            return vectors[name]

        if RETRIEVAL in tasks:
            retrieval = evaluate_embeddings(
                inputs, test_vectors(settings.query_field), test_vectors(settings.corpus_field)
            )
        if CLASSIFICATION in tasks:
            train_vectors = encoder.encode([p[field] for p in classifier_train], batch_size=batch)
            classification = classify_embeddings(
                train_vectors, train_labels, test_vectors(field), test_labels, seed, class_weight=class_weight
            )
        if with_map:
            shown = sorted(random.Random(seed).sample(range(len(test)), min(settings.map_points, len(test))))
            xy = two_d_map(test_vectors(settings.corpus_field)[shown], seed)
            payload["map"] = {"labels": [test_labels[i] for i in shown], "xy": xy.round(3).tolist()}
    records = []
    if retrieval is not None:
        records += retrieval.records()
        payload["retrieval_per_label"] = retrieval.per_label
    if classification is not None:
        records += classification.records()
        payload["classification_per_label_f1"] = classification.per_label_f1
        payload["classifier_train_papers"] = classification.train_size
    payload["records"] = [r.to_dict() for r in records]
    return payload
