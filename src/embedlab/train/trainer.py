"""One training run: config → `runs/NAME/` with model/, config.yaml, checkpoints/, metrics.jsonl,
results.json and report.md. Built on sentence-transformers' Trainer, which does the optimisation,
per-epoch dev evaluation, checkpointing, best-model selection and resumption."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from datasets import Dataset
from transformers import ProgressCallback, TrainerCallback

from embedlab.config import RunConfig
from embedlab.errors import ConfigError
from embedlab.evaluate.sts import evaluate_sts, parse_tasks
from embedlab.hardware import resolve_bf16
from embedlab.models.registry import load_model
from embedlab.models.static import fold_projection, is_static
from embedlab.train.losses import IN_BATCH_NEGATIVES, build_loss, prepare_dataset
from embedlab.train.run_folder import (
    MetricsLog,
    RunResult,
    evaluate_before,
    last_checkpoint,
    prepare_run_dir,
    write_outputs,
)
from embedlab.train.sources import load_source

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEV_NAME = "dev"


class CleanProgress(ProgressCallback):
    """The Trainer's progress bar, with the loss and learning rate in the bar instead of raw dicts
    printed between bars, and one readable line per evaluation."""

    def on_log(self, args, state, control, logs=None, **kwargs):
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


def build_dev_evaluator(config: RunConfig):
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    if config.dev is None:
        return None
    pairs, _ = load_source(config.dev, config.seed)
    return EmbeddingSimilarityEvaluator(
        pairs["sentence1"],
        pairs["sentence2"],
        pairs["score"],
        name=DEV_NAME,
        batch_size=config.eval.batch_size,
        similarity_fn_names=["cosine"],
        show_progress_bar=False,
    )


def training_arguments(
    config: RunConfig,
    checkpoints: Path,
    *,
    has_dev: bool,
    bf16: bool,
    best_metric: str = f"{DEV_NAME}_spearman_cosine",
):
    """The Trainer's arguments: evaluate and checkpoint together (per epoch, or every eval_steps) so the
    best dev checkpoint (by `best_metric`, an evaluator's metric name) can be restored at the end."""
    import torch
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer import SentenceTransformerTrainingArguments

    strategy = "steps" if config.training.eval_steps else "epoch"
    in_batch_negatives = config.loss.name in IN_BATCH_NEGATIVES
    return SentenceTransformerTrainingArguments(
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
        seed=config.seed,
        data_seed=config.seed,
        bf16=bf16,
        use_cpu=bf16 and not torch.cuda.is_available(),  # transformers refuses bf16 on CPU without it
        report_to=[t for t in config.training.report_to if t != "none"] or "none",
        dataloader_pin_memory=torch.cuda.is_available(),
        # in-batch negatives: a duplicate text in a batch would be a false negative
        batch_sampler=BatchSamplers.NO_DUPLICATES if in_batch_negatives else BatchSamplers.BATCH_SAMPLER,
    )


TRACKER_HOMES = {  # where each tracker writes unless the user's environment says otherwise
    "tensorboard": ("TENSORBOARD_LOGGING_DIR", "tensorboard"),
    "mlflow": ("MLFLOW_TRACKING_URI", "mlruns"),
    "trackio": ("TRACKIO_DIR", "trackio"),
}


@contextmanager
def local_trackers(config: RunConfig, run_dir: Path) -> Iterator[None]:
    """Point the chosen trackers at runs/NAME/tracking/ (local, offline) for the length of the run;
    a location the user set in the environment wins."""
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


def build_model(
    config: RunConfig, projection_dim: int | None = None, log=lambda line: None
) -> SentenceTransformer:
    """The starting model: a known or local one, or a random RoBERTa-style encoder for `model: scratch`."""
    if config.scratch is None:
        return load_model(config.model)
    from embedlab.models.scratch import build_scratch_model, parameter_count

    scratch = config.scratch
    token_vectors = None
    if config.distill is not None and config.distill.init_embeddings:
        from embedlab.train.distill import teacher_token_vectors

        token_vectors = teacher_token_vectors(config.distill, scratch.tokenizer)
    model = build_scratch_model(
        scratch.tokenizer,
        layers=scratch.layers,
        hidden=scratch.hidden,
        heads=scratch.heads,
        intermediate=scratch.intermediate,
        max_length=scratch.max_length,
        dropout=scratch.dropout,
        projection_dim=projection_dim,
        token_vectors=token_vectors,
        seed=config.seed,
    )
    log(f"scratch encoder: {parameter_count(model) / 1e6:.1f}M parameters")
    return model


def check_before_training(config: RunConfig) -> None:
    """What can be checked before a run folder exists: evaluation task names, a scratch model's tokenizer."""
    if config.eval.tasks:
        parse_tasks(config.eval.tasks)  # a bad task name fails now, not after hours of training
    if config.scratch is not None and not (Path(config.scratch.tokenizer) / "tokenizer.json").is_file():
        raise ConfigError(
            f"scratch.tokenizer: no tokenizer in {config.scratch.tokenizer}; train one first: "
            f"embedlab tokenizer train CORPUS... --out {config.scratch.tokenizer}"
        )


def resume_point(run_dir: Path, resume: bool, log) -> str | None:
    """The checkpoint to continue from (None for a fresh run); `--resume` without one is an error."""
    checkpoints = run_dir / "checkpoints"
    resume_from = last_checkpoint(checkpoints) if resume else None
    if resume and resume_from is None:
        raise ConfigError(
            f"--resume: no checkpoint in {checkpoints} yet; start the run again without --resume"
        )
    if resume_from is not None:
        log(f"resuming from {Path(resume_from).name}")
    return resume_from


def prepare_student(
    config: RunConfig, train_dataset: Dataset | None, log=lambda line: None
) -> tuple[SentenceTransformer, Dataset | None]:
    """The model to train and, for distillation, the (sentence, teacher vector) dataset.

    Scratch encoders carry a projection to the teacher's width and static models get one, aligned by least
    squares; another student (a pretrained encoder) is distilled as it is, at its own width.
    """
    teacher_dim = None
    if config.distill is not None and train_dataset is None:
        from embedlab.train.distill import distillation_dataset

        train_dataset, teacher_dim = distillation_dataset(config.distill, config.seed)
    model = build_model(config, teacher_dim if config.distill and config.distill.projection else None, log)
    has_projection = config.scratch is not None or is_static(model)
    if (
        config.distill is not None
        and config.distill.projection
        and has_projection
        and train_dataset is not None
    ):
        from embedlab.train.distill import ALIGNMENT_SENTENCES, with_aligned_projection

        sample = train_dataset.select(range(min(len(train_dataset), ALIGNMENT_SENTENCES)))
        model = with_aligned_projection(
            model, sample["sentence"], np.asarray(sample["label"], dtype=np.float32)
        )
    student_dim = model.get_embedding_dimension()
    if teacher_dim is not None and student_dim != teacher_dim:
        raise ConfigError(
            f"model: {config.model} embeds in {student_dim} dimensions, the teacher "
            f"{config.distill.teacher} in {teacher_dim}; distillation needs equal widths: "  # type: ignore[union-attr]
            "set distill.projection: true (scratch encoders and static models)"
        )
    if config.training.max_seq_length:
        model.max_seq_length = config.training.max_seq_length
    return model, train_dataset


def fit(
    model: SentenceTransformer,
    data: Dataset,
    loss,
    evaluator,
    args,
    *,
    config: RunConfig,
    run_dir: Path,
    resume_from: str | None = None,
    callbacks: list[TrainerCallback] | None = None,
):
    """Run sentence-transformers' Trainer with embedlab's metrics log, progress bar and local trackers.

    Returns the Trainer (its state holds the best dev metric) and the metrics log (the training time).

    Example::

        trainer, log = fit(model, data, build_loss(model, config.loss), evaluator, args, config=config,
                           run_dir=config.run_dir)
    """
    from sentence_transformers.sentence_transformer import SentenceTransformerTrainer

    metrics_log = MetricsLog(run_dir / "metrics.jsonl", resume_from)
    with local_trackers(config, run_dir):  # trackers read their location when the Trainer is made
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=data,
            loss=loss,
            evaluator=evaluator,
            callbacks=[metrics_log, *(callbacks or [])],
        )
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(CleanProgress())
        trainer.train(resume_from_checkpoint=resume_from)
    return trainer, metrics_log


