"""`embedlab pipeline CONFIG --seeds N`: one arXiv config trained with N seeds on one benchmark, and the
mean ± sd of the fine-tuned model's figures — how much of a difference between two levers is seed noise.
The seeds, their summary and its table cells are `train.seeds`' (as `train --seeds` has them); what is the
pipeline's own is the benchmark the seeds share and the figures read from each run's stage records.

The seeds vary what training draws (pairs, their order, the batches); the benchmark stays put: the split, the
classifier's training papers and the eval-split sample that picks the checkpoint all follow `data.seed` (the
config's seed), so every seed is scored on the same test papers, and the base model's and TF-IDF's figures
are computed once and shared.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from embedlab.apps.arxiv.config import PipelineConfig
from embedlab.apps.arxiv.pipeline import BEST_METRIC, Stages, open_run_dir, run_pipeline
from embedlab.apps.arxiv.report import METRICS
from embedlab.apps.arxiv.soup import ArxivSoup, soup_seeds
from embedlab.evaluate.report import markdown_table
from embedlab.hardware import is_main_process, wait_for_everyone
from embedlab.io import open_dir, write_json_atomic, write_text_atomic
from embedlab.train.seeds import seed_values, spread_cells, spread_summary
from embedlab.train.soup import check_sweep

EVAL_SPLIT_CHOICE = ("eval split", "precision@10 (the choice)")


@dataclass
class PipelineSeeds:
    """The seeds' run folders and the summary rows (mean, std, min, max, values of each figure).

    Example::

        result = run_pipeline_seeds(config, 3)
        result.summary[0]  # {"task": "eval split", "split": "precision@10 (the choice)", "mean": 57.1, ...}
    """

    out: Path
    runs: list[PipelineConfig]
    summary: list[dict]
    soup: ArxivSoup | None = None


def seeded_configs(config: PipelineConfig, seeds: int | None) -> list[PipelineConfig]:
    """The config once per seed: its own seed in runs/NAME (the plain run, kept if it finished), the next ones
    in runs/NAME-seedS, all with the benchmark (`data.seed`) of the config's own seed.

    Example::

        [c.run_dir.name for c in seeded_configs(config, 3)]  # ["arxiv-minilm", "arxiv-minilm-seed43", ...]
    """
    data = config.data.model_copy(update={"seed": config.data_seed})
    return [
        config.model_copy(
            update={
                "seed": seed,
                "data": data,
                "name": config.name if seed == config.seed else f"{config.name}-seed{seed}",
            }
        )
        for seed in seed_values(config.seed, seeds)
    ]


def run_pipeline_seeds(
    config: PipelineConfig,
    seeds: int | None,
    *,
    soup: str | None = None,
    log: Callable[[str], None] = print,
    force: bool = False,
) -> PipelineSeeds | None:
    """Run the pipeline with seeds seed, seed+1, ... (each run's finished stages are skipped, an interrupted
    training resumes), then write runs/NAME-seeds/{report.md, summary.json}; with `soup` (uniform or greedy)
    also average the seeds' models into runs/NAME-seeds/soup/model, scored beside them. None on the ranks
    other than 0 under torchrun.

    Example::

        result = run_pipeline_seeds(load_pipeline_config("configs/arxiv-minilm.yaml"), 3, soup="greedy")
        print((result.out / "report.md").read_text())
    """
    check_sweep(seeds, soup)
    runs = seeded_configs(config, seeds)
    out = config.run_dir.with_name(f"{config.name}-seeds")
    if is_main_process():  # a folder of the user's there is refused before any training
        open_dir(out, kind="arXiv seed sweep", names=["summary.json", "report.md", "soup"])
    for number, seeded in enumerate(runs, start=1):
        log(f"[bold]seed {seeded.seed}[/bold] ({number} of {len(runs)}): {seeded.run_dir}")
        if number > 1 and not force:
            _share_benchmark(runs[0], seeded, log)
        run_pipeline(seeded, log=log, force=force)
    if not is_main_process():
        return None
    result = PipelineSeeds(out, runs, seed_summary(runs))
    if soup is not None:
        result.soup = soup_seeds(runs, soup, result.out / "soup", log=log, force=force)
    _write_report(config, result)
    return result


def _share_benchmark(first: PipelineConfig, seeded: PipelineConfig, log: Callable[[str], None]) -> None:
    """The split and the base model's and TF-IDF's test figures do not depend on the training seed: copy them
    from the first seed's folder (their stage keys still decide; a stage whose inputs differ reruns).
    """
    if is_main_process():
        source, target = Stages(first.run_dir, log), Stages(open_run_dir(seeded), log)
        for name, outputs in (
            ("preprocess", [Path("data")]),
            ("evaluate-base", [Path("eval/base.json")]),
            ("evaluate-tfidf", [Path("eval/tfidf.json")]),
        ):
            if target.share(source, name, outputs):
                log(f"  {name}: taken from {first.run_dir} (the same benchmark)")
    wait_for_everyone()


def _test_figures(config: PipelineConfig, system: str) -> dict[tuple[str, str], float]:
    """A system's test figures in a run, by (task without its `arxiv-` prefix, metric)."""
    return _by_metric(json.loads((config.eval_dir / f"{system}.json").read_text(encoding="utf-8")))


