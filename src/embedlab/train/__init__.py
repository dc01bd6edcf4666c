"""Fine-tuning over sentence-transformers' Trainer: losses by name, checkpoints, resume, run folders."""

from embedlab.train.losses import build_loss, prepare_dataset
from embedlab.train.trainer import RunResult, fit, train, train_from_config

__all__ = ["RunResult", "build_loss", "fit", "prepare_dataset", "train", "train_from_config"]
