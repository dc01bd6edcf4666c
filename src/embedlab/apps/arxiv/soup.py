"""`embedlab pipeline CONFIG --seeds N --soup greedy|uniform`: the seeds' fine-tuned models averaged into
one (a model soup, `embedlab.train.soup`), chosen on the eval split, then scored on test like each seed.

Every eval-split paper takes part in the choice, not the checkpoint evaluator's sample: the candidates are
seeds of one recipe, a fraction of a point apart, and 500 titles rank such models by chance (docs/results.md:
sd 0.63 over seeds against 0.06 for the whole split). The soup is made once: the larger evaluation costs
minutes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from embedlab.apps.arxiv.config import PipelineConfig
from embedlab.apps.arxiv.pipeline import BEST_METRIC, Stages, stage_key, training_evaluator
from embedlab.apps.arxiv.report import comparison_table, model_card_text
from embedlab.hardware import is_main_process
from embedlab.io import open_dir, write_json_atomic, write_text_atomic


@dataclass
class ArxivSoup:
    """The soup's model folder and record: how it was made, its members, precision@10 (×100) on the whole eval
    split of the soup and of each candidate alone (a greedy soup scores them), and its test figures.

    Example::

        soup = soup_seeds(seeded_configs(config, 3), "greedy", Path("runs/a-seeds/soup"), log=print)
        soup.members, soup.eval_split, soup.test["records"]
    """

    model_dir: Path
    how: str
    members: list[str]
    candidates: list[str]
    eval_split: float
    alone: dict[str, float]
    eval_papers: int
    test: dict


def soup_seeds(
    runs: list[PipelineConfig], how: str, out: Path, *, log: Callable[[str], None], force: bool = False
) -> ArxivSoup:
    """Average the finished seeds' models into `out/model` (members chosen on the whole eval split), score the
    soup on the test split into `out/eval/soup.json`; each step is skipped when its inputs are unchanged.

    Example::

        soup = soup_seeds(seeded_configs(config, 3), "greedy", Path("runs/a-seeds/soup"), log=print)
        SentenceTransformer(str(soup.model_dir))
    """
    if is_main_process():
        open_dir(out, kind="arXiv soup", names=[".stages", "model", "soup.json", "eval"])
    first, stages = runs[0], Stages(out, log, force)
    train_keys = [Stages(run.run_dir, log).key("train") for run in runs]
    soup_key = stage_key("soup", how, train_keys, [str(run.model_dir) for run in runs])
    stages.run("soup", soup_key, functools.partial(_make, runs, how, out, log))
    evaluate_key = stage_key("evaluate-soup", soup_key, first.eval.model_dump(), first.data_seed)
    stages.run("evaluate-soup", evaluate_key, functools.partial(_evaluate, first, out))
    record = json.loads((out / "soup.json").read_text(encoding="utf-8"))
    test = json.loads((out / "eval" / "soup.json").read_text(encoding="utf-8"))
    return ArxivSoup(model_dir=out / "model", test=test, **record)


def _make(runs: list[PipelineConfig], how: str, out: Path, log: Callable[[str], None]) -> None:
    from embedlab.train.run_folder import save_model
    from embedlab.train.soup import make_soup

    first = runs[0]
    evaluator = training_evaluator(first, whole_split=True)
    soup = make_soup([run.model_dir for run in runs], how, lambda model: evaluator(model)[BEST_METRIC], log)
    record = {
        "how": how,
        "members": [str(path) for path in soup.members],
        "candidates": [str(run.model_dir) for run in runs],
        "eval_split": round(100 * soup.dev, 2),
        "alone": {str(path): round(100 * value, 2) for path, value in soup.alone.items()},
        "eval_papers": len(evaluator.queries),  # one title per eval-split paper
    }
    log(f"  {how} soup of {len(soup.members)} of {len(runs)} seeds: eval-split P@10 {record['eval_split']}")
    save_model(soup.model, out / "model", _card(first, record, table=None))
    write_json_atomic(out / "soup.json", record)


def _evaluate(first: PipelineConfig, out: Path) -> None:
    """The soup's test figures, scored as each seed's model is, and its card rewritten with them."""
    from embedlab.evaluate.arxiv import evaluate_arxiv

    payload = evaluate_arxiv(
        str(out / "model"), first.data_dir, first.eval, seed=first.data_seed, with_map=True
    )
    write_json_atomic(out / "eval" / "soup.json", {"system": "soup", **payload})
    results = {
        system: json.loads((first.eval_dir / f"{system}.json").read_text(encoding="utf-8"))
        for system in ("base", "tfidf")
        if (first.eval_dir / f"{system}.json").is_file()
    }
    results["finetuned"] = payload
    record = json.loads((out / "soup.json").read_text(encoding="utf-8"))
    write_text_atomic(out / "model" / "README.md", _card(first, record, comparison_table(results)))


def _card(first: PipelineConfig, record: dict, table: str | None) -> str:
    members = ", ".join(f"`{member}`" for member in record["members"])
    about = (
        f"A {record['how']} soup: the mean of the weights of {len(record['members'])} of "
        f"{len(record['candidates'])} fine-tunes of `{first.model}` ({members}), chosen on precision@10 of "
        f"all {record['eval_papers']:,} eval-split papers ({record['eval_split']:.2f})."
    )
    return model_card_text(first.model_copy(update={"name": f"{first.name} soup"}), table, about)
