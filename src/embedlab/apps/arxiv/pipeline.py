"""`embedlab pipeline`: preprocess → pairs → train → evaluate (base, fine-tuned, TF-IDF) → report.

Each stage records a key (a hash of the config it read and of the keys of the stages it consumed) in
RUN/.stages/NAME.json when it finishes. A stage whose key is unchanged is skipped; a changed key reruns it
and, through the keys, everything downstream. An interrupted training stage resumes from its last checkpoint.
Under torchrun every process trains; rank 0 alone prepares the data, evaluates and writes the records.
"""

from __future__ import annotations

import functools
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from embedlab.apps.arxiv.config import PipelineConfig
from embedlab.config import DataSource, EvalConfig, RunConfig
from embedlab.data.arxiv import ArxivSettings, default_arxiv_path, load_split, prepare_arxiv
from embedlab.data.pairs import contrastive_dataset, labelled_dataset, mine_hard_negatives, positive_pairs
from embedlab.evaluate.arxiv import stratified_sample
from embedlab.evaluate.retrieval import retrieval_inputs
from embedlab.hardware import is_main_process, wait_for_everyone
from embedlab.io import (
    atomic_dir,
    atomic_path,
    content_digest,
    folder_kind,
    open_dir,
    sha256_file,
    write_json_atomic,
    write_text_atomic,
)

EVAL_NAME = "arxiv-eval"
RUN_KIND = "arXiv pipeline run"  # the kind of folder `run_pipeline` makes (embedlab.io ownership)
RUN_NAMES = (
    ".stages", "config.yaml", "data", "pairs", "train", "eval", "report.md", "report.json", "*.png",
)  # fmt: skip
BEST_METRIC = f"{EVAL_NAME}_cosine_precision@10"
SYSTEMS = ("base", "finetuned", "tfidf")


def stage_key(*parts: object) -> str:
    """A short, stable hash of a stage's inputs: a stage reruns only when its key changes.

    Example::

        stage_key("pairs", config.pairs.model_dump(), config.seed)  # "3f1c0a..."
    """
    return content_digest(list(parts))


@dataclass
class StageLog:
    """What each stage did in this invocation: ran (with seconds) or skipped."""

    ran: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


class Stages:
    """The pipeline's stages, each recorded under `RUN/.stages/NAME.json` so an unchanged one is skipped.

    Example::

        stages = Stages(Path("runs/arxiv-demo"), log=print)
        stages.run("split", stage_key(settings), lambda: split_papers(...))
    """

    def __init__(self, run_dir: Path, log: Callable[[str], None], force: bool = False) -> None:
        self.directory = run_dir / ".stages"
        self.log = log
        self.force = force
        self.record = StageLog()

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    def state(self, name: str) -> dict | None:
        """The stage's record (key, finished, seconds), or None if it never started."""
        path = self._path(name)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def key(self, name: str) -> str | None:
        """The key the stage last ran with (equal keys, equal inputs), or None if it never started."""
        return (self.state(name) or {}).get("key")

    def run(self, name: str, key: str, work: Callable[[], object], *, every_rank: bool = False) -> None:
        """Run `work` unless the stage already finished with the same key (or `force` is set).

        Under torchrun a stage runs on rank 0 only, unless `every_rank` (training): then every process
        decides from the same record before rank 0 updates it.
        """
        state = self.state(name)
        unchanged = not self.force and state and state.get("key") == key and state.get("finished")
        if every_rank:
            wait_for_everyone()
        main = is_main_process()
        if unchanged or not (main or every_rank):
            if unchanged and main:
                self.log(f"[bold]{name}[/bold]: unchanged, skipped (key {key})")
                self.record.skipped.append(name)
            return
        self.log(f"[bold]{name}[/bold]: running (key {key})")
        if main:
            write_json_atomic(self._path(name), {"key": key, "finished": False})
        started = time.perf_counter()
        work()
        seconds = time.perf_counter() - started
        if main:
            write_json_atomic(self._path(name), {"key": key, "finished": True, "seconds": round(seconds, 1)})
        self.record.ran[name] = seconds
        self.log(f"[bold]{name}[/bold]: done in {seconds:.0f} s")

    def share(self, source: Stages, name: str, outputs: list[Path]) -> bool:
        """Take a stage another run folder finished — its outputs (paths relative to the run folder) and its
        record — unless this folder has begun the stage or holds one of those paths. The record's key still
        decides at `run`: where this run's inputs differ, the stage reruns over the copies.

        Example::

            stages.share(Stages(Path("runs/arxiv-minilm"), print), "evaluate-base", [Path("eval/base.json")])
        """
        record = source.state(name)
        here, there = self.directory.parent, source.directory.parent
        if not (record and record.get("finished")) or self.state(name) is not None:
            return False
        if any((here / path).exists() for path in outputs):
            return False
        for path in outputs:
            if (there / path).is_dir():
                with atomic_dir(here / path, kind=folder_kind(there / path) or "stage output") as staging:
                    shutil.copytree(there / path, staging, dirs_exist_ok=True)
            else:
                with atomic_path(here / path) as staging:
                    shutil.copyfile(there / path, staging)
        write_json_atomic(self._path(name), record)
        return True

    def started_with(self, name: str, key: str) -> bool:
        """The stage began with this key and did not finish (an interrupted run to resume)."""
        state = self.state(name)
        return bool(state and state.get("key") == key and not state.get("finished"))


