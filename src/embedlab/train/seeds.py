"""One config trained with several seeds: the mean ± spread of every figure (how much of a difference
between settings is seed noise), and optionally the seeds' weights averaged into a soup chosen on dev.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from embedlab.config import RunConfig
from embedlab.errors import ConfigError
from embedlab.evaluate.records import EvalRecord
from embedlab.evaluate.report import markdown_table, model_card, spread_row
from embedlab.evaluate.sts import SPEARMAN, evaluate_sts
from embedlab.hardware import is_main_process
from embedlab.io import open_dir, write_json_atomic, write_text_atomic
from embedlab.train.run_folder import RunResult, save_model
from embedlab.train.soup import check_sweep, make_soup
from embedlab.train.trainer import build_dev_evaluator, dev_spearman, keep_or_train


@dataclass
class SeedsResult:
    """The runs of each seed, their summary rows, and the soup (its folder and figures) when asked for.

    Example::

        result = train_seeds(config, 3, soup="greedy")
        result.summary[0]  # {"task": "stsb", "split": "test", "mean": 85.9, "std": 0.21, ...}
    """

    out: Path
    runs: list[RunResult]
    summary: list[dict]
    soup_dir: Path | None = None
    soup_after: list[EvalRecord] | None = None
    soup_dev: float | None = None
    soup_members: list[str] | None = None


def check_seeds(config: RunConfig, seeds: int | None, soup: str | None) -> None:
    """Refuse what cannot work before any training: one seed, a soup of scratch models
    (each seed starts from other random weights), a greedy soup without a dev split.
    """
    check_sweep(seeds, soup)
    if soup is not None and config.scratch is not None:
        raise ConfigError(
            "soup= averages fine-tunes of one starting model; with model: scratch each seed starts from "
            "other random weights, and their average is not a model"
        )
    if soup == "greedy" and config.dev is None:
        raise ConfigError("soup=greedy chooses its members on dev; the config has no dev split")


def seed_values(first: int, seeds: int | None, soup: str | None = None) -> list[int]:
    """The seeds of a sweep: the config's own, then the next ones (`check_sweep` refuses fewer than two).
    Every seed sweep — `train --seeds`, `pipeline --seeds` — draws them so.

    Example::

        seed_values(42, 3)  # [42, 43, 44]
    """
    return list(range(first, first + check_sweep(seeds, soup)))


def spread_summary(figures: list[dict[tuple[str, str], float]]) -> list[dict]:
    """One `spread_row` per figure every seed has (keyed by (task, split or metric)), in the first seed's
    order: what any seed sweep reports.

    Example::

        spread_summary([{("stsb", "test"): 85.9}, {("stsb", "test"): 86.2}])[0]["mean"]  # 86.05
    """
    keys = [key for key in figures[0] if all(key in seed for seed in figures)]
    return [spread_row(task, split, [seed[(task, split)] for seed in figures]) for task, split in keys]


def spread_cells(row: dict) -> list[str]:
    """A summary row's "mean ± sd" and "min–max" table cells.

    Example::

        spread_cells(spread_row("stsb", "test", [85.9, 86.2]))  # ["86.05 ± 0.21", "85.90–86.20"]
    """
    return [f"{row['mean']:.2f} ± {row['std']:.2f}", f"{row['min']:.2f}–{row['max']:.2f}"]


def seed_summary(runs: list[RunResult]) -> list[dict]:
    """Mean, standard deviation, min and max over the seeds of each task's Spearman, and of the best dev.

    Example::

        seed_summary(runs)[0]  # {"task": "stsb", "split": "test", "mean": 85.9, "std": 0.21, ...}
    """
    figures = []
    for run in runs:
        seed = {(r.task, r.split): r.value for r in run.after if r.metric == SPEARMAN}
        if run.best_dev_spearman is not None:
            seed[("best dev", "dev")] = run.best_dev_spearman
        figures.append(seed)
    return spread_summary(figures)


def train_seeds(
    config: RunConfig,
    seeds: int | None,
    *,
    soup: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    log=lambda line: None,
) -> SeedsResult:
    """Train `config` with seeds seed, seed+1, ... into runs/NAME-seedS/ (a finished seed is kept, an
    interrupted one resumes with `resume`), then write runs/NAME-seeds/{summary.json, report.md} and, with
    `soup`, runs/NAME-seeds/soup/model (its card says which seeds it averages and its dev figure). The
    config's own seed is kept from runs/NAME when that run finished with this config. A staged config trains
    its earlier stages once and seeds its last stage (runs/NAME/STAGE-seedS/), so the seeds share a start.

    Example::

        result = train_seeds(load_config("configs/stsb-minilm.yaml"), 3, soup="greedy", log=print)
        result.soup_dir  # loads with SentenceTransformer(result.soup_dir)
    """
    check_seeds(config, seeds, soup)
    if config.stages is not None:
        from embedlab.train.stages import last_stage_after_earlier

        config = last_stage_after_earlier(config, resume=resume, log=log)
    out = config.run_dir.with_name(f"{config.name}-seeds")
    if is_main_process():  # a folder of the user's there is refused before hours of training
        open_dir(out, kind="seed sweep", names=["summary.json", "report.md", "soup"])
    runs: list[RunResult] = []
    for seed in seed_values(config.seed, seeds):
        # the seeds share their starting model: its figures are measured once (minutes for MPNet)
        before = runs[0].before if runs else None
        runs.append(_train_seed(config, seed, resume, overwrite, before, log))
    result = SeedsResult(out, runs, seed_summary(runs))
    if soup is not None:
        _make_soup(config, result, soup, log)
    _write_report(config, result)
    return result


def _train_seed(
    config: RunConfig, seed: int, resume: bool, overwrite: bool, before: list[EvalRecord] | None, log
) -> RunResult:
    seeded = config.model_copy(update={"seed": seed, "name": f"{config.name}-seed{seed}"})
    return keep_or_train(
        seeded,
        f"seed {seed}",
        starting=f"training {seeded.run_dir}",
        # the config's own seed may have run before as the plain run (runs/NAME): the same training, kept
        same_as=config if seed == config.seed else None,
        resume=resume,
        overwrite=overwrite,
        before=before,
        log=log,
    )


def _make_soup(config: RunConfig, result: SeedsResult, soup: str, log) -> None:
    evaluator = build_dev_evaluator(config)

    def dev_score(model) -> float:
        return dev_spearman(evaluator, model) if evaluator else float("nan")

    made = make_soup([run.model_dir for run in result.runs], soup, dev_score, log)
    model, chosen = made.model, made.members
    result.soup_members = [str(path) for path in chosen]
    result.soup_dev = made.dev * 100
    result.soup_after = evaluate_sts(model, config.eval.tasks, batch_size=config.eval.batch_size)
    result.soup_dir = result.out / "soup" / "model"
    card = model_card(
        name=f"{config.name} ({soup} soup)",
        base_model=config.model,
        after=result.soup_after,
        before=None,
        config_yaml=config.to_yaml(),
        training_summary={
            "soup": f"{soup}: the mean of the weights of {len(chosen)} of {len(result.runs)} seeds",
            "members": ", ".join(result.soup_members),
            "dev Spearman": f"{result.soup_dev:.2f}",
        },
    )
    save_model(model, result.soup_dir, card)


def _row_name(row: dict) -> str:
    # the suite's average has no split of its own
    return f"{row['task']} ({row['split']})" if row["split"] else row["task"]


def _write_report(config: RunConfig, result: SeedsResult) -> None:
    payload: dict = {
        "name": config.name,
        "seeds": [run.run_dir.name for run in result.runs],
        "summary": result.summary,
    }
    rows = [[_row_name(r), *spread_cells(r)] for r in result.summary]
    headers = ["task", f"Spearman, mean ± sd of {len(result.runs)} seeds", "min–max"]
    if result.soup_after is not None:
        payload["soup"] = {
            "members": result.soup_members,
            "dev": result.soup_dev,
            "after": [r.to_dict() for r in result.soup_after],
        }
        soup_values = {(r.task, r.split): r.value for r in result.soup_after if r.metric == SPEARMAN}
        headers.append("soup")
        for row, summary in zip(rows, result.summary, strict=True):
            value = soup_values.get((summary["task"], summary["split"]))
            if summary["task"] == "best dev":
                value = result.soup_dev
            row.append(f"{value:.2f}" if value is not None else "–")
    write_json_atomic(result.out / "summary.json", payload)
    write_text_atomic(
        result.out / "report.md", f"# {config.name}: seeds\n\n{markdown_table(headers, rows)}\n"
    )
