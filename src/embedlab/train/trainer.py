"""One training run: config → `runs/NAME/` with model/, config.yaml, checkpoints/, metrics.jsonl,
results.json and report.md. Built on sentence-transformers' Trainer, which does the optimisation,
per-epoch dev evaluation, checkpointing, best-model selection and resumption.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from datasets import Dataset
from transformers import ProgressCallback, TrainerCallback

from embedlab.config import DataSource, RunConfig
from embedlab.errors import ConfigError
from embedlab.hardware import is_main_process, resolve_bf16, wait_for_everyone
from embedlab.models.registry import load_model
from embedlab.models.static import fold_projection, is_static
from embedlab.train.hf_trainer import DEV_METRIC, DEV_NAME, CleanProgress, local_trackers, training_arguments
from embedlab.train.losses import build_loss, prepare_dataset
from embedlab.train.run_folder import (
    MetricsLog,
    RunResult,
    checkpoint_folders,
    evaluate_before,
    finished_run,
    is_complete,
    last_checkpoint,
    prepare_run_dir,
    write_outputs,
)
from embedlab.train.sources import load_source

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from embedlab.evaluate.records import EvalRecord


def build_dev_evaluator(config: RunConfig):
    """The dev-split evaluator (cosine Spearman) the Trainer uses to pick the best checkpoint.

    Example::

        evaluator = build_dev_evaluator(config)  # None when the config has no dev split
    """
    if config.dev is None:
        return None
    return dev_evaluator(config.dev, config.seed, config.eval.batch_size)


def dev_evaluator(source: DataSource, seed: int = 42, batch_size: int = 64):
    """The cosine-Spearman evaluator of one scored source (a benchmark split or a pair file).

    Example::

        evaluator = dev_evaluator(DataSource(task="stsb", split="dev"))
        dev_spearman(evaluator, model)  # 0.8921
    """
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    pairs, _ = load_source(source, seed)
    return EmbeddingSimilarityEvaluator(
        pairs["sentence1"],
        pairs["sentence2"],
        pairs["score"],
        name=DEV_NAME,
        batch_size=batch_size,
        similarity_fn_names=["cosine"],
        show_progress_bar=False,
    )


def dev_spearman(evaluator, model: SentenceTransformer) -> float:
    """The cosine Spearman (0–1) that a dev evaluator gives `model`: what picks checkpoints and soups.

    Example::

        dev_spearman(build_dev_evaluator(config), model)  # 0.8921
    """
    return float(evaluator(model)[DEV_METRIC])


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
    if config.eval.tasks:  # a bad task name fails now, not after hours of training
        from embedlab.evaluate.suite import split_tasks

        selection = split_tasks(",".join(config.eval.tasks))
        others = [*selection.arxiv, *(["mrpc"] if selection.pair_classification else [])]
        others += ["arxiv-clustering"] if selection.clustering else []
        if others or selection.overview:
            raise ConfigError(
                f"eval.tasks: a run scores STS and retrieval:DIR tasks; {', '.join(others) or 'suite'}: "
                "with `embedlab eval RUN/model --tasks ...` after it"
            )
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
            f"resume=True: no complete checkpoint in {checkpoints} yet; start the run again without it"
        )
    if resume_from is not None:
        cut_short = [p for p in checkpoint_folders(checkpoints) if not is_complete(p)]
        if is_main_process():
            for folder in cut_short:  # the Trainer's own, half-written when a crash stopped it
                shutil.rmtree(folder, ignore_errors=True)
        wait_for_everyone()
        skipped = f" (passed over {', '.join(p.name for p in cut_short)}, cut short)" if cut_short else ""
        log(f"resuming from {Path(resume_from).name}{skipped}")
    return resume_from


def prepare_student(config: RunConfig, log=lambda line: None) -> tuple[SentenceTransformer, Dataset | None]:
    """The model to train and, for distillation, the (sentence, teacher vector) dataset (else None).

    Scratch encoders carry a projection to the teacher's width and static models get one, aligned by least
    squares; another student (a pretrained encoder) is distilled as it is, at its own width.
    """
    teacher_dim, train_dataset = None, None
    if config.distill is not None:
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


@dataclass
class TrainingRun:
    """A run folder made ready for training: its config, folder, the checkpoint to resume and precision.

    Example::

        run = start_run(config, resume=True)
        run.resume_from  # "runs/stsb-minilm/checkpoints/checkpoint-360", or None for a fresh run
    """

    config: RunConfig
    run_dir: Path
    resume_from: str | None
    bf16: bool


def start_run(config: RunConfig, *, resume: bool = False, overwrite: bool = False, log=lambda line: None):
    """Check the config, make (or, with `resume`, check) the run folder, find the checkpoint, seed.
    Under torchrun, rank 0 makes the folder while the other processes wait for it.

    Example::

        run = start_run(load_config("configs/stsb-minilm.yaml"), overwrite=True)
    """
    from transformers import set_seed

    check_before_training(config)
    if is_main_process():
        prepare_run_dir(config, resume, overwrite)
    wait_for_everyone()
    run_dir = config.run_dir
    resume_from = resume_point(run_dir, resume, log)
    set_seed(config.seed)
    return TrainingRun(config, run_dir, resume_from, resolve_bf16(config.training.bf16))


def fit(
    model: SentenceTransformer,
    data: Dataset,
    loss,
    evaluator,
    run: TrainingRun,
    *,
    best_metric: str | None = None,
    callbacks: list[TrainerCallback] | None = None,
):
    """Train `model` on `data` with sentence-transformers' Trainer, checkpointing into the run folder;
    with an `evaluator`, the checkpoint best by `best_metric` (default: the dev Spearman) is kept.

    Returns the Trainer (its state holds the best metric) and the metrics log (the training time).

    Example::

        run = start_run(config)
        model, _ = prepare_student(config)
        data = prepare_dataset(pairs, config.loss, (0.0, 5.0))
        trainer, log = fit(model, data, build_loss(model, config.loss), evaluator, run)
    """
    from sentence_transformers.sentence_transformer import SentenceTransformerTrainer

    config = run.config
    args = training_arguments(
        config,
        run.run_dir / "checkpoints",
        has_dev=evaluator is not None,
        bf16=run.bf16,
        **({"best_metric": best_metric} if best_metric else {}),
    )
    metrics_log = MetricsLog(run.run_dir / "metrics.jsonl", run.resume_from)
    with local_trackers(config, run.run_dir):  # trackers read their location when the Trainer is made
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
        trainer.train(resume_from_checkpoint=run.resume_from)
    return trainer, metrics_log


def finish_run(
    run: TrainingRun,
    model: SentenceTransformer,
    trainer,
    metrics_log: MetricsLog,
    *,
    train_examples: int,
    before,
) -> RunResult:
    """Evaluate the trained model on the config's tasks and write model, card, results and report.
    Under torchrun only rank 0 evaluates and writes; the other processes get a result without figures.

    Example::

        result = finish_run(run, model, trainer, log, train_examples=len(data), before=None)
    """
    config = run.config
    if is_static(model):
        model = fold_projection(model)
    best = trainer.state.best_metric
    if not is_main_process():
        return RunResult(
            run.run_dir, run.run_dir / "model", None, [], None, trainer.state.global_step, 0.0, run.bf16
        )
    result = RunResult(
        run_dir=run.run_dir,
        model_dir=run.run_dir / "model",
        before=before,
        after=[],  # scored on the saved model by write_outputs, as a user loads it
        best_dev_spearman=best * 100 if best is not None else None,
        global_step=trainer.state.global_step,
        train_seconds=metrics_log.train_seconds,
        bf16=run.bf16,
    )
    write_outputs(config, model, result, train_examples=train_examples, resumed=run.resume_from is not None)
    return result


def train_from_config(
    config: RunConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: list[TrainerCallback] | None = None,
    before: list[EvalRecord] | None = None,
    log=lambda line: None,
) -> RunResult:
    """Train as the config says, into `runs/NAME/`: its train and dev sources, loss and evaluation tasks.
    `before`: the starting model's figures when already measured (not evaluated again).
    Callers with their own data or evaluator (the arXiv app) compose `start_run`, `prepare_student`,
    `fit` and `finish_run` instead.

    Example::

        result = train_from_config(load_config("configs/stsb-minilm.yaml"), log=print)
        result.model_dir  # loads with SentenceTransformer(result.model_dir)
    """
    if config.stages is not None:
        from embedlab.train.stages import train_stages

        return train_stages(config, resume=resume, overwrite=overwrite, callbacks=callbacks, log=log)
    if config.cross_encoder is not None:
        from embedlab.train.cross_encoder import train_cross_encoder

        return train_cross_encoder(config, resume=resume, overwrite=overwrite, callbacks=callbacks, log=log)
    if config.retrieval is not None:
        return train_retrieval(config, resume=resume, overwrite=overwrite, callbacks=callbacks, log=log)
    run = start_run(config, resume=resume, overwrite=overwrite, log=log)
    model, distillation = prepare_student(config, log)
    if distillation is None:
        train_pairs, score_range = load_source(config.train, config.seed)  # type: ignore[arg-type]
        data = prepare_dataset(train_pairs, config.loss, score_range)
    else:
        data = prepare_dataset(distillation, config.loss, (0.0, 1.0))
    evaluator = build_dev_evaluator(config)
    before = evaluate_before(config, model, run.run_dir, known=before)
    trainer, metrics_log = fit(
        model, data, build_loss(model, config.loss), evaluator, run, callbacks=callbacks
    )
    return finish_run(run, model, trainer, metrics_log, train_examples=len(data), before=before)


def train_retrieval(
    config: RunConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: list[TrainerCallback] | None = None,
    log=lambda line: None,
) -> RunResult:
    """A retrieval run (`retrieval:` data): the documents read and checked before the run folder is made,
    queries split (held-out ones written to `RUN/held-out/`), hard negatives mined with the starting model,
    the checkpoint chosen by dev nDCG@10, the saved model scored on the held-out queries and `eval.tasks`.

    Example::

        result = train_retrieval(load_config("configs/retrieval-arxiv-minilm.yaml"), log=print)
        result.after  # held-out nDCG@10, recall@10 ... as `embedlab eval` gives them
    """
    from embedlab.train.retrieval import DEV_METRIC as RETRIEVAL_METRIC
    from embedlab.train.retrieval import prepare_retrieval, read_retrieval_data

    rows = read_retrieval_data(config.retrieval)  # type: ignore[arg-type]
    run = start_run(config, resume=resume, overwrite=overwrite, log=log)
    model, _ = prepare_student(config, log)
    training = prepare_retrieval(config, model, rows, log)
    before = evaluate_before(config, model, run.run_dir)
    loss = build_loss(model, config.loss)
    trainer, metrics_log = fit(
        model, training.data, loss, training.evaluator, run, best_metric=RETRIEVAL_METRIC, callbacks=callbacks
    )
    return finish_run(run, model, trainer, metrics_log, train_examples=len(training.data), before=before)


def keep_or_train(
    config: RunConfig,
    label: str,
    *,
    starting: str,
    same_as: RunConfig | None = None,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: list[TrainerCallback] | None = None,
    before: list[EvalRecord] | None = None,
    log=lambda line: None,
) -> RunResult:
    """The run of `config` when it finished before with exactly this config (or `same_as`, the same training
    under another name), else trained — from its last checkpoint when `resume` and there is one. What staged
    runs and seed sweeps do for each of their runs.

    Example::

        keep_or_train(config, "seed 43", starting="training", resume=True, log=print).model_dir
    """
    if not overwrite:
        for candidate in (config, same_as):
            done = finished_run(candidate) if candidate is not None else None
            if done is not None:
                log(f"{label}: finished before, kept ({done.run_dir})")
                return done
    log(f"{label}: {starting}")
    again = resume and last_checkpoint(config.run_dir / "checkpoints") is not None
    return train_from_config(
        config, resume=again, overwrite=overwrite, callbacks=callbacks, before=before, log=log
    )


train = train_from_config  # the short name the README uses
