"""Losses by name, and the dataset shape each one needs.

Pair datasets keep the source's scores (DESIGN: "losses that need [0, 1] rescale themselves"): this module
rescales for CosineSimilarityLoss, thresholds into labels for ContrastiveLoss, and keeps only positive pairs
for the in-batch-negatives losses. CoSENT and AnglE rank pairs by score, so they take scores as given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datasets import Dataset

from embedlab.config import LossConfig
from embedlab.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from torch import nn

IN_BATCH_NEGATIVES = {"mnrl", "cached-mnrl"}
DEFAULT_POSITIVE_THRESHOLD = {"mnrl": 0.8, "cached-mnrl": 0.8, "contrastive": 0.5}


def build_loss(model: SentenceTransformer, config: LossConfig) -> nn.Module:
    from sentence_transformers.sentence_transformer import losses

    scale = {} if config.scale is None else {"scale": config.scale}
    name = config.name
    if name == "cosent":
        loss = losses.CoSENTLoss(model, **scale)
    elif name == "angle":
        loss = losses.AnglELoss(model, **scale)
    elif name == "cosine":
        loss = losses.CosineSimilarityLoss(model)
    elif name == "mnrl":
        loss = losses.MultipleNegativesRankingLoss(model, **scale)
    elif name == "cached-mnrl":
        loss = losses.CachedMultipleNegativesRankingLoss(
            model, mini_batch_size=config.mini_batch_size, **scale
        )
    elif name == "contrastive":
        loss = losses.ContrastiveLoss(model, margin=config.margin)
    elif name == "mse":
        loss = losses.MSELoss(model)
    else:  # pragma: no cover - LossConfig validates the name
        raise ConfigError(f"unknown loss '{name}'")
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
    Contrastive datasets (anchor, positive[, negative]) pass through to the in-batch-negatives losses."""
    columns = set(dataset.column_names)
    if config.name == "mse":  # (sentence, label = teacher embedding) rows from embedlab.train.distill
        return dataset
    if "anchor" in columns:
        if config.name not in IN_BATCH_NEGATIVES:
            raise ConfigError(
                f"loss '{config.name}' needs scored pairs; anchor/positive data suits mnrl/cached-mnrl"
            )
        return dataset
    low, high = score_range
    if high <= low:
        raise ConfigError(f"score_range {score_range} is empty; set train.score_range to [min, max]")

    def unit(score: float) -> float:
        return min(1.0, max(0.0, (score - low) / (high - low)))

    threshold = config.positive_threshold
    if threshold is None:
        threshold = DEFAULT_POSITIVE_THRESHOLD.get(config.name, 0.5)
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
