"""Losses by name, and the dataset shape each one needs.

Pair datasets keep the source's scores (DESIGN: "losses that need [0, 1] rescale themselves"): this module
rescales for CosineSimilarityLoss, thresholds into labels for ContrastiveLoss, and keeps only positive pairs
for the in-batch-negatives losses. CoSENT and AnglE rank pairs by score, so they take scores as given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datasets import Dataset

from embedlab.config import IN_BATCH_NEGATIVES, LOSSES, LossConfig
from embedlab.errors import ConfigError
from embedlab.hardware import world_size

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from torch import nn


def build_loss(model: SentenceTransformer, config: LossConfig) -> nn.Module:
    """The loss `config.name` names (see `embedlab.config.LOSSES`), wrapped in Matryoshka if asked.

    Example::

        loss = build_loss(model, LossConfig(name="cosent", matryoshka_dims=[384, 128]))
    """
    from sentence_transformers.sentence_transformer import losses

    spec = LOSSES[config.name]
    options = {key: getattr(config, key) for key in spec.options if getattr(config, key) is not None}
    if config.name in IN_BATCH_NEGATIVES and world_size() > 1:
        if config.mask_same_label:
            raise ConfigError(
                "loss.mask_same_label: not under torchrun (labels are not gathered across processes)"
            )
        options["gather_across_devices"] = True  # under torchrun: every process's batch are negatives
    if config.mask_same_label:
        from embedlab.train.masked_loss import LabelMaskedMNRL

        loss = LabelMaskedMNRL(model, **options)
    else:
        loss = getattr(losses, spec.cls)(model, **options)
    if config.matryoshka_dims:
        dim = model.get_embedding_dimension()
        if dim is not None and config.matryoshka_dims[0] > dim:
            raise ConfigError(
                f"loss.matryoshka_dims: {config.matryoshka_dims[0]} exceeds the model's dimension {dim}"
            )
        loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=config.matryoshka_dims)
    return loss


def prepare_dataset(dataset: Dataset, config: LossConfig, score_range: tuple[float, float]) -> Dataset:
    """Turn a pair dataset (sentence1, sentence2, score) into the columns the loss expects.
    Contrastive datasets (anchor, positive[, negative]) pass through to the in-batch-negatives losses.
    """
    columns = set(dataset.column_names)
    if config.name == "mse":  # (sentence, label = teacher embedding) rows from embedlab.train.distill
        return dataset
    if config.mask_same_label and "label" not in columns:  # before training, not at its first step
        has = ", ".join(sorted(columns))
        raise ConfigError(f"loss.mask_same_label needs a 'label' column in the training data (it has {has})")
    if "anchor" in columns:
        if config.name not in IN_BATCH_NEGATIVES:
            raise ConfigError(
                f"loss '{config.name}' needs scored pairs; anchor/positive data suits mnrl/cached-mnrl"
            )
        return dataset
    return _from_scores(dataset, config, score_range)


def _from_scores(dataset: Dataset, config: LossConfig, score_range: tuple[float, float]) -> Dataset:
    """Scores rescaled to 0–1 for cosine, 0/1 labels for contrastive, positive pairs for in-batch losses."""
    low, high = score_range
    if high <= low:
        raise ConfigError(f"score_range {score_range} is empty; set train.score_range to [min, max]")

    def unit(score: float) -> float:
        return min(1.0, max(0.0, (score - low) / (high - low)))

    threshold = config.positive_threshold
    if threshold is None:
        threshold = LOSSES[config.name].positive_threshold or 0.5
    if config.name == "cosine":
        return dataset.map(lambda row: {"score": unit(row["score"])})
    if config.name == "contrastive":
        return dataset.map(lambda row: {"score": 1.0 if unit(row["score"]) >= threshold else 0.0})
    if config.name in IN_BATCH_NEGATIVES:
        positives = dataset.filter(lambda row: unit(row["score"]) >= threshold)
        if len(positives) == 0:
            raise ConfigError(f"no pair scores at or above positive_threshold {threshold} (on a 0–1 scale)")
        return positives.remove_columns("score").rename_columns(
            {"sentence1": "anchor", "sentence2": "positive"}
        )
    return dataset
