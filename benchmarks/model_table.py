"""STS table in Klein's layout for several models: Spearman / Pearson (×100) on STS-B, SICK-R, STS12–16,
the Spearman average, parameters, size on disk and encoding throughput — measured back to back.

Usage: .venv/bin/python benchmarks/model_table.py LABEL=MODEL [LABEL=MODEL ...]
  e.g. teacher=all-MiniLM-L6-v2 static=runs/static-minilm distilled=runs/scratch-distill-minilm/model
Throughput: the 2,552 distinct STS-B test sentences, batch 64, torch fp32, 2 threads, median of 5 after a
warm-up; the last column is each model's throughput over the first model's.
"""

from __future__ import annotations

import sys
from pathlib import Path

from embedlab.data.sts import STS_SUITE
from embedlab.data.sts import sentences as sts_sentences
from embedlab.evaluate.records import lookup
from embedlab.evaluate.speed import time_encoding
from embedlab.evaluate.sts import PEARSON, SPEARMAN, evaluate_sts
from embedlab.models.registry import resolve
from embedlab.runtime.encoder import TorchEncoder

TITLES = {
    "stsb": "STS-B",
    "sickr": "SICK-R",
    "sts12": "STS12",
    "sts13": "STS13",
    "sts14": "STS14",
    "sts15": "STS15",
    "sts16": "STS16",
}


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*.safetensors")) / 1e6


def main() -> None:
    specs = [arg.split("=", 1) for arg in sys.argv[1:]]
    if not specs or any(len(s) != 2 for s in specs):
        sys.exit(__doc__)
    sample = sts_sentences("stsb", "test")
    header = [
        "model",
        *(TITLES[t] for t in STS_SUITE),
        "avg (Spearman)",
        "params M",
        "size MB",
        "sentences/s",
        "× first",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    first_rate = None
    for label, model in specs:
        encoder = TorchEncoder(model)
        records = evaluate_sts(encoder.model, STS_SUITE, batch_size=64)
        cells = [
            f"{lookup(records, task, SPEARMAN):.2f} / {lookup(records, task, PEARSON):.2f}"
            for task in STS_SUITE
        ]
        average = lookup(records, "average", SPEARMAN)
        params = sum(p.numel() for p in encoder.model.parameters()) / 1e6
        rate = len(sample) / time_encoding(encoder, sample, batch_size=64, repeats=5)
        first_rate = first_rate or rate
        row = [
            label,
            *cells,
            f"{average:.2f}",
            f"{params:.1f}",
            f"{size_mb(Path(resolve(model))):.1f}",
            f"{rate:,.0f}",
            f"{rate / first_rate:.1f}",
        ]
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
