"""How much of each STS test set also occurs in STS-B train, and the figures on the pairs that do not.

STS-B was compiled from the SemEval STS 2012–2016 data, so a model fine-tuned on STS-B train has seen a
third to a half of the STS12–15 test pairs (same two sentences). Their suite figures after such a fine-tune
are therefore not held-out numbers; this script reports the held-out subset beside them.

Usage: .venv/bin/python benchmarks/sts_overlap.py MODEL [MODEL ...]
"""

from __future__ import annotations

import sys

from embedlab.data.sts import STS_SUITE, load_sts
from embedlab.evaluate.sts import HELD_OUT, SPEARMAN, evaluate_pairs, held_out_pairs
from embedlab.models import load_model


def unseen_pairs():
    subsets = held_out_pairs()
    for task in STS_SUITE:
        total, kept = len(load_sts(task)), len(subsets[(task, HELD_OUT)])
        print(f"{task}: {total} pairs, {total - kept} also in STS-B train, {kept} unseen")
    return subsets


def main() -> None:
    subsets = unseen_pairs()
    print("\n| model | " + " | ".join(f"{task} unseen" for task in STS_SUITE) + " | average |")
    print("|---|" + "---|" * (len(STS_SUITE) + 1))
    for name in sys.argv[1:]:
        records = evaluate_pairs(load_model(name), subsets, show_progress=False)
        values = [r.value for r in records if r.metric == SPEARMAN]
        cells = [f"{value:.2f}" for value in values] + [f"{sum(values) / len(values):.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
