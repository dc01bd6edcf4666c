"""The run folder `runs/NAME/`: its creation and resumption, the metrics log, and the outputs written at the
end (model/ with its card, results.json, report.md), each written atomically.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from transformers import TrainerCallback

from embedlab.config import RunConfig
from embedlab.errors import ConfigError, TrainingError
from embedlab.evaluate.records import EvalRecord, records_from_json
from embedlab.evaluate.report import markdown_table, model_card, table_rows
from embedlab.hardware import is_main_process, machine_summary
from embedlab.io import atomic_dir, claim_dir, folder_kind, is_owned, write_json_atomic, write_text_atomic

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@dataclass
class RunResult:
    """What a training run produced: folders, before/after records, time.

    Example::

        result = train_from_config(load_config("configs/stsb-minilm.yaml"))
        result.model_dir, result.after
    """

    run_dir: Path
    model_dir: Path
    before: list[EvalRecord] | None
    after: list[EvalRecord]
    best_dev_spearman: float | None
    global_step: int
    train_seconds: float
    bf16: bool


class MetricsLog(TrainerCallback):
    """Appends every Trainer log (loss, learning rate, dev metrics) to metrics.jsonl, so a run can be
    plotted or inspected while it trains, and keeps the training time across resumes.

    On a resume from step N, entries after N (which the resumed run logs again) are dropped first, and
    the time already spent is read from the checkpoint (`embedlab_time.json`, written at every save).

    Example::

        log = MetricsLog(run_dir / "metrics.jsonl", resume_from="runs/x/checkpoints/checkpoint-180")
    """

    TIME_FILE = "embedlab_time.json"

    def __init__(self, path: Path, resume_from: str | None = None) -> None:
        self.path = path
        self.seconds_before = 0.0
        self.started = time.perf_counter()
        if resume_from is not None:
            step = _checkpoint_step(resume_from)
            if is_main_process():
                self._drop_entries_after(step)
            saved = Path(resume_from) / self.TIME_FILE
            if saved.is_file():
                self.seconds_before = float(json.loads(saved.read_text(encoding="utf-8"))["train_seconds"])

    @property
    def train_seconds(self) -> float:
        """Training seconds so far, including the time before a resume."""
        return self.seconds_before + time.perf_counter() - self.started

    def _drop_entries_after(self, step: int) -> None:
        if not self.path.is_file():
            return
        kept = [
            line
            for line in self.path.read_text(encoding="utf-8").splitlines(keepends=True)
            if line.strip() and json.loads(line).get("step", 0) <= step
        ]
        write_text_atomic(self.path, "".join(kept))

    def on_train_begin(self, args, state, control, **kwargs):
        """Start the clock."""
        self.started = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        """Append the log entry to `metrics.jsonl` (rank 0 only); stop a diverged run (every rank)."""
        if logs and state.is_world_process_zero:
            entry = {"step": state.global_step, "epoch": state.epoch, **logs}
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")
        bad = {k: v for k, v in (logs or {}).items() if isinstance(v, float) and not math.isfinite(v)}
        if bad:
            shown = ", ".join(f"{k} {v}" for k, v in bad.items())
            raise TrainingError(
                f"training diverged at step {state.global_step} ({shown}); no model was saved. Lower "
                f"training.learning_rate (now {args.learning_rate:g}) and start again with overwrite"
            )

    def on_save(self, args, state, control, **kwargs):
        """Keep the cumulative training time beside the checkpoint, for an honest total after resume."""
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            write_json_atomic(folder / self.TIME_FILE, {"train_seconds": round(self.train_seconds, 1)})


def finished_run(config: RunConfig) -> RunResult | None:
    """The result of a run that already finished with exactly this config (None otherwise): what a seed
    sweep or a staged run keeps instead of training again.

    Example::

        finished_run(config)  # RunResult(...) once runs/NAME/results.json holds this config
    """
    results = config.run_dir / "results.json"
    if not results.is_file():
        return None
    saved = json.loads(results.read_text(encoding="utf-8"))
    if not _same_config(saved.get("config"), config):
        return None
    return RunResult(
        run_dir=config.run_dir,
        model_dir=config.run_dir / "model",
        before=records_from_json(saved["before"]) if saved.get("before") else None,
        after=records_from_json(saved["after"]),
        best_dev_spearman=saved.get("best_dev_spearman"),
        global_step=saved["global_step"],
        train_seconds=saved["train_seconds"],
        bf16=saved["bf16"],
    )


def _same_config(saved: dict | None, config: RunConfig) -> bool:
    """Whether a run's saved config is `config`, read with today's defaults: a setting added to embedlab
    after the run (at its default) does not make a finished run unfinished. Precision (`training.bf16`) is
    how a run was computed, not what it trained: a finished two-hour stage is kept when asked again with
    `--bf16`.
    """
    if saved is None:
        return False
    try:
        then = type(config).model_validate(saved)
    except ValueError:  # a config embedlab no longer reads is not this one
        return False
    return _recipe(then.model_dump(mode="json")) == _recipe(config.model_dump(mode="json"))


def _recipe(dumped: dict) -> dict:
    """A dumped run config less its precision: what makes two runs the same run, for keeping and resuming."""
    training = {key: value for key, value in (dumped.get("training") or {}).items() if key != "bf16"}
    return dumped | {"training": training}


def _with_defaults(saved: dict, config: RunConfig) -> dict:
    """A saved config with the options added since it was saved at their defaults (a run of an older embedlab
    resumes); as saved where it no longer validates.
    """
    from pydantic import ValidationError

    try:
        return type(config).model_validate(saved).model_dump(mode="json")
    except ValidationError:
        return saved


def _checkpoint_step(checkpoint: str) -> int:
    state = Path(checkpoint) / "trainer_state.json"
    if state.is_file():
        return int(json.loads(state.read_text(encoding="utf-8")).get("global_step", 0))
    return int(Path(checkpoint).name.rsplit("-", 1)[-1])


def prepare_run_dir(config: RunConfig, resume: bool, overwrite: bool) -> Path:
    """Create (or, with `resume`, check) the run folder and save the config into it.

    Refuses an existing run unless `resume` or `overwrite`; resuming needs the same config, precision aside.

    Example::

        run_dir = prepare_run_dir(config, resume=False, overwrite=False)
    """
    run_dir = config.run_dir
    saved = run_dir / "config.yaml"
    if resume:
        if not saved.is_file() or folder_kind(run_dir) != RUN_KIND:
            raise ConfigError(f"resume=True: {run_dir} holds no embedlab run to resume (no config.yaml)")
        previous = _recipe(_with_defaults(yaml.safe_load(saved.read_text(encoding="utf-8")), config))
        current = _recipe(config.model_dump(mode="json"))
        changed = sorted(key for key in current if previous.get(key) != current[key] and key != "eval")
        if changed:
            raise ConfigError(
                f"resume=True: the config differs from {saved} in {', '.join(changed)}; "
                "resume with the same config"
            )
        return run_dir
    ours = run_dir.is_dir() and is_owned(run_dir, RUN_KIND)
    never_checkpointed = last_checkpoint(run_dir / "checkpoints") is None and not (run_dir / "model").exists()
    if ours and never_checkpointed:  # a run that stopped before its first checkpoint starts afresh
        (run_dir / "metrics.jsonl").unlink(missing_ok=True)
    elif ours and not overwrite:
        raise ConfigError(
            f"{run_dir} already exists; pass --resume to continue it, --overwrite to replace it, "
            f"or --set name=OTHER"
        )
    else:  # refuses a folder of the user's, another kind's, or one holding this run's inputs
        claim_dir(run_dir, kind=RUN_KIND, names=RUN_NAMES, force=overwrite, inputs=run_inputs(config))
    write_text_atomic(saved, config.to_yaml())
    return run_dir


RUN_KIND = "training run"  # the kind of folder `prepare_run_dir` makes (embedlab.io ownership)
RUN_NAMES = (
    "config.yaml", "before.json", "checkpoints", "metrics.jsonl", "model", "results.json", "report.md",
    "tracking", "held-out",
)  # fmt: skip


def run_inputs(config: RunConfig) -> list[str]:
    """What a run reads from disk (its starting model, data files, tokenizer): never inside its output."""
    sources = [config.train, config.dev]
    paths = [config.model, *(s.path for s in sources if s is not None and s.path)]
    return paths + ([config.scratch.tokenizer] if config.scratch is not None else [])


def checkpoint_folders(checkpoints: Path) -> list[Path]:
    """Every `checkpoint-N` folder under `checkpoints`, oldest first, complete or not."""
    if not checkpoints.is_dir():
        return []
    found = [p for p in checkpoints.iterdir() if p.is_dir() and re.fullmatch(r"checkpoint-\d+", p.name)]
    return sorted(found, key=lambda p: int(p.name.rsplit("-", 1)[1]))


def is_complete(checkpoint: Path) -> bool:
    """True when the Trainer finished writing `checkpoint`: its trainer_state.json, written after the weights,
    optimizer and RNG states, is there and whole (the Trainer writes in place; a kill can cut it short).
    """
    try:
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def last_checkpoint(checkpoints: Path) -> str | None:
    """The newest complete `checkpoint-N` folder under `checkpoints`, or None: one a crash cut short while
    it was being saved is passed over, so a resume always starts from whole state.

    Example::

        last_checkpoint(Path("runs/stsb-minilm/checkpoints"))  # ".../checkpoint-360"
    """
    complete = [p for p in checkpoint_folders(checkpoints) if is_complete(p)]
    return str(complete[-1]) if complete else None


def run_tasks(config: RunConfig) -> list[str]:
    """What a run is scored on: `eval.tasks`, and a retrieval run's held-out queries (`RUN/held-out`).

    Example::

        run_tasks(config)  # ["stsb", "sickr", ..., "retrieval:runs/adapt/held-out"]
    """
    if config.retrieval is None:
        return list(config.eval.tasks)
    from embedlab.train.retrieval import held_out_task

    return [*config.eval.tasks, held_out_task(config.run_dir)]


def evaluate_model(model, tasks: list[str], *, name, batch_size: int) -> list[EvalRecord]:
    """`embedlab.evaluate.suite.evaluate_model`, imported when a run is scored."""
    from embedlab.evaluate.suite import evaluate_model as evaluate

    return evaluate(model, tasks, name=name, batch_size=batch_size)


def evaluate_before(
    config: RunConfig, model: SentenceTransformer, run_dir: Path, known: list[EvalRecord] | None = None
) -> list[EvalRecord] | None:
    """The starting model's figures, computed once per run (a resumed run reuses them); rank 0 only.
    `known`: the figures of this starting model on these tasks, already measured (a seed sweep's seeds share
    their start), saved as this run's instead of evaluating again.
    """
    if not (config.eval.before and run_tasks(config) and is_main_process()):
        return None
    cached = run_dir / "before.json"
    if cached.is_file():
        return records_from_json(json.loads(cached.read_text(encoding="utf-8")))
    tasks, batch_size = run_tasks(config), config.eval.batch_size
    records = known or evaluate_model(model, tasks, name=config.model, batch_size=batch_size)
    write_json_atomic(cached, [r.to_dict() for r in records])
    return records


def training_data(config: RunConfig, examples: int) -> str:
    """The card's line on what a run trained on."""
    if config.retrieval is not None:
        return (
            f"{config.retrieval.describe()} ({examples:,} query–document pairs; held-out queries never seen)"
        )
    if config.train is not None:
        return f"{config.train.describe()} ({examples:,} examples)"
    distill = config.distill
    assert distill is not None
    return f"distilled from {distill.teacher} on {examples:,} sentences of " + ", ".join(distill.sentences)


