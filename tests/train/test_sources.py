"""Training data sources: which losses and dev sets each kind of source allows."""

from __future__ import annotations

import pytest

from embedlab.config import DataSource, RunConfig


def test_nli_pairs_need_an_in_batch_negatives_loss_and_are_no_dev_set():
    base = {"name": "nli", "model": "all-MiniLM-L6-v2", "train": {"nli": ["snli:dev"]}}
    assert RunConfig.model_validate({**base, "loss": {"name": "mnrl"}}).train.describe() == (
        "entailment pairs of snli:dev"
    )
    with pytest.raises(ValueError, match="mnrl or cached-mnrl"):
        RunConfig.model_validate({**base, "loss": {"name": "cosent"}})
    with pytest.raises(ValueError, match="dev needs scored pairs"):
        RunConfig.model_validate({**base, "loss": {"name": "mnrl"}, "dev": {"nli": ["snli:dev"]}})
    with pytest.raises(ValueError, match="exactly one"):
        DataSource(nli=["snli:dev"], task="stsb")
