"""arXiv retrieval and classification evaluation of one system (an embedding model or TF-IDF) on prepared
splits (`embedlab data arxiv`): the code behind `embedlab eval --tasks arxiv-*` and the pipeline's evaluate
stages.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from embedlab.config import Strict
from embedlab.data.arxiv import load_split
from embedlab.evaluate.classification import TASK as CLASSIFICATION
from embedlab.evaluate.classification import classify_embeddings
from embedlab.evaluate.retrieval import TASK as RETRIEVAL
from embedlab.evaluate.retrieval import RetrievalInputs, evaluate_embeddings, retrieval_inputs
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
    """A label-stratified sample of `size` papers (all of them when `size` is None or larger).

    Example::

        sample = stratified_sample(test_papers, 2_000, seed=42)
    """
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


@dataclass
class _Papers:
    """The test papers, the classifier's training papers and the retrieval inputs built from them."""

    test: list[dict]
    train: list[dict]
    inputs: RetrievalInputs
    settings: ArxivEvalConfig

    def texts(self, papers: list[dict], name: str) -> list[str]:
        return [p[name] for p in papers]

    def labels(self, papers: list[dict]) -> list[str]:
        return [p["label"] for p in papers]


def _class_weight(settings: ArxivEvalConfig) -> str | None:
    return None if settings.class_weight == "none" else settings.class_weight


def _tfidf_results(papers: _Papers, tasks: tuple[str, ...]):
    settings, train, field = papers.settings, papers.train, papers.settings.classification_field
    vectorizer = fit_vectorizer(
        papers.texts(train, settings.query_field) + papers.texts(train, settings.corpus_field)
    )
    retrieval = tfidf_retrieval(vectorizer, papers.inputs) if RETRIEVAL in tasks else None
    classification = None
    if CLASSIFICATION in tasks:
        classification = tfidf_classification(
            vectorizer,
            papers.texts(train, field),
            papers.labels(train),
            papers.texts(papers.test, field),
            papers.labels(papers.test),
            class_weight=_class_weight(settings),
        )
    return retrieval, classification


def _encoder_results(
    model: str, papers: _Papers, tasks: tuple[str, ...], seed: int, payload: dict, with_map: bool
):
    from embedlab.runtime.encoder import TorchEncoder, encode_in_chunks

    settings, test = papers.settings, papers.test
    encoder = TorchEncoder(model, bf16=False)  # figures are fp32, as the model is loaded
    if settings.max_seq_length and encoder.max_seq_length:  # a static model has no limit to set
        encoder.model.max_seq_length = settings.max_seq_length
    vectors: dict[str, np.ndarray] = {}

    def encode(texts: list[str], label: str) -> np.ndarray:  # minutes of abstracts: a labelled bar
        size = settings.batch_size
        return encode_in_chunks(lambda part: encoder.encode(part, batch_size=size), texts, f"arXiv {label}",
                                dim=encoder.dim, batch_size=size)  # fmt: skip

    def test_vectors(name: str) -> np.ndarray:  # each field of the test papers is encoded once
        if name not in vectors:
            vectors[name] = encode(papers.texts(test, name), f"test {name}s")
        return vectors[name]

    retrieval = classification = None
    if RETRIEVAL in tasks:
        retrieval = evaluate_embeddings(
            papers.inputs, test_vectors(settings.query_field), test_vectors(settings.corpus_field)
        )
    if CLASSIFICATION in tasks:
        field = settings.classification_field
        train_vectors = encode(papers.texts(papers.train, field), f"classifier training {field}s")
        classification = classify_embeddings(
            train_vectors,
            papers.labels(papers.train),
            test_vectors(field),
            papers.labels(test),
            seed,
            class_weight=_class_weight(settings),
        )
    if with_map:
        shown = sorted(random.Random(seed).sample(range(len(test)), min(settings.map_points, len(test))))
        xy = two_d_map(test_vectors(settings.corpus_field)[shown], seed)
        payload["map"] = {"labels": [test[i]["label"] for i in shown], "xy": xy.round(3).tolist()}
    return retrieval, classification


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
    figures; with `with_map`, 2-D t-SNE coordinates of a sample of test embeddings.

    Example::

        payload = evaluate_arxiv("all-MiniLM-L6-v2", "runs/arxiv-minilm/data")
        lookup(records_from_json(payload["records"]), "arxiv-retrieval", "precision@10")
    """
    settings = settings or ArxivEvalConfig()
    test = stratified_sample(load_split(data_dir, "test"), settings.test_size, seed)
    train: list[dict] = []
    if CLASSIFICATION in tasks or model is None:
        train = stratified_sample(load_split(data_dir, "train"), settings.classification_train_size, seed)
    papers = _Papers(
        test, train, retrieval_inputs(test, settings.query_field, settings.corpus_field), settings
    )
    payload: dict = {"test_papers": len(test), "corpus": len(papers.inputs.corpus)}
    if model is None:
        retrieval, classification = _tfidf_results(papers, tasks)
    else:
        retrieval, classification = _encoder_results(model, papers, tasks, seed, payload, with_map)
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
