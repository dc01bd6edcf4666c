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


def test_label_masked_mnrl_leaves_same_label_positives_out_of_the_softmax(tiny_model):
    import torch
    from sentence_transformers.util import cos_sim

    torch.manual_seed(0)
    queries, positives, negatives = torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 8)
    masked = build_loss(tiny_model, LossConfig(name="mnrl", mask_same_label=True))
    plain = build_loss(tiny_model, LossConfig(name="mnrl"))
    distinct = torch.tensor([0, 1, 2, 3])  # no label repeats: exactly MNRL
    assert masked.compute_loss_from_embeddings([queries, positives], distinct).item() == pytest.approx(
        plain.compute_loss_from_embeddings([queries, positives], distinct).item()
    )
    labels = torch.tensor([0, 0, 1, 1])
    scores = torch.cat([cos_sim(queries, positives), cos_sim(queries, negatives)], dim=1) * 20.0
    others = {0: 1, 1: 0, 2: 3, 3: 2}  # the other row of each anchor's label: its positive leaves the softmax
    expected = torch.stack(
        [
            torch.logsumexp(scores[row, [c for c in range(8) if c != others[row]]], 0) - scores[row, row]
            for row in range(4)
        ]
    ).mean()
    got = masked.compute_loss_from_embeddings([queries, positives, negatives], labels)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    assert got.item() < plain.compute_loss_from_embeddings([queries, positives, negatives], labels).item()
    with pytest.raises(ConfigError, match="needs a 'label' column"):
        masked.compute_loss_from_embeddings([queries, positives], None)
    with pytest.raises(
        ConfigError, match=r"needs a 'label' column in the training data \(it has score, sentence1"
    ):
        prepare_dataset(PAIRS, LossConfig(name="mnrl", mask_same_label=True), (0.0, 5.0))


def test_label_masking_is_for_mnrl_in_one_process(tiny_model, monkeypatch):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="mask_same_label works with loss mnrl only"):
        LossConfig(name="cached-mnrl", mask_same_label=True)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="not under torchrun"):
        build_loss(tiny_model, LossConfig(name="mnrl", mask_same_label=True))
