"""Weight averaging ("model soups", Wortsman et al., 2022): fine-tuned models that share a starting point
averaged into one, which often scores above each of them, at no inference cost. The greedy soup adds a
model only if the dev figure does not drop, so it is chosen on dev, never on test.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from embedlab.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from embedlab.evaluate.records import EvalRecord

SOUPS = ("uniform", "greedy")


def check_sweep(seeds: int | None, soup: str | None) -> int:
    """Refuse a seed sweep that cannot work, before any training: fewer than two seeds, a soup without seeds
    to average, an unknown soup; returns the number of seeds. `train --seeds` adds the checks of its configs.

    Example::

        check_sweep(3, "greedy")  # 3; (1, None), (None, "greedy") and (3, "mean") raise ConfigError
    """
    if seeds is None and soup is not None:
        raise ConfigError("soup= averages the models of a seed sweep: give seeds=N too")
    if seeds is None or seeds < 2:
        raise ConfigError(f"seeds={seeds}: give 2 or more (one seed is a plain run)")
    if soup is not None and soup not in SOUPS:
        raise ConfigError(f"soup={soup}: choose {' or '.join(SOUPS)}")
    return seeds


def average_weights(models: Sequence[SentenceTransformer]) -> SentenceTransformer:
    """A copy of the first model whose every floating-point weight is the mean of the models' weights.

    Example::

        soup = average_weights([SentenceTransformer(p) for p in ("runs/a/model", "runs/b/model")])
    """
    import torch

    if not models:
        raise ConfigError("a soup needs at least one model")
    states = [model.state_dict() for model in models]
    first = states[0]
    for number, state in enumerate(states[1:], start=2):
        if state.keys() != first.keys() or any(state[k].shape != first[k].shape for k in first):
            raise ConfigError(
                f"model {number} of the soup has other weights than the first (another architecture); "
                "a soup averages fine-tunes of one starting model"
            )
    averaged = {}
    for key, tensor in first.items():
        if torch.is_floating_point(tensor):
            averaged[key] = (sum(state[key].double() for state in states) / len(states)).to(tensor.dtype)
        else:  # integer buffers (position ids) are equal across fine-tunes
            averaged[key] = tensor
    soup = copy.deepcopy(models[0])
    soup.load_state_dict(averaged)
    return soup


@dataclass
class Soup:
    """A soup, the folders it averages, its dev score and each candidate's own dev score (greedy soups score
    every candidate alone first; a uniform soup scores none of them).

    Example::

        soup = make_soup(["runs/a/model", "runs/b/model"], "greedy", dev_score)
        soup.model.encode(["A sentence"]), soup.members, soup.dev, soup.alone
    """

    model: SentenceTransformer
    members: list[Path]
    dev: float
    alone: dict[Path, float] = field(default_factory=dict)


def greedy_soup(
    folders: Sequence[str | Path], dev_score: Callable[[SentenceTransformer], float], log=lambda line: None
) -> Soup:
    """Greedy soup: the models ranked by `dev_score`, each added to the average only if the soup's dev score
    does not drop.

    Example::

        soup = greedy_soup(seed_folders, lambda model: dev_spearman(model))
        soup.members  # the folders kept, best alone first
    """
    from sentence_transformers import SentenceTransformer

    models = {Path(f): SentenceTransformer(str(f), device="cpu") for f in folders}
    alone = {path: dev_score(model) for path, model in models.items()}
    ranked = sorted(alone, key=lambda path: -alone[path])
    first = ranked[0]
    soup = Soup(models[first], [first], alone[first], alone)
    log(f"soup: start with {first} (dev {soup.dev * 100:.2f})")
    for path in ranked[1:]:
        candidate = average_weights([models[p] for p in [*soup.members, path]])
        candidate_score = dev_score(candidate)
        kept = candidate_score >= soup.dev
        verdict = "kept" if kept else "left out"
        log(f"soup: + {path} (alone {alone[path] * 100:.2f}) → {candidate_score * 100:.2f}: {verdict}")
        if kept:
            soup = Soup(candidate, [*soup.members, path], candidate_score, alone)
    return soup


def make_soup(
    folders: Sequence[str | Path],
    how: str,
    dev_score: Callable[[SentenceTransformer], float],
    log=lambda line: None,
) -> Soup:
    """A `uniform` soup (every model) or a `greedy` one (chosen on dev), with its members and dev score.

    Example::

        soup = make_soup(["runs/a/model", "runs/b/model"], "uniform", dev_score)
    """
    from sentence_transformers import SentenceTransformer

    if how not in SOUPS:
        raise ConfigError(f"soup {how}: choose {' or '.join(SOUPS)}")
    if how == "greedy":
        return greedy_soup(folders, dev_score, log)
    model = average_weights([SentenceTransformer(str(f), device="cpu") for f in folders])
    return Soup(model, [Path(f) for f in folders], dev_score(model))


@dataclass
class SoupResult:
    """Where a soup was saved, which models it averages, its dev Spearman (×100) and its evaluation."""

    model_dir: Path
    members: list[Path]
    dev: float
    after: list[EvalRecord]


def soup_models(
    folders: Sequence[str | Path],
    out: str | Path,
    how: str = "greedy",
    dev: str = "stsb:dev",
    tasks: str | Sequence[str] | None = None,
    batch_size: int = 64,
    force: bool = False,
    log=lambda line: None,
) -> SoupResult:
    """Average fine-tunes of one starting model — other seeds or other settings (the model-soup recipe) — into
    one model at `out`, chosen on the `dev` split, evaluated on `tasks` (default: the 7-task STS suite) and
    saved with a card. An earlier model of embedlab's at `out` is replaced only with `force`.

    Example::

        result = soup_models(["runs/a/model", "runs/b/model"], "runs/ab-soup", how="greedy")
        SentenceTransformer(str(result.model_dir))
    """
    import yaml

    from embedlab.config import DataSource
    from embedlab.evaluate.report import model_card
    from embedlab.evaluate.sts import evaluate_sts, parse_tasks
    from embedlab.io import check_output_dir
    from embedlab.train.run_folder import is_model_folder, save_model
    from embedlab.train.trainer import dev_evaluator, dev_spearman

    paths = [Path(f) for f in folders]
    if len(paths) < 2:
        raise ConfigError("a soup averages two or more models: give their folders")
    for folder in paths:
        if not is_model_folder(folder):
            raise ConfigError(f"{folder}: not a sentence-transformers model folder (no modules.json)")
    check_output_dir(out, kind="model", force=force, inputs=paths)
    dev_split = parse_tasks(dev)
    if len(dev_split) != 1:
        raise ConfigError(f"dev={dev}: give one split, such as stsb:dev")
    ((task, split),) = dev_split
    evaluator = dev_evaluator(DataSource(task=task, split=split), batch_size=batch_size)
    soup = make_soup(paths, how, partial(dev_spearman, evaluator), log)
    model, members, dev_value = soup.model, soup.members, soup.dev
    after = evaluate_sts(model, tasks, batch_size=batch_size)
    recipe = {"soup": how, "dev": f"{task}:{split}", "candidates": [str(f) for f in paths]}
    card = model_card(
        name=f"{Path(out).name} ({how} soup)",
        base_model=str(members[0]),
        after=after,
        before=None,
        config_yaml=yaml.safe_dump(recipe, sort_keys=False),
        training_summary={
            "soup": f"{how}: the mean of the weights of {len(members)} of {len(paths)} models",
            "members": ", ".join(str(m) for m in members),
            "dev Spearman": f"{dev_value * 100:.2f} ({task}:{split})",
        },
    )
    return SoupResult(save_model(model, Path(out), card), members, dev_value * 100, after)