def _write_dataset(dataset, path: Path) -> None:
    with atomic_path(path) as staging:
        dataset.to_parquet(str(staging))


def _read_dataset(path: Path):
    from datasets import Dataset

    return Dataset.from_parquet(str(path))


def open_run_dir(config: PipelineConfig) -> Path:
    """The pipeline's run folder: made and marked the first time, continued after; a user's is refused."""
    inputs = [config.data.path, config.model]
    return open_dir(config.run_dir, kind=RUN_KIND, names=RUN_NAMES, inputs=inputs)


def run_pipeline(
    config: PipelineConfig, *, log: Callable[[str], None] = print, force: bool = False
) -> StageLog:
    """Run the arXiv pipeline: split, pairs, train, evaluate base / fine-tuned / TF-IDF, report.

    Each stage is skipped when its inputs are unchanged; an interrupted training resumes.

    Example::

        config = load_pipeline_config("configs/arxiv-minilm.yaml")
        record = run_pipeline(config)
        record.ran  # {"split": 12.0, "pairs": 3.1, ...}
    """
    run_dir = config.run_dir
    if is_main_process():
        open_run_dir(config)
        write_text_atomic(run_dir / "config.yaml", config.to_yaml())
    stages = Stages(run_dir, log, force)
    preprocess_key = _preprocess_stage(config, stages, log)
    pairs_key = _pairs_stage(config, stages, preprocess_key, log)
    train_key = _train_stage(config, stages, pairs_key)
    if not is_main_process():
        return stages.record
    eval_settings = config.eval.model_dump()
    for system, identity in (("base", config.model), ("finetuned", train_key), ("tfidf", "tfidf")):
        key = stage_key("evaluate", system, identity, eval_settings, config.data_seed, preprocess_key)
        stages.run(f"evaluate-{system}", key, functools.partial(_evaluate, config, system))

    from embedlab.apps.arxiv.report import write_report

    started = time.perf_counter()
    write_report(config, stages.record)
    log(f"[bold]report[/bold]: {run_dir / 'report.md'} ({time.perf_counter() - started:.0f} s)")
    return stages.record


# Each stage's key hashes everything its output depends on, the earlier stages' keys included; changing
# what goes into a key reruns that stage for every existing run folder, so keys change only on purpose.


def _preprocess_stage(config: PipelineConfig, stages: Stages, log: Callable[[str], None]) -> str:
    source = Path(config.data.path) if config.data.path else default_arxiv_path()
    settings = ArxivSettings(
        label_level=config.data.label_level,
        min_papers=config.data.min_papers,
        eval_fraction=config.data.eval_fraction,
        test_fraction=config.data.test_fraction,
        seed=config.data_seed,
    )
    key = stage_key("preprocess", settings.__dict__, sha256_file(source) if source.is_file() else str(source))
    stages.run("preprocess", key, lambda: _preprocess(source, config.data_dir, settings, log))
    return key


def _pairs_stage(
    config: PipelineConfig, stages: Stages, preprocess_key: str, log: Callable[[str], None]
) -> str:
    key = stage_key(
        "pairs",
        config.pairs.model_dump(),
        config.loss.name,
        config.seed,
        preprocess_key,
        config.model if config.pairs.hard_negatives else None,
        # (the key of a run from before the option exists stays the same)
        *(["labelled"] if config.labelled_pairs else []),
    )
    stages.run("pairs", key, lambda: _build_pairs(config, log))
    return key


def _train_stage(config: PipelineConfig, stages: Stages, pairs_key: str) -> str:
    """Fine-tune on every rank (torchrun); an interrupted training with the same key resumes."""
    key = stage_key(
        "train",
        config.model,
        # (a run from before mask_same_label existed keeps its key)
        config.loss.model_dump(exclude=None if config.loss.mask_same_label else {"mask_same_label"}),
        config.training.model_dump(exclude=None if config.labelled_pairs else {"batches"}),
        config.seed,
        config.eval.training_eval_queries,
        pairs_key,
    )
    wait_for_everyone()  # under torchrun: the data rank 0 prepared is ready
    checkpoints = config.train_dir / "checkpoints"
    resume = stages.started_with("train", key) and any(checkpoints.glob("checkpoint-*"))
    stages.run("train", key, lambda: _train(config, resume), every_rank=True)
    return key


