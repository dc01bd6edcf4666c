"""Batches for in-batch-negative losses in which no two rows share a label: with subject-labelled pairs
(the arXiv pipeline), every in-batch negative is then of another subject — no same-subject paper is pushed
away from the anchor as if it were unrelated.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterator

from sentence_transformers.base.sampler import DefaultBatchSampler

from embedlab.errors import ConfigError

LABEL = "label"


class DistinctLabelBatchSampler(DefaultBatchSampler):
    """Each batch holds rows of `batch_size` different labels (read from the dataset's `label` column); the
    labels with the most rows left go first, so equal-sized labels run out together and no batch is short
    until the last. Reshuffled every epoch from the Trainer's seed.

    Example::

        args = SentenceTransformerTrainingArguments(..., batch_sampler=DistinctLabelBatchSampler)
        # the train dataset: anchor, positive, label (an int per row; MNRL ignores it)
    """

    def __init__(
        self, dataset, batch_size: int, drop_last: bool, valid_label_columns=None, generator=None, seed=0
    ):
        super().__init__(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
        if LABEL not in dataset.column_names:
            raise ConfigError(
                "training.batches: distinct-labels needs a 'label' column in the training data "
                f"(it has {', '.join(dataset.column_names)})"
            )
        groups: dict[object, list[int]] = defaultdict(list)
        for row, label in enumerate(dataset[LABEL]):
            groups[label].append(row)
        if batch_size > len(groups):
            raise ConfigError(
                f"training.batch_size {batch_size}: with training.batches distinct-labels a batch holds "
                f"one row per label, and the data has {len(groups)} labels"
            )
        self.groups = dict(groups)

    def __iter__(self) -> Iterator[list[int]]:
        """Full batches of distinct labels, fullest labels first; then, unless drop_last, the rest in
        smaller batches that still never repeat a label.
        """
        import torch

        if self.generator is not None and self.seed is not None:
            self.generator.manual_seed(self.seed + self.epoch)
        queues = {
            label: deque(rows[i] for i in torch.randperm(len(rows), generator=self.generator))
            for label, rows in self.groups.items()
        }
        while True:
            live = [label for label in queues if queues[label]]
            if not live or (len(live) < self.batch_size and self.drop_last):
                return
            shuffled = [live[i] for i in torch.randperm(len(live), generator=self.generator)]
            chosen = sorted(shuffled, key=lambda label: -len(queues[label]))[: self.batch_size]  # stable
            yield [queues[label].popleft() for label in chosen]

    def __len__(self) -> int:
        """The number of batches __iter__ yields (it depends on the label sizes only, not on the order)."""
        counts = sorted((len(rows) for rows in self.groups.values()), reverse=True)
        batches = 0
        while counts and (len(counts) >= self.batch_size or not self.drop_last):
            taken = counts[: self.batch_size]
            counts = sorted([c - 1 for c in taken if c > 1] + counts[self.batch_size :], reverse=True)
            batches += 1
        return batches
