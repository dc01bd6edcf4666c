"""Classification evaluation: logistic regression on frozen features predicting each document's label.

Features are embeddings (a model) or TF-IDF vectors (the baseline); the classifier, its settings and the
metrics are the same for both, so the comparison is of the features alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embedlab.evaluate.records import EvalRecord
from embedlab.io import l2_normalise

TASK = "arxiv-classification"


@dataclass(frozen=True)
class ClassificationResult:
    """Accuracy and macro-F1 of a classifier on a test split, with F1 per label.

    Example::

        result = classify(train_x, train_y, test_x, test_y)
        result.macro_f1
    """

    accuracy: float
    macro_f1: float
    per_label_f1: dict[str, float]
    train_size: int
    test_size: int

    def records(self, split: str = "test", task: str = TASK) -> list[EvalRecord]:
        """The result as evaluation records (percentages), for the results file."""
        return [
            EvalRecord(task, split, "accuracy", round(100 * self.accuracy, 2), self.test_size),
            EvalRecord(task, split, "macro_f1", round(100 * self.macro_f1, 2), self.test_size),
        ]


def fit_classifier(features, labels: list[str], *, seed: int = 42, class_weight: str | None = "balanced"):
    """The logistic regression every classification in embedlab uses (evaluation and `embedlab classify`).

    `class_weight="balanced"` weighs each label's examples by the inverse of its frequency, so rare labels
    count as much as common ones — the premise of macro-F1.

    Example::

        classifier = fit_classifier(train_vectors, train_labels)
        classifier.predict(test_vectors)
    """
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(max_iter=2000, C=1.0, class_weight=class_weight, random_state=seed)
    return classifier.fit(features, labels)


def score_predictions(test_labels: list[str], predicted, train_labels: list[str]) -> ClassificationResult:
    """Accuracy, macro-F1 and F1 per label of predictions against the true labels.

    Example::

        score_predictions(["a", "b"], ["a", "a"], train_labels=["a", "b"]).accuracy  # 0.5
    """
    from sklearn.metrics import accuracy_score, f1_score

    labels = sorted(set(train_labels) | set(test_labels))
    per_label = f1_score(test_labels, predicted, labels=labels, average=None, zero_division=0)
    return ClassificationResult(
        accuracy=float(accuracy_score(test_labels, predicted)),
        macro_f1=float(f1_score(test_labels, predicted, labels=labels, average="macro", zero_division=0)),
        per_label_f1={label: float(f1) for label, f1 in zip(labels, per_label, strict=True)},
        train_size=len(train_labels),
        test_size=len(test_labels),
    )


def classify(
    train_features,
    train_labels: list[str],
    test_features,
    test_labels: list[str],
    *,
    seed: int = 42,
    class_weight: str | None = "balanced",
) -> ClassificationResult:
    """Fit the classifier on the training features and score it on the test features.

    Example::

        classify(train_x, train_y, test_x, test_y).macro_f1
    """
    classifier = fit_classifier(train_features, train_labels, seed=seed, class_weight=class_weight)
    return score_predictions(test_labels, classifier.predict(test_features), train_labels)


def classify_embeddings(
    train_vectors: np.ndarray,
    train_labels: list[str],
    test_vectors: np.ndarray,
    test_labels: list[str],
    seed: int = 42,
    class_weight: str | None = "balanced",
) -> ClassificationResult:
    """Embeddings are L2-normalised first (cosine geometry, as the models are used)."""

    def unit(vectors: np.ndarray) -> np.ndarray:
        return l2_normalise(vectors, vectors.dtype)

    return classify(
        unit(train_vectors),
        train_labels,
        unit(test_vectors),
        test_labels,
        seed=seed,
        class_weight=class_weight,
    )