def _preprocess(source: Path, out: Path, settings: ArxivSettings, log: Callable[[str], None]) -> None:
    manifest = prepare_arxiv(source, out, settings)
    aside = sum(manifest["set_aside"].values())
    log(
        f"  {manifest['papers']:,} papers, {manifest['labels']} labels, splits {manifest['splits']}; "
        f"{aside:,} set aside {manifest['set_aside'] or ''}"
    )


def _build_pairs(config: PipelineConfig, log: Callable[[str], None]) -> None:
    out = config.pairs_dir
    out.mkdir(parents=True, exist_ok=True)
    pairs = config.pairs
    for split, count in (("train", pairs.train_pairs), ("eval", pairs.eval_pairs)):
        papers = load_split(config.data_dir, split)
        seed = config.seed + (0 if split == "train" else 1)
        if config.loss.name == "contrastive":
            dataset = labelled_dataset(
                papers, count, anchor_field=pairs.anchor_field, positive_field=pairs.positive_field, seed=seed
            )
        else:
            chosen = positive_pairs(
                papers,
                count,
                list(pairs.kinds),
                anchor_field=pairs.anchor_field,
                positive_field=pairs.positive_field,
                balance=pairs.balance,
                seed=seed,
            )
            negatives = None
            if pairs.hard_negatives:
                from embedlab.runtime.encoder import TorchEncoder

                pool = min(pairs.hard_negative_pool, len(papers))
                log(f"  {split}: mining hard negatives with {config.model} among {pool:,} papers (minutes)")
                negatives = mine_hard_negatives(
                    papers,
                    chosen,
                    TorchEncoder(config.model, bf16=False),
                    field=pairs.positive_field,
                    anchor_field=pairs.anchor_field,
                    pool=pairs.hard_negative_pool,
                    seed=seed,
                )
            dataset = contrastive_dataset(
                papers,
                chosen,
                anchor_field=pairs.anchor_field,
                positive_field=pairs.positive_field,
                negatives=negatives,
                with_labels=config.labelled_pairs,
            )
        _write_dataset(dataset, out / f"{split}.parquet")
        log(f"  {split}: {len(dataset):,} pairs ({', '.join(dataset.column_names)})")


def training_evaluator(config: PipelineConfig, *, whole_split: bool = False):
    """InformationRetrievalEvaluator on a stratified sample of the run's eval split (queries and corpus from
    the same sampled papers), used to pick the checkpoint kept; `whole_split`: on every eval-split paper.

    Example::

        evaluator = training_evaluator(load_pipeline_config("configs/arxiv-minilm.yaml"))
        evaluator(model)[BEST_METRIC]  # precision@10 on the eval split, 0–1
    """
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    papers = load_split(config.data_dir, "eval")
    if not whole_split:
        papers = stratified_sample(papers, config.eval.training_eval_queries, config.data_seed)
    inputs = retrieval_inputs(papers, config.eval.query_field, config.eval.corpus_field)
    return InformationRetrievalEvaluator(
        inputs.queries,
        inputs.corpus,
        inputs.relevant,
        name=EVAL_NAME,
        precision_recall_at_k=[1, 5, 10],
        batch_size=config.eval.batch_size,
        show_progress_bar=False,
    )


def _train(config: PipelineConfig, resume: bool) -> None:
    """Fine-tune on the mined pairs, keeping the checkpoint best at arXiv retrieval on the eval split."""
    from embedlab.train import build_loss, finish_run, fit, prepare_dataset, prepare_student, start_run

    pairs_dir = config.pairs_dir

    run_config = RunConfig(
        name=config.train_dir.name,  # the trainer's run folder is output_dir/name: RUN/train
        model=config.model,
        seed=config.seed,
        output_dir=str(config.train_dir.parent),
        train=DataSource(path=str(pairs_dir / "train.parquet")),
        dev=None,
        loss=config.loss,
        training=config.training,
        eval=EvalConfig(tasks=[], before=False, batch_size=config.eval.batch_size),
    )
    run = start_run(run_config, resume=resume, overwrite=not resume)
    model, _ = prepare_student(run_config)
    data = prepare_dataset(_read_dataset(pairs_dir / "train.parquet"), config.loss, (0.0, 1.0))
    evaluator = training_evaluator(config)
    trainer, log = fit(model, data, build_loss(model, config.loss), evaluator, run, best_metric=BEST_METRIC)
    finish_run(run, model, trainer, log, train_examples=len(data), before=None)


def _evaluate(config: PipelineConfig, system: str) -> None:
    from embedlab.evaluate.arxiv import evaluate_arxiv

    model = {"base": config.model, "finetuned": str(config.model_dir), "tfidf": None}[system]
    payload = evaluate_arxiv(model, config.data_dir, config.eval, seed=config.data_seed, with_map=True)
    write_json_atomic(config.eval_dir / f"{system}.json", {"system": system, **payload})
