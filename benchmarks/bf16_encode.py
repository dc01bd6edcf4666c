"""fp32 vs bf16-autocast encoding speed and agreement on this CPU (why `training.bf16: auto` checks for AMX).

Usage: .venv/bin/python benchmarks/bf16_encode.py [MODEL] [N_SENTENCES]
Alternates fp32 and bf16 passes (A B A B ...) so drift on a shared machine hits both alike; prints medians.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import torch

from embedlab.data.sts import sentences as sts_sentences
from embedlab.hardware import has_amx, machine_summary
from embedlab.models import load_model


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "all-MiniLM-L6-v2"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    sentences = sts_sentences("stsb", "test", limit=count)
    model = load_model(name)

    def encode(bf16: bool) -> tuple[float, np.ndarray]:
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            vectors = model.encode(sentences, batch_size=32, convert_to_numpy=True)
        return time.perf_counter() - started, vectors.astype(np.float32)

    encode(False), encode(True)  # warm-up
    times = {False: [], True: []}
    vectors = {}
    for _ in range(3):
        for bf16 in (False, True):
            seconds, vectors[bf16] = encode(bf16)
            times[bf16].append(seconds)
    a, b = vectors[False], vectors[True]
    cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    fp32, bf16 = statistics.median(times[False]), statistics.median(times[True])
    print(f"machine: {machine_summary()} (AMX: {has_amx()})")
    print(f"{name}, {len(sentences)} STS-B test sentences, batch 32, median of 3")
    n = len(sentences)
    print(f"fp32 {n / fp32:.0f} sentences/s; bf16 autocast {n / bf16:.0f} sentences/s; ×{fp32 / bf16:.2f}")
    print(f"mean cosine bf16 vs fp32 {cosine.mean():.5f} (min {cosine.min():.5f})")


if __name__ == "__main__":
    main()
