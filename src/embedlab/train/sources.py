"""A config's data source (benchmark split or user file) → pair Dataset plus its score range."""

from __future__ import annotations

from datasets import Dataset

from embedlab.config import DataSource
from embedlab.data.files import load_pair_file
from embedlab.data.sts import get_task, load_sts
from embedlab.errors import DataError


def load_source(source: DataSource, seed: int = 42) -> tuple[Dataset, tuple[float, float]]:
    """The training dataset a config's data source names, and its score range.

    Example::

        dataset, (low, high) = load_source(config.data, seed=config.seed)
    """
    if source.sentences is not None:  # unsupervised SimCSE: each sentence is its own positive
        from embedlab.data.sentences import collect_sentences

        texts, _ = collect_sentences(source.sentences, limit=source.max_pairs, seed=seed)
        return Dataset.from_dict({"anchor": texts, "positive": texts}), (0.0, 1.0)
    if source.nli is not None:  # supervised SimCSE: premise → entailed hypothesis, in-batch negatives
        from embedlab.data.sentences import entailment_pairs

        entailed, _ = entailment_pairs(source.nli, limit=source.max_pairs, seed=seed)
        if not entailed:
            raise DataError("no entailment pairs left in NLI sources " + ", ".join(source.nli))
        anchors, positives = zip(*entailed, strict=True)
        return Dataset.from_dict({"anchor": list(anchors), "positive": list(positives)}), (0.0, 1.0)
    if source.task is not None:
        pairs = load_sts(source.task, source.split)
        score_range = source.score_range or get_task(source.task).score_range
    else:
        pairs = load_pair_file(source.path, source.columns, source.format)  # type: ignore[arg-type]
        scores = pairs["score"]
        score_range = source.score_range or (min(scores), max(scores))
    if source.max_pairs is not None and source.max_pairs < len(pairs):
        pairs = pairs.shuffle(seed=seed).select(range(source.max_pairs))
    return pairs, (float(score_range[0]), float(score_range[1]))
