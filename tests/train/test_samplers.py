"""Distinct-label batches: every row once per epoch, never two rows of one label in a batch."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset

from embedlab.errors import ConfigError
from embedlab.train.samplers import DistinctLabelBatchSampler


def _dataset(labels: list[int]) -> Dataset:
    return Dataset.from_dict(
        {
            "anchor": [f"a{i}" for i in range(len(labels))],
            "positive": [f"p{i}" for i in range(len(labels))],
            "label": labels,
        }
    )


def _sampler(dataset, batch_size=3, drop_last=False, seed=7):
    return DistinctLabelBatchSampler(dataset, batch_size, drop_last, generator=torch.Generator(), seed=seed)


def test_distinct_label_batches_cover_every_row_once_and_never_repeat_a_label():
    labels = [0] * 5 + [1] * 5 + [2] * 3
    sampler = _sampler(_dataset(labels))
    batches = list(sampler)
    assert sorted(row for batch in batches for row in batch) == list(range(13))
    assert all(len({labels[row] for row in batch}) == len(batch) for batch in batches)
    # the fullest labels first: three full batches, then labels 0 and 1 share the last two
    assert [len(batch) for batch in batches] == [3, 3, 3, 2, 2] and len(sampler) == 5
    assert list(sampler) == batches  # the same seed and epoch: the same batches
    sampler.set_epoch(1)
    assert list(sampler) != batches  # a new epoch: reshuffled

    dropping = _sampler(_dataset(labels), drop_last=True)
    assert [len(batch) for batch in dropping] == [3, 3, 3] and len(dropping) == 3


def test_distinct_label_batches_refuse_data_without_labels_or_too_few_labels():
    with pytest.raises(ConfigError, match="needs a 'label' column in the training data"):
        _sampler(Dataset.from_dict({"anchor": ["a"], "positive": ["b"]}))
    with pytest.raises(ConfigError, match=r"training.batch_size 4: .* the data has 3 labels"):
        _sampler(_dataset([0, 1, 2, 2]), batch_size=4)
