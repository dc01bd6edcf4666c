"""What embedlab hands sentence-transformers' Trainer: its arguments, a clean progress bar, and local
experiment trackers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from transformers import ProgressCallback

from embedlab.config import RunConfig
from embedlab.hardware import world_size
from embedlab.train.losses import IN_BATCH_NEGATIVES

DEV_NAME = "dev"
DEV_METRIC = f"{DEV_NAME}_spearman_cosine"  # what picks checkpoints, seeds and soups


class CleanProgress(ProgressCallback):
    """The Trainer's progress bar, with the loss and learning rate in the bar instead of raw dicts
    printed between bars, and one readable line per evaluation.
    """

    def on_log(self, args, state, control, logs=None, **kwargs):
        """Show loss and learning rate in the progress bar instead of printing raw dicts."""
        if not (state.is_world_process_zero and self.training_bar is not None and logs):
            return
        shown = {k: f"{v:.4g}" for k, v in logs.items() if k in ("loss", "learning_rate") and v is not None}
        if shown:
            self.training_bar.set_postfix(shown, refresh=False)
        scores = {
            k.removeprefix("eval_"): v
            for k, v in logs.items()
            if k.startswith("eval_") and "runtime" not in k and "per_second" not in k and isinstance(v, float)
        }
        if scores:
            text = ", ".join(
                f"{k} {v * 100:.2f}" if "spearman" in k or "pearson" in k else f"{k} {v:.4g}"
                for k, v in scores.items()
            )
            self.training_bar.write(f"step {state.global_step}: {text}")


def training_arguments(
    config: RunConfig,
    checkpoints: Path,
    *,
    has_dev: bool,
    bf16: bool,
    best_metric: str = DEV_METRIC,
    arguments_class=None,
):
    """The Trainer's arguments: evaluate and checkpoint together (per epoch, or every eval_steps) so the
    best dev checkpoint (by `best_metric`, an evaluator's metric name) can be restored at the end.
    `arguments_class`: default `SentenceTransformerTrainingArguments` (a reranker's: the CrossEncoder's).
    """
    import torch
    from sentence_transformers.sentence_transformer import SentenceTransformerTrainingArguments

    strategy = "steps" if config.training.eval_steps else "epoch"
    return (arguments_class or SentenceTransformerTrainingArguments)(
        output_dir=str(checkpoints),
        num_train_epochs=config.training.epochs,
        max_steps=config.training.max_steps or -1,
        per_device_train_batch_size=config.training.batch_size,
        per_device_eval_batch_size=config.eval.batch_size,
        learning_rate=config.training.learning_rate,
        warmup_steps=config.training.warmup_ratio,  # a float < 1 is a ratio of all steps (transformers 5)
        weight_decay=config.training.weight_decay,
        lr_scheduler_type=config.training.scheduler,
        eval_strategy=strategy if has_dev else "no",
        save_strategy=strategy,
        eval_steps=config.training.eval_steps,
        save_steps=config.training.eval_steps,
        save_total_limit=config.training.save_total_limit,
        load_best_model_at_end=has_dev,
        metric_for_best_model=f"eval_{best_metric}" if has_dev else None,
        greater_is_better=True,
        logging_steps=config.training.logging_steps,
        logging_nan_inf_filter=False,  # a diverged loss must show, not be averaged away
        seed=config.seed,
        data_seed=config.seed,
        bf16=bf16,
        # transformers refuses bf16 on a CPU, and runs torchrun's processes unconnected, unless told
        use_cpu=(bf16 or world_size() > 1) and not torch.cuda.is_available(),
        report_to=[t for t in config.training.report_to if t != "none"] or "none",
        dataloader_pin_memory=torch.cuda.is_available(),
        batch_sampler=_batch_sampler(config),
    )


def _batch_sampler(config: RunConfig):
    from sentence_transformers.base.sampler import BatchSamplers

    if config.training.batches == "distinct-labels":
        from embedlab.train.samplers import DistinctLabelBatchSampler

        return DistinctLabelBatchSampler
    # in-batch negatives: a duplicate text in a batch would be a false negative
    if config.loss.name in IN_BATCH_NEGATIVES:
        return BatchSamplers.NO_DUPLICATES
    return BatchSamplers.BATCH_SAMPLER


TRACKER_HOMES = {  # where each tracker writes unless the user's environment says otherwise
    "tensorboard": ("TENSORBOARD_LOGGING_DIR", "tensorboard"),
    "mlflow": ("MLFLOW_TRACKING_URI", "mlruns"),
    "trackio": ("TRACKIO_DIR", "trackio"),
}


@contextmanager
def local_trackers(config: RunConfig, run_dir: Path) -> Iterator[None]:
    """Point the chosen trackers at runs/NAME/tracking/ (local, offline) for the length of the run;
    a location the user set in the environment wins.
    """
    saved = dict(os.environ)
    for tracker in config.training.report_to:
        if tracker in TRACKER_HOMES:
            variable, folder = TRACKER_HOMES[tracker]
            location = (run_dir / "tracking" / folder).resolve()
            os.environ.setdefault(variable, f"file:{location}" if tracker == "mlflow" else str(location))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
