"""Weight averaging ("model soups", Wortsman et al., 2022): fine-tuned models that share a starting point
averaged into one, which often scores above each of them, at no inference cost. The greedy soup adds a
model only if the dev figure does not drop, so it is chosen on dev, never on test.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from embedlab.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


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


def greedy_soup(
    folders: Sequence[str | Path], dev_score: Callable[[SentenceTransformer], float], log=lambda line: None
) -> tuple[SentenceTransformer, list[Path], float]:
    """Greedy soup: the models ranked by `dev_score`, each added to the average only if the soup's dev score
    does not drop. Returns the soup, the folders in it and its dev score.

    Example::

        soup, chosen, dev = greedy_soup(seed_folders, lambda model: dev_spearman(model))
    """
    from sentence_transformers import SentenceTransformer

    models = {Path(f): SentenceTransformer(str(f), device="cpu") for f in folders}
    ranked = sorted(((dev_score(model), path) for path, model in models.items()), key=lambda x: -x[0])
    best_score, first = ranked[0]
    chosen, soup = [first], models[first]
    log(f"soup: start with {first} (dev {best_score * 100:.2f})")
    for score, path in ranked[1:]:
        candidate = average_weights([models[p] for p in [*chosen, path]])
        candidate_score = dev_score(candidate)
        kept = candidate_score >= best_score
        verdict = "kept" if kept else "left out"
        log(f"soup: + {path} (alone {score * 100:.2f}) → {candidate_score * 100:.2f}: {verdict}")
        if kept:
            chosen, soup, best_score = [*chosen, path], candidate, candidate_score
    return soup, chosen, best_score
