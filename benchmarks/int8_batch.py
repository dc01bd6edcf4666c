"""int8 vectors and their batch mates (issue 35): the shipped per-row int8 file against onnxruntime's dynamic
int8, onnx fp32, torch fp32 (and torch bf16 where the CPU has bf16 instructions), in one process.

For each: sentences/s at batch 32 (512 STS-B test sentences, 2 threads; median of 5 rounds, the variants
interleaved in each round, so that the machine's drift falls on all alike), mean / min cosine to torch fp32,
the cosine of each of 128 texts encoded alone against the same text inside batches of 32 (1.0 = the batch
does not matter), and STS-B dev / test Spearman.

    .venv/bin/python benchmarks/int8_batch.py [--model all-MiniLM-L6-v2] [--work runs/int8-batch]

Writes benchmarks/results/int8_batch.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from embedlab.data.sts import sentences as sts_sentences
from embedlab.evaluate.parity import cosine_to, stsb_spearman
from embedlab.evaluate.speed import time_encoding
from embedlab.hardware import cpu_has_bf16, machine_summary
from embedlab.io import l2_normalise
from embedlab.models.registry import resolve
from embedlab.runtime.encoder import OnnxEncoder, TorchEncoder
from embedlab.runtime.export import FP32_FILE, INT8_FILE, export_onnx
from embedlab.runtime.quantize import quantize_int8

BATCH = 32


def alone_vs_batched(encoder, texts: list[str]) -> tuple[float, float]:
    alone = l2_normalise(np.stack([encoder.encode([text], 1)[0] for text in texts]))
    batched = l2_normalise(encoder.encode(texts, BATCH))
    cosine = (alone * batched).sum(axis=1)
    return float(cosine.mean()), float(cosine.min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--work", default="runs/int8-batch")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(args.work)
    if not (work / INT8_FILE).is_file():
        shutil.rmtree(work, ignore_errors=True)  # the benchmark's own scratch copy
        shutil.copytree(resolve(args.model), work)
        export_onnx(work, int8=True)  # the shipped scheme: per-row
        quantize_int8(work / FP32_FILE, work / "onnx" / "dynamic.onnx")
    encoders = {
        "torch fp32": TorchEncoder(str(work)),
        **({"torch bf16": TorchEncoder(str(work), bf16=True)} if cpu_has_bf16() else {}),
        "onnx fp32": OnnxEncoder(work, FP32_FILE),
        "int8 dynamic (onnxruntime, per batch)": OnnxEncoder(work, "onnx/dynamic.onnx"),
        "int8 per-row (shipped)": OnnxEncoder(work, INT8_FILE),
    }
    sample = sts_sentences("stsb", "test", limit=512)
    reference = encoders["torch fp32"].encode(sample, BATCH)
    rates: dict[str, list[float]] = {name: [] for name in encoders}
    for encoder in encoders.values():
        encoder.encode(sample[:64], BATCH)  # warm-up
    for _ in range(args.rounds):
        for name, encoder in encoders.items():
            rates[name].append(len(sample) / time_encoding(encoder, sample, batch_size=BATCH, repeats=1))
    torch_rate = float(np.median(rates["torch fp32"]))
    rows = []
    for name, encoder in encoders.items():
        mean, least = cosine_to(encoder.encode(sample, BATCH), reference)
        batch_mean, batch_min = alone_vs_batched(encoder, sample[:128])
        rate = float(np.median(rates[name]))
        row = {
            "variant": name,
            "sentences_per_s": round(rate),
            "min_max": [round(min(rates[name])), round(max(rates[name]))],
            "x_torch_fp32": round(rate / torch_rate, 2),
            "cosine_to_torch": [round(mean, 4), round(least, 4)],
            "alone_vs_batch": [round(batch_mean, 7), round(batch_min, 7)],
            "stsb_dev": round(stsb_spearman(encoder, "dev"), 2),
            "stsb_test": round(stsb_spearman(encoder, "test"), 2),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    out = Path("benchmarks/results/int8_batch.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine_summary(), "rows": rows}, indent=2))
    print(f"\n{machine_summary()}\n")
    header = ["variant", "sentences/s (min–max)", "× torch fp32", "cosine to torch, mean / min",
              "alone vs in a batch, mean / min", "STS-B dev", "STS-B test"]  # fmt: skip
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for r in rows:
        print(
            f"| {r['variant']} | {r['sentences_per_s']:,} ({r['min_max'][0]:,}–{r['min_max'][1]:,}) "
            f"| {r['x_torch_fp32']} | {r['cosine_to_torch'][0]:.4f} / {r['cosine_to_torch'][1]:.4f} "
            f"| {r['alone_vs_batch'][0]:.7f} / {r['alone_vs_batch'][1]:.7f} "
            f"| {r['stsb_dev']} | {r['stsb_test']} |"
        )


if __name__ == "__main__":
    main()