def training_datasets(config: RunConfig) -> list[str]:
    """The hub ids of a run's training data where embedlab knows them (its STS tasks), for the card.

    Example::

        training_datasets(load_config("configs/stsb-minilm.yaml"))  # ["sentence-transformers/stsb"]
    """
    from embedlab.data.sts import STS_TASKS

    source = config.train
    spec = STS_TASKS.get(source.task or "") if source is not None else None
    if source is None or spec is None:
        return []
    found = spec.hub.get(source.split or "train")
    return [found[0]] if found else []


def write_outputs(
    config: RunConfig, model: SentenceTransformer, result: RunResult, *, train_examples: int, resumed: bool
) -> None:
    """model/ with its card, results.json and report.md, each written atomically."""
    loss: str = config.loss.name
    if config.loss.matryoshka_dims:
        loss += f" + matryoshka {config.loss.matryoshka_dims}"
    best_dev = result.best_dev_spearman  # a retrieval run's holds its dev nDCG@10
    summary: dict[str, object] = {
        "base model": config.model,
        "training data": training_data(config, train_examples),
        "loss": loss,
        "steps": result.global_step,
        ("best dev nDCG@10" if config.retrieval else "best dev Spearman"): (
            f"{best_dev:.2f}" if best_dev is not None else "–"
        ),
        "training time": f"{result.train_seconds / 60:.1f} min"
        + (" (in all, across a resume)" if resumed else ""),
        "precision": "bf16 autocast" if result.bf16 else "fp32",
        "machine": machine_summary(),
    }

    def card(after: list[EvalRecord]) -> str:
        result.after = after
        return model_card(
            name=config.name,
            base_model=config.model,
            after=after,
            before=result.before,
            config_yaml=config.to_yaml(),
            training_summary=summary,
            datasets=training_datasets(config),
        )

    save_scored(model, result.model_dir, card, tasks=run_tasks(config), batch_size=config.eval.batch_size)
    results = {
        "name": config.name,
        "base_model": config.model,
        "before": [r.to_dict() for r in result.before] if result.before else None,
        "after": [r.to_dict() for r in result.after],
        "best_dev_spearman": best_dev,
        "global_step": result.global_step,
        "train_seconds": round(result.train_seconds, 1),
        "bf16": result.bf16,
        "machine": machine_summary(),
        "config": config.model_dump(mode="json"),
    }
    write_json_atomic(result.run_dir / "results.json", results)
    headers, rows = table_rows(result.after, result.before)
    write_text_atomic(result.run_dir / "report.md", f"# {config.name}\n\n{markdown_table(headers, rows)}\n")