def _by_metric(result: dict) -> dict[tuple[str, str], float]:
    return {(r["task"].removeprefix("arxiv-"), r["metric"]): r["value"] for r in result["records"]}


def _figures(config: PipelineConfig) -> dict[tuple[str, str], float]:
    """One run's test figures of the fine-tuned model, and the eval-split figure that chose its checkpoint."""
    shown = {(task.removeprefix("arxiv-"), metric) for task, metric in METRICS}
    figures = {key: value for key, value in _test_figures(config, "finetuned").items() if key in shown}
    lines = (config.train_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    choices = [row[f"eval_{BEST_METRIC}"] for row in map(json.loads, lines) if f"eval_{BEST_METRIC}" in row]
    if choices:
        figures[EVAL_SPLIT_CHOICE] = round(100 * max(choices), 2)
    return figures


def seed_summary(runs: list[PipelineConfig]) -> list[dict]:
    """Mean ± sd over the seeds of each test figure of the fine-tuned model, and of the eval-split choice.

    Example::

        seed_summary(seeded_configs(config, 3))[0]["values"]  # [57.02, 56.6, 57.3]
    """
    return spread_summary([_figures(run) for run in runs])


def _write_report(config: PipelineConfig, result: PipelineSeeds) -> None:
    seeds = ", ".join(str(run.seed) for run in result.runs)
    folders = ", ".join(str(r.run_dir) for r in result.runs)
    markdown = f"""# {config.name}: {len(result.runs)} training seeds on one benchmark

Seeds {seeds} vary the pairs drawn and their order; the split, the classifier's training papers and the
eval-split sample that picks each checkpoint are those of seed {config.data_seed}. Test figures ×100; the
eval-split row is the figure that chose each run's checkpoint. Runs: {folders}.

{_table(result)}
{_soup_section(result)}"""
    write_text_atomic(result.out / "report.md", markdown)
    soup = result.soup
    write_json_atomic(
        result.out / "summary.json",
        {
            "name": config.name,
            "seeds": [r.seed for r in result.runs],
            "runs": [str(r.run_dir) for r in result.runs],
            "summary": result.summary,
            "soup": None if soup is None else _soup_record(soup),
        },
    )


def _table(result: PipelineSeeds) -> str:
    base_values = _test_figures(result.runs[0], "base")
    soup_values = _by_metric(result.soup.test) if result.soup else None
    rows = [
        [
            row["task"],
            row["split"],
            _shown(base_values.get((row["task"], row["split"]))),
            *spread_cells(row),
            ", ".join(f"{v:.2f}" for v in row["values"]),
            *([_shown(soup_values.get((row["task"], row["split"])))] if soup_values is not None else []),
        ]
        for row in result.summary
    ]
    headers = [
        "task",
        "metric",
        "base model",
        f"fine-tuned, mean ± sd of {len(result.runs)} seeds",
        "min–max",
        f"seeds {', '.join(str(run.seed) for run in result.runs)}",
    ]
    if result.soup is not None:
        headers.append(f"{result.soup.how} soup ({len(result.soup.members)} of {len(result.runs)})")
    return markdown_table(headers, rows)


def _soup_section(result: PipelineSeeds) -> str:
    soup = result.soup
    if soup is None:
        return ""
    seed_of = {str(run.model_dir): f"seed {run.seed}" for run in result.runs}
    members = ", ".join(seed_of.get(member, member) for member in soup.members)
    alone = "".join(
        f"; {seed_of.get(member, member)} alone {value:.2f}" for member, value in soup.alone.items()
    )
    return f"""
The {soup.how} soup ({soup.model_dir}) averages the weights of {members} (in the order added). It was chosen
on precision@10 of all {soup.eval_papers:,} eval-split papers (the soup {soup.eval_split:.2f}{alone}), not
on the checkpoint evaluator's sample, so its eval-split figure is not in the table's eval-split row.
"""


def _soup_record(soup: ArxivSoup) -> dict:
    record = {key: value for key, value in asdict(soup).items() if key != "test"}
    return {**record, "model_dir": str(soup.model_dir), "test": soup.test["records"]}


def _shown(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"
