"""Text classification on frozen embeddings: the logistic regression of the arXiv evaluation, trained on the
user's labelled documents and saved as plain arrays + JSON (never pickle), so a folder can be loaded safely
and checked against the model that will embed new texts.

`embedlab classify train DOCS --label-field F --model M --out DIR` and `embedlab classify predict DIR DOCS`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embedlab.errors import EmbedlabError
from embedlab.evaluate.classification import ClassificationResult, fit_classifier, score_predictions
from embedlab.io import l2_normalise
from embedlab.models.classifier import Classifier


def train_classifier(
    vectors: np.ndarray,
    labels: list[str],
    *,
    model: dict,
    test_fraction: float = 0.2,
    seed: int = 42,
) -> tuple[Classifier, ClassificationResult]:
    """Fit on a stratified (1 − `test_fraction`) of the rows and score on the rest.

    Example::

        vectors = encode_texts(encoder, texts, "classify")
        classifier, result = train_classifier(vectors, labels, model=encoder.identity)
        result.macro_f1
    """
    from sklearn.model_selection import train_test_split

    counts = {label: labels.count(label) for label in set(labels)}
    if len(counts) < 2:
        raise EmbedlabError("the label field holds one label only; a classifier needs at least two")
    rare = sorted(label for label, n in counts.items() if n < 2)
    if rare:
        raise EmbedlabError(
            f"labels with a single example cannot be split for testing: {', '.join(rare[:5])}"
        )
    unit = l2_normalise(vectors)
    train_rows, test_rows = train_test_split(
        np.arange(len(labels)), test_size=test_fraction, random_state=seed, stratify=labels
    )
    train_labels = [labels[i] for i in train_rows]
    test_labels = [labels[i] for i in test_rows]
    fitted = fit_classifier(unit[train_rows], train_labels, seed=seed)
    result = score_predictions(test_labels, fitted.predict(unit[test_rows]), train_labels)
    metrics = {
        "accuracy": round(result.accuracy, 4),
        "macro_f1": round(result.macro_f1, 4),
        "train_size": result.train_size,
        "test_size": result.test_size,
    }
    classifier = Classifier(
        fitted.coef_.astype(np.float32),
        fitted.intercept_.astype(np.float32),
        [str(c) for c in fitted.classes_],
        model,
        metrics,
    )
    return classifier, result


def labels_of(documents: list[dict], field: str, source: str | Path = "") -> list[str]:
    """Each document's label (as text); a document without one is an error naming its record.

    Example::

        labels = labels_of(load_documents("papers.jsonl"), "subject", "papers.jsonl")
    """
    from embedlab.errors import DataError

    for number, document in enumerate(documents, start=1):
        if document.get(field) in (None, ""):
            raise DataError(
                "missing or empty label", path=source or None, line=number, field=field, where="record"
            )
    return [str(d[field]) for d in documents]
