"""The model table a user picks from: every model given, measured back to back on this machine — the 7-task
STS average, the held-out average (pairs not in STS-B train), STS-B test, optionally arXiv precision@10 and
macro-F1, parameters, size and encoding throughput.

Usage:
  .venv/bin/python benchmarks/model_table.py [--arxiv RUN] [--per-task] LABEL=MODEL[@BACKEND] ...
  e.g. base=all-MiniLM-L6-v2 int8=runs/minilm@onnx-int8 static=runs/static-minilm

BACKEND is torch (default), torch-bf16, onnx or onnx-int8 (a folder after `embedlab export onnx --int8`).
Throughput: the 2,552 distinct STS-B test sentences, batch 64, 2 threads, median of 5 after a warm-up; the
last column is each model's throughput over the first model's. arXiv (`--arxiv runs/arxiv-minilm`): the
pipeline's evaluation with that run's data and `eval:` settings, the same for every model (torch backends).
`--per-task` adds Spearman / Pearson of each STS task (Klein's layout); `--speed-only` measures size and
throughput alone (no evaluation). Writes benchmarks/results/model_table.json (model_table_speed.json).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from embedlab.data.sts import STS_SUITE, load_sts
from embedlab.data.sts import sentences as sts_sentences
from embedlab.evaluate.classification import TASK as CLASSIFICATION
from embedlab.evaluate.parity import EncoderAdapter
from embedlab.evaluate.records import lookup
from embedlab.evaluate.retrieval import TASK as RETRIEVAL
from embedlab.evaluate.speed import time_encoding
from embedlab.evaluate.sts import HELD_OUT, PEARSON, SPEARMAN, evaluate_pairs, held_out_pairs, parse_tasks
from embedlab.models.registry import resolve
from embedlab.runtime.encoder import load_encoder
from embedlab.runtime.export import FP32_FILE, INT8_FILE

TITLES = {
    "stsb": "STS-B",
    "sickr": "SICK-R",
    "sts12": "STS12",
    "sts13": "STS13",
    "sts14": "STS14",
    "sts15": "STS15",
    "sts16": "STS16",
}


def size_mb(folder: Path, backend: str) -> float:
    if backend.startswith("onnx"):
        return (folder / (INT8_FILE if backend == "onnx-int8" else FP32_FILE)).stat().st_size / 1e6
    return sum(p.stat().st_size for p in folder.rglob("*.safetensors")) / 1e6


def sts_figures(encoder, pairs: dict) -> dict:
    records = evaluate_pairs(EncoderAdapter(encoder), pairs, batch_size=64, show_progress=False)
    suite = {task: split for task, split in pairs if split != HELD_OUT}
    spearman = [lookup(records, task, SPEARMAN, split) for task, split in suite.items()]
    held = [lookup(records, task, SPEARMAN, HELD_OUT) for task in suite]
    return {
        "sts_average": sum(spearman) / len(spearman),
        "held_out_average": sum(held) / len(held),
        "stsb_test": lookup(records, "stsb", SPEARMAN, "test"),
        "per_task": {
            t: [lookup(records, t, m, split) for m in (SPEARMAN, PEARSON)] for t, split in suite.items()
        },
    }


def arxiv_figures(model: str, run: str) -> dict:
    """arXiv figures with the prepared data and the `eval:` settings of an arXiv pipeline run folder."""
    from embedlab.apps.arxiv.config import load_pipeline_config
    from embedlab.evaluate.arxiv import evaluate_arxiv
    from embedlab.evaluate.records import records_from_json

    settings = load_pipeline_config(Path(run) / "config.yaml").eval
    records = records_from_json(evaluate_arxiv(model, Path(run) / "data", settings)["records"])
    return {
        "arxiv_p10": lookup(records, RETRIEVAL, "precision@10"),
        "arxiv_macro_f1": lookup(records, CLASSIFICATION, "macro_f1"),
    }


def cell(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", metavar="LABEL=MODEL[@BACKEND]")
    parser.add_argument("--arxiv", help="an arXiv pipeline run folder: its data and eval settings (P@10, F1)")
    parser.add_argument("--arxiv-models", nargs="+", metavar="LABEL", help="arXiv for these only (time)")
    parser.add_argument("--per-task", action="store_true", help="also each STS task, Klein's layout")
    parser.add_argument("--speed-only", action="store_true", help="size and throughput only, no evaluation")
    args = parser.parse_args()
    specs = [arg.split("=", 1) for arg in args.models]
    if any(len(s) != 2 for s in specs):
        parser.error("give each model as LABEL=MODEL[@BACKEND]")
    pairs = {}
    if not args.speed_only:
        pairs = {(task, split): load_sts(task, split) for task, split in parse_tasks(None)} | held_out_pairs()
    sample = sts_sentences("stsb", "test")
    header = ["model", "backend", "7-task avg", "held-out avg", "STS-B test", "arXiv P@10", "arXiv macro-F1"]
    header += ["params M", "size MB", "sentences/s", "× first"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    rows, first_rate = [], None
    for label, spec in specs:
        model, _, backend = spec.partition("@")
        backend = backend or "torch"
        encoder = load_encoder(model, backend, threads=2)
        row = {"label": label, "model": model, "backend": backend}
        if not args.speed_only:
            row |= sts_figures(encoder, pairs)
        model_obj = getattr(encoder, "model", None)
        row["params_m"] = sum(p.numel() for p in model_obj.parameters()) / 1e6 if model_obj else None
        row["size_mb"] = size_mb(Path(resolve(model)), backend)
        row["sentences_per_s"] = len(sample) / time_encoding(encoder, sample, batch_size=64, repeats=5)
        first_rate = first_rate or row["sentences_per_s"]
        if args.arxiv and backend.startswith("torch") and label in (args.arxiv_models or [label]):
            row |= arxiv_figures(model, args.arxiv)
        cells = [label, backend, cell(row.get("sts_average")), cell(row.get("held_out_average"))]
        cells += [cell(row.get("stsb_test")), cell(row.get("arxiv_p10")), cell(row.get("arxiv_macro_f1"))]
        cells += [cell(row["params_m"], 1), cell(row["size_mb"], 1), cell(row["sentences_per_s"], 0)]
        cells.append(f"{row['sentences_per_s'] / first_rate:.1f}")
        print("| " + " | ".join(cells) + " |", flush=True)
        rows.append(row)
    if args.per_task and not args.speed_only:
        print("\n| model | " + " | ".join(TITLES[t] for t in STS_SUITE) + " |")
        print("|" + "---|" * (len(STS_SUITE) + 1))
        for row in rows:
            spearman_pearson = [f"{s:.2f} / {p:.2f}" for s, p in row["per_task"].values()]
            print(f"| {row['label']} | " + " | ".join(spearman_pearson) + " |")
    out = Path(f"benchmarks/results/model_table{'_speed' if args.speed_only else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