def train_from_config(
    config: RunConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: list[TrainerCallback] | None = None,
    train_dataset: Dataset | None = None,
    evaluator=None,
    best_metric: str | None = None,
    log=lambda line: None,
) -> RunResult:
    """Train as the config says, into `runs/NAME/`. Callers with their own data (the arXiv pipeline) pass
    `train_dataset` (in the loss's shape) and an `evaluator` whose `best_metric` picks the checkpoint kept;
    otherwise both come from the config's train and dev sources.

    Example::

        result = train_from_config(load_config("configs/stsb-minilm.yaml"), log=print)
        result.model_dir  # loads with SentenceTransformer(result.model_dir)
    """
    from transformers import set_seed

    check_before_training(config)
    run_dir = prepare_run_dir(config, resume, overwrite)
    resume_from = resume_point(run_dir, resume, log)
    set_seed(config.seed)
    model, train_dataset = prepare_student(config, train_dataset, log)
    if train_dataset is None:
        train_pairs, score_range = load_source(config.train, config.seed)  # type: ignore[arg-type]
        train_data = prepare_dataset(train_pairs, config.loss, score_range)
    else:
        train_data = prepare_dataset(train_dataset, config.loss, (0.0, 1.0))
    loss = build_loss(model, config.loss)
    evaluator = evaluator if evaluator is not None else build_dev_evaluator(config)
    before = evaluate_before(config, model, run_dir)
    bf16 = resolve_bf16(config.training.bf16)
    args = training_arguments(
        config,
        run_dir / "checkpoints",
        has_dev=evaluator is not None,
        bf16=bf16,
        **({"best_metric": best_metric} if best_metric else {}),
    )
    trainer, metrics_log = fit(
        model,
        train_data,
        loss,
        evaluator,
        args,
        config=config,
        run_dir=run_dir,
        resume_from=resume_from,
        callbacks=callbacks,
    )
    if is_static(model):
        model = fold_projection(model)
    best_dev = trainer.state.best_metric
    result = RunResult(
        run_dir=run_dir,
        model_dir=run_dir / "model",
        before=before,
        after=evaluate_sts(model, config.eval.tasks, batch_size=config.eval.batch_size)
        if config.eval.tasks
        else [],
        best_dev_spearman=best_dev * 100 if best_dev is not None else None,
        global_step=trainer.state.global_step,
        train_seconds=metrics_log.train_seconds,
        bf16=bf16,
    )
    write_outputs(config, model, result, train_examples=len(train_data), resumed=resume_from is not None)
    return result


train = train_from_config  # the short name the README and the arXiv app use
