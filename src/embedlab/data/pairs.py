"""Training pairs from labelled documents (arXiv papers): same-label and same-category pairs, title ↔ own
abstract, mined hard negatives, and labelled positive/negative pairs for ContrastiveLoss.

Pairs are always built from one split's papers, so no pair crosses a split boundary.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import TYPE_CHECKING, Literal

from datasets import Dataset

from embedlab.errors import ConfigError

if TYPE_CHECKING:
    from embedlab.runtime.encoder import Encoder

PairKind = Literal["same-label", "same-category", "title-abstract"]
TextField = Literal["title", "abstract"]


def _by_label(papers: list[dict], key: str = "label") -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for position, paper in enumerate(papers):
        groups[paper[key]].append(position)
    return groups


def _anchor_order(papers: list[dict], wanted: int, balance: bool, rng: random.Random) -> list[int]:
    """`wanted` anchor positions. Unbalanced: every paper once (shuffled) before any repeats, so labels appear
    in proportion to their size. Balanced: each label equally often (its papers shuffled, cycled), so small
    subjects weigh as much as large ones — what macro-averaged metrics reward.
    """
    if not balance:
        order: list[int] = []
        while len(order) < wanted:
            shuffled = list(range(len(papers)))
            rng.shuffle(shuffled)
            order.extend(shuffled)
        return order[:wanted]
    groups = _by_label(papers)
    queues: dict[str, list[int]] = {label: [] for label in groups}
    labels = sorted(groups)
    order = []
    while len(order) < wanted:
        rng.shuffle(labels)  # one round: every label once, in a fresh random order
        for label in labels[: wanted - len(order)]:
            if not queues[label]:
                queues[label] = list(groups[label])
                rng.shuffle(queues[label])
            order.append(queues[label].pop())
    return order


def positive_pairs(
    papers: list[dict],
    count: int,
    kinds: list[PairKind],
    *,
    anchor_field: TextField = "title",
    positive_field: TextField = "abstract",
    balance: bool = False,
    seed: int = 42,
) -> list[tuple[int, int]]:
    """(anchor paper, positive paper) positions, `count` in all, shared equally between `kinds`.

    same-label: two different papers with the same label; same-category: two different papers with the same
    `primary_category` (finer than a subject label: math.PR, not math; a category with one paper falls back to
    its label); title-abstract: a paper with itself (its title as anchor, its abstract as positive).
    `balance`: anchors drawn equally from every label (see _anchor_order).

    Example::

        pairs = positive_pairs(papers, 1_000, ["same-category", "title-abstract"], balance=True)
    """
    if not kinds:
        raise ConfigError("pairs.kinds: give at least one of same-label, same-category, title-abstract")
    rng = random.Random(seed)
    groups = {label: members for label, members in _by_label(papers).items() if len(members) >= 2}
    if {"same-label", "same-category"} & set(kinds) and not groups:
        raise ConfigError("same-label and same-category pairs need a label with at least two papers")
    categories = _by_label(papers, "primary_category") if "same-category" in kinds else {}
    pairs: list[tuple[int, int]] = []
    for number, kind in enumerate(kinds):
        wanted = count // len(kinds) + (1 if number < count % len(kinds) else 0)
        for anchor in _anchor_order(papers, wanted, balance, rng):
            if kind == "title-abstract":
                pairs.append((anchor, anchor))
                continue
            members = groups.get(papers[anchor]["label"])
            if kind == "same-category":  # the anchor's category, unless it is the category's only paper
                finer = categories[papers[anchor]["primary_category"]]
                members = finer if len(finer) >= 2 else members
            if members is None:  # a label with one paper: pair a paper of another label's group instead
                members = groups[rng.choice(sorted(groups))]
                anchor = rng.choice(members)
            positive = anchor
            while positive == anchor:
                positive = rng.choice(members)
            pairs.append((anchor, positive))
    rng.shuffle(pairs)
    return pairs


def mine_hard_negatives(
    papers: list[dict],
    pairs: list[tuple[int, int]],
    encoder: Encoder,
    *,
    field: TextField = "abstract",
    anchor_field: TextField = "title",
    pool: int = 20000,
    seed: int = 42,
    batch_size: int = 64,
) -> list[int]:
    """For each pair, the paper of a *different* label most similar to its anchor (base-model cosine), from a
    random pool of at most `pool` papers of the same split.
    """
    import faiss
    import numpy as np

    rng = random.Random(seed)
    candidates = list(range(len(papers)))
    if len(candidates) > pool:
        candidates = sorted(rng.sample(candidates, pool))
    labels = np.array([papers[i]["label"] for i in candidates])
    pool_vectors = encoder.encode([papers[i][field] for i in candidates], batch_size=batch_size)
    anchors = sorted({a for a, _ in pairs})
    anchor_vectors = encoder.encode([papers[a][anchor_field] for a in anchors], batch_size=batch_size)
    faiss.normalize_L2(pool_vectors)
    faiss.normalize_L2(anchor_vectors)
    index = faiss.IndexFlatIP(pool_vectors.shape[1])
    index.add(pool_vectors)
    _, found = index.search(anchor_vectors, min(50, len(candidates)))
    hardest: dict[int, int] = {}
    for anchor, row in zip(anchors, found, strict=True):
        label = papers[anchor]["label"]
        other = next((candidates[j] for j in row if j >= 0 and labels[j] != label), None)
        if other is None:  # all 50 nearest share the label: any paper of another label
            other = candidates[int(rng.choice(np.flatnonzero(labels != label)))]
        hardest[anchor] = other
    return [hardest[a] for a, _ in pairs]


def contrastive_dataset(
    papers: list[dict],
    pairs: list[tuple[int, int]],
    *,
    anchor_field: TextField,
    positive_field: TextField,
    negatives: list[int] | None = None,
    with_labels: bool = False,
) -> Dataset:
    """Anchor / positive (/ negative) columns for the contrastive losses, from paper index pairs; with
    `with_labels`, a `label` column too (the anchor's label as a number, for distinct-label batches).

    Example::

        dataset = contrastive_dataset(
            papers, [(0, 1), (2, 3)], anchor_field="title", positive_field="abstract"
        )
    """
    columns: dict[str, list] = {
        "anchor": [papers[a][anchor_field] for a, _ in pairs],
        "positive": [papers[p][positive_field] for _, p in pairs],
    }
    if negatives is not None:
        columns["negative"] = [papers[n][positive_field] for n in negatives]
    if with_labels:
        number = {label: i for i, label in enumerate(sorted(_by_label(papers)))}
        columns["label"] = [number[papers[a]["label"]] for a, _ in pairs]
    return Dataset.from_dict(columns)


def labelled_dataset(
    papers: list[dict],
    count: int,
    *,
    anchor_field: TextField,
    positive_field: TextField,
    seed: int = 42,
) -> Dataset:
    """Balanced (sentence1, sentence2, score) pairs, score 1 for the same label and 0 for different labels:
    the shape ContrastiveLoss trains on.
    """
    positives = positive_pairs(
        papers,
        count - count // 2,
        ["same-label"],
        anchor_field=anchor_field,
        positive_field=positive_field,
        seed=seed,
    )
    rng = random.Random(seed + 1)
    negatives: list[tuple[int, int]] = []
    while len(negatives) < count // 2:
        first, second = rng.randrange(len(papers)), rng.randrange(len(papers))
        if papers[first]["label"] != papers[second]["label"]:
            negatives.append((first, second))
    rows = [(a, b, 1.0) for a, b in positives] + [(a, b, 0.0) for a, b in negatives]
    rng.shuffle(rows)
    return Dataset.from_dict(
        {
            "sentence1": [papers[a][anchor_field] for a, _, _ in rows],
            "sentence2": [papers[b][positive_field] for _, b, _ in rows],
            "score": [score for _, _, score in rows],
        }
    )
