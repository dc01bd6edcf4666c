"""A soup across arXiv runs of other settings, not only seeds of one recipe: the finished runs' models
averaged into one, members chosen greedily on precision@10 of the whole eval split, then scored on test —
the chooser and scoring of `embedlab pipeline CONFIG --seeds N --soup greedy` (`embedlab.apps.arxiv.soup`),
for runs that differ in pairs, length or loss but share the base model and the split.

    .venv/bin/python benchmarks/arxiv_soup.py runs/arxiv-minilm-100k runs/arxiv-minilm-256 \
        runs/arxiv-minilm-same-category --out runs/arxiv-minilm-cross-soup

The first run's `eval:` settings score every candidate and the soup; a candidate keeps the sequence length it
was saved with when scored alone; the soup takes its first member's (for a greedy soup, the best alone).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich import print  # the stages log rich markup

from embedlab.apps.arxiv.config import load_pipeline_config
from embedlab.apps.arxiv.pipeline import Stages
from embedlab.apps.arxiv.soup import soup_seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="finished arXiv pipeline run folders (runs/NAME)")
    parser.add_argument("--out", required=True, help="the soup's folder (model/, soup.json, eval/soup.json)")
    parser.add_argument("--how", default="greedy", choices=["greedy", "uniform"])
    args = parser.parse_args()
    configs = [load_pipeline_config(f"{run}/config.yaml") for run in args.runs]
    splits = [Stages(config.run_dir, print).key("preprocess") for config in configs]  # equal key, equal split
    for run, config, split in zip(args.runs, configs, splits, strict=True):
        # one split for all: a soup chosen on one run's eval split must not contain another run's eval papers
        if split != splits[0]:
            raise SystemExit(f"{run}: another split than {args.runs[0]}'s (its preprocess stage differs)")
        if not config.model_dir.is_dir():
            raise SystemExit(f"{run}: no fine-tuned model at {config.model_dir} (run its pipeline first)")
    started = time.perf_counter()
    soup = soup_seeds(configs, args.how, Path(args.out), log=print)
    records = {record["metric"]: record["value"] for record in soup.test["records"]}
    print(f"members: {', '.join(soup.members)}")
    print(f"eval split P@10: soup {soup.eval_split:.2f}; alone: {soup.alone}")
    print(f"test: {records}")
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
