"""Losses: each gets the columns and score scale it expects; Matryoshka wraps any of them."""

from __future__ import annotations

import pytest
from datasets import Dataset

from embedlab.config import LossConfig
from embedlab.errors import ConfigError
from embedlab.train import build_loss, prepare_dataset

PAIRS = Dataset.from_dict(
    {"sentence1": ["a", "b", "c", "d"], "sentence2": ["e", "f", "g", "h"], "score": [0.0, 2.0, 4.0, 5.0]}
)


def test_cosine_loss_gets_scores_rescaled_to_unit_range():
    data = prepare_dataset(PAIRS, LossConfig(name="cosine"), (0.0, 5.0))
    assert list(data["score"]) == pytest.approx([0.0, 0.4, 0.8, 1.0])


def test_contrastive_loss_gets_binary_labels():
    data = prepare_dataset(PAIRS, LossConfig(name="contrastive"), (0.0, 5.0))
    assert list(data["score"]) == [0.0, 0.0, 1.0, 1.0]
    stricter = prepare_dataset(PAIRS, LossConfig(name="contrastive", positive_threshold=0.9), (0.0, 5.0))
    assert list(stricter["score"]) == [0.0, 0.0, 0.0, 1.0]


def test_in_batch_negative_losses_keep_only_positive_pairs():
    data = prepare_dataset(PAIRS, LossConfig(name="mnrl"), (0.0, 5.0))
    assert data.column_names == ["anchor", "positive"]
    assert list(data["anchor"]) == ["c", "d"]
    with pytest.raises(ConfigError, match="no pair scores"):
        prepare_dataset(PAIRS, LossConfig(name="mnrl", positive_threshold=1.0), (0.0, 6.0))


def test_ranking_losses_take_scores_as_given():
    for name in ("cosent", "angle"):
        assert list(prepare_dataset(PAIRS, LossConfig(name=name), (0.0, 5.0))["score"]) == [
            0.0,
            2.0,
            4.0,
            5.0,
        ]


def test_build_loss_by_name_and_matryoshka(tiny_model):
    from sentence_transformers.sentence_transformer import losses

    expected = {
        "cosent": losses.CoSENTLoss,
        "angle": losses.AnglELoss,
        "cosine": losses.CosineSimilarityLoss,
        "mnrl": losses.MultipleNegativesRankingLoss,
        "cached-mnrl": losses.CachedMultipleNegativesRankingLoss,
        "contrastive": losses.ContrastiveLoss,
    }
    for name, cls in expected.items():
        assert isinstance(build_loss(tiny_model, LossConfig(name=name)), cls)
    wrapped = build_loss(tiny_model, LossConfig(name="cosent", matryoshka_dims=[32, 16, 8]))
    assert isinstance(wrapped, losses.MatryoshkaLoss)
    with pytest.raises(ConfigError, match="exceeds the model's dimension 32"):
        build_loss(tiny_model, LossConfig(name="cosent", matryoshka_dims=[64, 32]))


def test_in_batch_negative_losses_gather_across_torchrun_processes(tiny_model, monkeypatch):
    from embedlab.config import LossConfig
    from embedlab.train.losses import build_loss

    assert build_loss(tiny_model, LossConfig(name="mnrl")).gather_across_devices is False
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert build_loss(tiny_model, LossConfig(name="mnrl")).gather_across_devices is True
    assert build_loss(tiny_model, LossConfig(name="cached-mnrl")).gather_across_devices is True
