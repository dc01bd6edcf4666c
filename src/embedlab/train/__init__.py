"""Fine-tuning over sentence-transformers' Trainer: losses by name, checkpoints, resume, run folders.

`train_from_config` runs a whole config; its steps (`start_run`, `prepare_student`, `fit`, `finish_run`)
compose for callers with their own data or evaluator.
"""

from embedlab.train.losses import build_loss, prepare_dataset
from embedlab.train.trainer import (
    RunResult,
    TrainingRun,
    finish_run,
    fit,
    prepare_student,
    start_run,
    train,
    train_from_config,
)

__all__ = [
    "RunResult",
    "TrainingRun",
    "build_loss",
    "finish_run",
    "fit",
    "prepare_dataset",
    "prepare_student",
    "start_run",
    "train",
    "train_from_config",
]
