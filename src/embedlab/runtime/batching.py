"""Length-sorted batches of tokenised texts, padded to their own longest: shared by the ONNX encoder and the
GPU encode path, so padding and batch shapes are decided in one place.
"""

from __future__ import annotations

import numpy as np


def length_batches(counts: np.ndarray, batch_size: int | None, token_budget: int | None) -> list[np.ndarray]:
    """Row numbers of each batch, longest texts first: `batch_size` rows at most, and, with a token budget,
    no more rows than budget // the batch's longest text (long texts: fewer rows; short ones: more).

    Example::

        length_batches(np.array([5, 300, 12]), batch_size=32, token_budget=256)  # [[1], [2, 0]]
    """
    order = np.argsort(-np.asarray(counts), kind="stable")
    batches, start = [], 0
    while start < len(order):
        rows = batch_size or len(order)
        if token_budget:
            rows = min(rows, max(1, token_budget // max(1, int(counts[order[start]]))))
        batches.append(order[start : start + rows])
        start += rows
    return batches


def pad_encodings(encodings: list, pad_id: int, width: int | None = None) -> dict[str, np.ndarray]:
    """input_ids, attention_mask and token_type_ids (int64) of `tokenizers` encodings, padded to the longest
    (or to `width`, where every batch must have one shape).

    Example::

        arrays = pad_encodings(tokenizer.encode_batch(["a", "a longer text"]), pad_id=0)
    """
    width = width or max(len(e.ids) for e in encodings)
    ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    types = np.zeros((len(encodings), width), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        length = len(encoding.ids)
        ids[row, :length], mask[row, :length], types[row, :length] = encoding.ids, 1, encoding.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
