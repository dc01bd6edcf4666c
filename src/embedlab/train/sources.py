"""A config's data source (benchmark split or user file) → pair Dataset plus its score range."""

from __future__ import annotations

from collections.abc import Sequence

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
    if source.nli is not None:
        return _nli_dataset(source, seed), (0.0, 1.0)
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


def _nli_dataset(source: DataSource, seed: int) -> Dataset:
    """Premise → entailed hypothesis (supervised SimCSE, in-batch negatives); with `hard_negatives`, the
    premise's contradiction as a third column.
    """
    from embedlab.data.sentences import entailment_pairs, nli_triplets

    nli = list(source.nli or [])
    rows: Sequence[Sequence[str]]
    columns: tuple[str, ...]
    if source.hard_negatives:
        rows, _ = nli_triplets(nli, limit=source.max_pairs, seed=seed)
        columns = ("anchor", "positive", "negative")
        missing = "no premise with both an entailment and a contradiction in "
    else:
        rows, _ = entailment_pairs(nli, limit=source.max_pairs, seed=seed)
        columns = ("anchor", "positive")
        missing = "no entailment pairs left in NLI sources "
    if not rows:
        raise DataError(missing + ", ".join(nli))
    return Dataset.from_dict({name: [row[i] for row in rows] for i, name in enumerate(columns)})
