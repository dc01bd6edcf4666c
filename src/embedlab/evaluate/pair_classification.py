"""Pair classification, MTEB's way: is this pair a paraphrase? Scored by the average precision of the
cosine (MTEB's main figure for the task type), with the accuracy and F1 at their best thresholds
(sentence-transformers' `BinaryClassificationEvaluator` helpers). On MRPC test (1,725 pairs).

    evaluate_pair_classification(model)  # [EvalRecord("mrpc", "test", "cosine_ap", 85.1, 1725), ...]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from embedlab.evaluate.records import EvalRecord

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

TASK = "mrpc"
AP = "cosine_ap"  # the main figure


def pair_classification_records(
    task: str, split: str, scores: np.ndarray, labels: list[int]
) -> list[EvalRecord]:
    """AP of the scores against the 0/1 labels, and accuracy and F1 at their best thresholds (×100).

    Example::

        pair_classification_records("mrpc", "test", np.array([0.9, 0.2]), [1, 0])[0].value  # 100.0
    """
    from sentence_transformers.sentence_transformer.evaluation import BinaryClassificationEvaluator
    from sklearn.metrics import average_precision_score

    accuracy, _ = BinaryClassificationEvaluator.find_best_acc_and_threshold(scores, labels, True)
    f1, _, _, _ = BinaryClassificationEvaluator.find_best_f1_and_threshold(scores, labels, True)
    ap = average_precision_score(labels, scores)
    return [
        EvalRecord(task, split, name, 100 * float(value), len(labels))
        for name, value in ((AP, ap), ("cosine_accuracy", accuracy), ("cosine_f1", f1))
    ]


def evaluate_pair_classification(
    model: SentenceTransformer, split: str = "test", batch_size: int = 64, show_progress: bool = True
) -> list[EvalRecord]:
    """MRPC pair classification of `model` (each distinct sentence encoded once).

    Example::

        ap = evaluate_pair_classification(load_model("all-MiniLM-L6-v2"))[0].value
    """
    from embedlab.data.paraphrase import load_mrpc
    from embedlab.evaluate.sts import cosine_of_pairs, encode_labelled

    pairs = load_mrpc(split)
    index: dict[str, int] = {}
    left = np.array([index.setdefault(s, len(index)) for s in pairs["sentence1"]])
    right = np.array([index.setdefault(s, len(index)) for s in pairs["sentence2"]])
    vectors = encode_labelled(model, list(index), f"pair classification {TASK}", batch_size, show_progress)
    return pair_classification_records(TASK, split, cosine_of_pairs(vectors, left, right), pairs["label"])
