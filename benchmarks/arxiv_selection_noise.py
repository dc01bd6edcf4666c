"""How steady is the figure that picks an arXiv checkpoint? Each run's kept model scored by the pipeline's own
checkpoint evaluator (eval-split titles query the same papers' abstracts, precision@10) on the 500-title
sample the pipeline uses and on the whole eval split, with the mean ± sd over the runs (seeds of one config on
one benchmark: `embedlab pipeline CONFIG --seeds 3`). A steadier figure chooses between levers more reliably.

    .venv/bin/python benchmarks/arxiv_selection_noise.py runs/arxiv-minilm-same-category \
        runs/arxiv-minilm-same-category-seed43 runs/arxiv-minilm-same-category-seed44 --sizes 500 4000
"""

from __future__ import annotations

import argparse
import statistics
import time

from sentence_transformers import SentenceTransformer

from embedlab.apps.arxiv.config import load_pipeline_config
from embedlab.apps.arxiv.pipeline import BEST_METRIC, training_evaluator


def precision_at_10(config, model, size: int) -> float:
    """The checkpoint evaluator's precision@10 (×100) of `model` with `size` eval-split titles."""
    sized = config.model_copy(update={"eval": config.eval.model_copy(update={"training_eval_queries": size})})
    return 100 * training_evaluator(sized)(model)[BEST_METRIC]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="arXiv pipeline run folders (runs/NAME)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[500, 4000], help="eval-split titles")
    args = parser.parse_args()
    rows = {size: [] for size in args.sizes}
    for run in args.runs:
        config = load_pipeline_config(f"{run}/config.yaml")
        model = SentenceTransformer(str(config.model_dir), device="cpu")
        model.max_seq_length = config.training.max_seq_length  # as during training, when it was chosen
        started = time.perf_counter()
        for size in args.sizes:
            rows[size].append(precision_at_10(config, model, size))
        figures = ", ".join(f"{size}: {rows[size][-1]:.2f}" for size in args.sizes)
        print(f"{run} (seed {config.seed}): {figures} ({time.perf_counter() - started:.0f} s)")
    for size, values in rows.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"{size} titles: {statistics.fmean(values):.2f} ± {spread:.2f} ({shown})")


if __name__ == "__main__":
    main()
