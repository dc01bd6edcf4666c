"""Text classification on frozen embeddings: the logistic regression of the arXiv evaluation, trained on the
user's labelled documents and saved as plain arrays + JSON (never pickle), so a folder can be loaded safely
and checked against the model that will embed new texts.

`embedlab classify train DOCS --label-field F --model M --out DIR` and `embedlab classify predict DIR DOCS`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedlab.errors import EmbedlabError
from embedlab.evaluate.classification import ClassificationResult, fit_classifier, score_predictions
from embedlab.io import atomic_dir, l2_normalise, write_json_atomic

WEIGHTS = "classifier.npz"
CONFIG = "classifier.json"


@dataclass
class Classifier:
    """A linear classifier over unit embeddings: weights (classes × dim), bias, labels, the model's identity.

    Example::

        classifier = Classifier.load("runs/subject-classifier")
        labels, confidence = classifier.predict(encoder.encode(texts))
    """

    weights: np.ndarray
    bias: np.ndarray
    labels: list[str]
    model: dict
    metrics: dict

    @property
    def dim(self) -> int:
        """The embedding width the classifier was trained on."""
        return int(self.weights.shape[1])

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Class probabilities (rows sum to 1), as scikit-learn's logistic regression gives them."""
        if vectors.shape[1] != self.dim:
            raise EmbedlabError(
                f"the classifier was trained on {self.dim}-d vectors of {self.model.get('name')}; "
                f"these are {vectors.shape[1]}-d: use the same model"
            )
        z = l2_normalise(vectors) @ self.weights.T + self.bias
        if len(self.labels) == 2 and z.shape[1] == 1:  # binary: one logit for the second label
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p, p], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
        """The most likely label of each vector and its probability."""
        probabilities = self.probabilities(vectors)
        best = probabilities.argmax(axis=1)
        return [self.labels[i] for i in best], probabilities[np.arange(len(best)), best]

    def save(self, directory: str | Path) -> Path:
        """Write `classifier.npz` (arrays) and `classifier.json` (labels, model, metrics) atomically."""
        with atomic_dir(directory, replaces=lambda p: (p / CONFIG).is_file()) as staging:
            np.savez(staging / WEIGHTS, weights=self.weights, bias=self.bias)
            write_json_atomic(
                staging / CONFIG,
                {"labels": self.labels, "model": self.model, "dim": self.dim, **self.metrics},
            )
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> Classifier:
        """Read a classifier folder; a missing or broken one is a one-line error."""
        directory = Path(directory)
        try:
            config = json.loads((directory / CONFIG).read_text(encoding="utf-8"))
            with np.load(directory / WEIGHTS, allow_pickle=False) as arrays:
                weights, bias = arrays["weights"], arrays["bias"]
            labels, model = list(config["labels"]), dict(config["model"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise EmbedlabError(f"{directory}: not a classifier folder ({error})") from None
        metrics = {k: v for k, v in config.items() if k not in ("labels", "model", "dim")}
        return cls(weights, bias, labels, model, metrics)


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


def check_classifier_model(classifier: Classifier, identity: dict, dim: int, where: str | Path = "") -> None:
    """Refuse vectors of another model: another width, or other weights than the classifier was trained on.

    Example::

        check_classifier_model(Classifier.load(folder), encoder.identity, encoder.dim, folder)
    """
    from embedlab.models.identity import describe, same_model

    if dim != classifier.dim:
        raise EmbedlabError(
            f"{where}: the classifier takes {classifier.dim}-d vectors of {describe(classifier.model)}; "
            f"this model gives {dim}-d: use --model with the model it was trained with"
        )
    if not same_model(classifier.model, identity):
        raise EmbedlabError(
            f"{where}: the classifier was trained on vectors of {describe(classifier.model)}, not of "
            f"{describe(identity)}"
        )
