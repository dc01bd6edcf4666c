"""A linear classifier head over unit embeddings, saved as plain arrays + JSON (never pickle): what
`embedlab classify train` writes and `classify predict` and `POST /classify` load, checked against the model
that embeds the texts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedlab.errors import EmbedlabError
from embedlab.io import l2_normalise, output_dir, write_json_atomic

WEIGHTS = "classifier.npz"
CONFIG = "classifier.json"
KIND = "classifier"  # the kind of folder `Classifier.save` makes (embedlab.io ownership)


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

    def save(self, directory: str | Path, *, force: bool = False) -> Path:
        """Write `classifier.npz` (arrays) and `classifier.json` (labels, model, metrics) atomically; an
        earlier classifier there is replaced only with `force`.
        """
        with output_dir(directory, kind=KIND, force=force) as staging:
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
                weights, bias = np.asarray(arrays["weights"]), np.asarray(arrays["bias"])
            labels, model = [str(label) for label in config["labels"]], dict(config["model"])
        except Exception as error:
            raise EmbedlabError(
                f"{directory}: not a classifier folder ({type(error).__name__}: {error})"
            ) from None
        _check_arrays(directory, weights, bias, labels, config.get("dim"))
        metrics = {k: v for k, v in config.items() if k not in ("labels", "model", "dim")}
        return cls(weights, bias, labels, model, metrics)


def _check_arrays(directory: Path, weights, bias, labels: list[str], dim) -> None:
    """A classifier folder whose files disagree (edited, swapped, truncated) is refused in one line."""
    rows = 1 if len(labels) == 2 and weights.ndim == 2 and weights.shape[0] == 1 else len(labels)
    problems = []
    if weights.ndim != 2 or bias.ndim != 1 or weights.shape[0] != rows or bias.shape[0] != rows:
        problems.append(f"weights {weights.shape} and bias {bias.shape} do not fit {len(labels)} labels")
    elif dim is not None and weights.shape[1] != dim:
        problems.append(f"weights are {weights.shape[1]}-d, {CONFIG} says {dim}-d")
    if not problems and not (np.isfinite(weights).all() and np.isfinite(bias).all()):
        problems.append("weights that are not finite numbers")
    if len(set(labels)) != len(labels) or len(labels) < 2:
        problems.append("labels that are not two or more distinct names")
    if problems:
        raise EmbedlabError(f"{directory}: a damaged classifier ({problems[0]}); train it again")


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
