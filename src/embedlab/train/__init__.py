"""Fine-tuning over sentence-transformers' Trainer: losses by name, checkpoints, resume, run folders."""

from embedlab.train.losses import build_loss, prepare_dataset
from embedlab.train.trainer import RunResult, train

__all__ = ["RunResult", "build_loss", "prepare_dataset", "train"]
