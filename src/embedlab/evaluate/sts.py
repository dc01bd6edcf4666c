"""STS evaluation: Spearman and Pearson correlation of cosine similarity with the gold scores, ×100.

Each distinct sentence is encoded once across all requested tasks (SICK-R repeats many), which gives the
same figures as sentence-transformers' EmbeddingSimilarityEvaluator at a fraction of the encoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import pearsonr, spearmanr

from embedlab.data.sts import STS_SUITE, get_task, load_sts
from embedlab.evaluate.records import EvalRecord
from embedlab.io import l2_normalise

if TYPE_CHECKING:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer

SPEARMAN = "spearman_cosine"
PEARSON = "pearson_cosine"


def parse_tasks(spec: str | Sequence[str] | None) -> list[tuple[str, str]]:
    """'stsb,sickr:test,sts12' → [(task, split)], defaulting to each task's evaluation split.
    None or 'sts' means the 7-task suite.
    """
    if spec is None or spec == "sts" or spec == ["sts"]:
        items = list(STS_SUITE)
    elif isinstance(spec, str):
        items = [item.strip() for item in spec.split(",") if item.strip()]
    else:
        items = list(spec)
    parsed = []
    for item in items:
        name, _, split = item.partition(":")
        if name == "sts":
            parsed += [(task, get_task(task).default_split) for task in STS_SUITE]
            continue
        task = get_task(name)
        parsed.append((task.name, split or task.default_split))
    return parsed


def correlation_records(task: str, split: str, cosine: np.ndarray, gold: Sequence[float]) -> list[EvalRecord]:
    """Spearman and Pearson (×100) of cosine scores against gold scores, as records.

    Example::

        correlation_records("stsb", "test", cosine, gold)
    """
    gold_array = np.asarray(gold, dtype=np.float64)
    n = len(gold_array)
    spearman = float(spearmanr(cosine, gold_array).statistic) * 100
    pearson = float(pearsonr(cosine, gold_array).statistic) * 100
    return [EvalRecord(task, split, SPEARMAN, spearman, n), EvalRecord(task, split, PEARSON, pearson, n)]


def cosine_of_pairs(embeddings: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cosine of each pair (rows `left[i]`, `right[i]` of the embeddings), in float64.

    Example::

        cosine_of_pairs(vectors, np.array([0, 2]), np.array([1, 3]))
    """
    a = l2_normalise(embeddings[left], np.float64)
    b = l2_normalise(embeddings[right], np.float64)
    return (a * b).sum(axis=1)


def encode_labelled(
    model: SentenceTransformer, texts: list[str], label: str, batch_size: int = 64, show_progress: bool = True
) -> np.ndarray:
    """`model.encode` under one progress bar that says what is being encoded and counts sentences.

    Example::

        vectors = encode_labelled(model, sentences, "STS stsb, sickr")
    """
    from embedlab.runtime.encoder import encode_in_chunks

    return encode_in_chunks(
        lambda part: model.encode(
            part, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True
        ),
        texts,
        label,
        dim=0 if texts else model.get_embedding_dimension() or 0,  # adapters have no dimension to ask
        batch_size=batch_size,
        show=show_progress,
    )


def evaluate_pairs(
    model: SentenceTransformer,
    named_pairs: dict[tuple[str, str], Dataset],
    batch_size: int = 64,
    show_progress: bool = True,
) -> list[EvalRecord]:
    """Correlations for several pair datasets, encoding every distinct sentence once."""
    index: dict[str, int] = {}
    positions = {}
    for key, pairs in named_pairs.items():
        left = np.array([index.setdefault(s, len(index)) for s in pairs["sentence1"]])
        right = np.array([index.setdefault(s, len(index)) for s in pairs["sentence2"]])
        positions[key] = (left, right)
    label = ", ".join(dict.fromkeys(task for task, _ in named_pairs))
    embeddings = encode_labelled(model, list(index), f"STS {label}", batch_size, show_progress)
    records: list[EvalRecord] = []
    for (task, split), pairs in named_pairs.items():
        left, right = positions[(task, split)]
        records += correlation_records(task, split, cosine_of_pairs(embeddings, left, right), pairs["score"])
    return records


def evaluate_sts(
    model: SentenceTransformer,
    tasks: str | Sequence[str] | None = None,
    batch_size: int = 64,
    show_progress: bool = True,
) -> list[EvalRecord]:
    """Evaluate on STS tasks (default: the 7-task suite, evaluation splits) plus their Spearman average."""
    wanted = parse_tasks(tasks)
    named_pairs = {(task, split): load_sts(task, split) for task, split in wanted}
    records = evaluate_pairs(model, named_pairs, batch_size=batch_size, show_progress=show_progress)
    return records + spearman_average(records)


def spearman_average(records: list[EvalRecord]) -> list[EvalRecord]:
    """The Spearman average over several STS tasks, as one record — only when every task was read once, on
    its own evaluation split (the suite's figure); STS-B dev beside other tasks' test sets is no such figure.

    Example::

        spearman_average(records)  # [EvalRecord("average", "", "spearman_cosine", 78.94, 7)]
    """
    scored = [r for r in records if r.metric == SPEARMAN]
    evaluation = all(r.split == get_task(r.task).default_split for r in scored)
    if len(scored) < 2 or len({r.task for r in scored}) < len(scored) or not evaluation:
        return []
    return [EvalRecord("average", "", SPEARMAN, float(np.mean([r.value for r in scored])), len(scored))]


HELD_OUT = "held-out"


def held_out_pairs(tasks: Sequence[str] = STS_SUITE) -> dict[tuple[str, str], Dataset]:
    """Each task's evaluation pairs that are *not* in STS-B train (the same two sentences, either order).

    STS-B was compiled from the SemEval STS 2012–2016 data, so a model fine-tuned on STS-B train has seen a
    third to a half of the STS12–15 test pairs; its suite figures on the rest are the held-out ones. Keys are
    (task, "held-out"), ready for `evaluate_pairs`.

    Example::

        records = evaluate_pairs(model, held_out_pairs())
    """
    train = load_sts("stsb", "train")
    seen = {
        frozenset((a.strip(), b.strip())) for a, b in zip(train["sentence1"], train["sentence2"], strict=True)
    }
    subsets = {}
    for task in tasks:
        pairs = load_sts(task, get_task(task).default_split)
        keep = [
            i
            for i, (a, b) in enumerate(zip(pairs["sentence1"], pairs["sentence2"], strict=True))
            if frozenset((a.strip(), b.strip())) not in seen
        ]
        subsets[(task, HELD_OUT)] = pairs.select(keep)
    return subsets