def save_scored(
    model: SentenceTransformer,
    final: Path,
    card: Callable[[list[EvalRecord]], str],
    *,
    tasks: list[str] | None,
    batch_size: int = 64,
) -> list[EvalRecord]:
    """Save `model`, score the saved copy as a user loads it (plain `SentenceTransformer`, fp32) on `tasks`,
    and write `card(records)` beside it: what a run reports is what its folder gives, also after training
    under bf16 autocast (which stays wrapped around the trained model's forward). Non-finite figures stop
    here, and the folder takes its place only when complete.

    Example::

        after = save_scored(model, Path("runs/x/model"), lambda after: "# x", tasks=["stsb"])
    """
    from sentence_transformers import SentenceTransformer

    with atomic_dir(final, kind="model") as staging:
        model.save(str(staging), create_model_card=False)
        saved = SentenceTransformer(str(staging), device=str(model.device))
        records = evaluate_model(saved, tasks, name=staging, batch_size=batch_size) if tasks else []
        del saved
        broken = [f"{r.task} {r.metric}" for r in records if not math.isfinite(r.value)]
        if broken:
            raise TrainingError(
                f"the trained model scores non-finite figures ({', '.join(broken)}): it diverged or "
                "collapsed; no model was saved. Lower training.learning_rate and start again with overwrite"
            )
        (staging / "README.md").write_text(card(records), encoding="utf-8")
    return records


def save_model(model: SentenceTransformer, final: Path, card: str) -> Path:
    """Save to a temp folder with the card, then rename into place: `model/` is never half-written."""
    with atomic_dir(final, kind="model") as staging:
        model.save(str(staging), create_model_card=False)
        (staging / "README.md").write_text(card, encoding="utf-8")
    return final


def is_model_folder(path: Path) -> bool:
    """A sentence-transformers folder (what a run's `model/` holds)."""
    return (path / "modules.json").is_file()
