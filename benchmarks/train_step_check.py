"""A training step's speed on this machine's accelerator (or CPU): sentence-transformers' CoSENT loss on
MiniLM-L6 and MPNet-base shapes with random weights (speed does not depend on the weights), batches of real
sentence pairs, fp32 and bf16 autocast, AdamW — what `embedlab train` does per step, without the Trainer's
bookkeeping. Part of the one-call device check (benchmarks/device_check.sh); runs on a CPU too (small sizes),
which is how the test suite keeps it working.

    python benchmarks/train_step_check.py --sentences .device/sentences.txt --tokenizer .device/tokenizer \
        --out train_step.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from gpu_encode_check import build  # run as benchmarks/train_step_check.py: its folder is on the path

from embedlab.runtime.gpu import resolve_device


def _on(device, features: dict) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}


def step_rate(
    model, pairs: list[tuple[str, str]], batch_size: int, steps: int, dtype: str, warmup: int = 5
) -> float:
    """Training steps per second (after `warmup` untimed steps) with CoSENT and AdamW, under `dtype` autocast.
    Two warm-up steps and 20 timed ones were too few on the H200 (2026-12-04: MiniLM-L6 bf16 came out slower
    than MPNet-base): kernel choice and allocator growth fell inside the timing."""
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    loss = CoSENTLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    device = model.device
    scores = torch.rand(len(pairs), device=device)

    def one(step: int) -> None:
        start = (step * batch_size) % max(1, len(pairs) - batch_size)
        batch = pairs[start : start + batch_size]
        prepare = getattr(model, "preprocess", None) or model.tokenize  # tokenize before ST 6
        features = [_on(device, prepare([p[i] for p in batch])) for i in (0, 1)]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16"):
            value = loss(features, scores[start : start + len(batch)])
        value.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for step in range(warmup):
        one(step)
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for step in range(steps):
        one(step + warmup)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", required=True, help="one sentence per line")
    parser.add_argument("--tokenizer", required=True, help="a BERT WordPiece tokenizer folder")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--runs", default="MiniLM-L6:fp32,MiniLM-L6:bf16,MPNet-base:fp32,MPNet-base:bf16")
    parser.add_argument("--out", default="train_step.json")
    args = parser.parse_args()
    device = resolve_device("auto")
    lines = [line for line in Path(args.sentences).read_text(encoding="utf-8").splitlines() if line.strip()]
    pairs = list(zip(lines[0::2], lines[1::2], strict=False))
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU"
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for run in args.runs.split(","):
            shape, dtype = run.split(":")
            model = build(shape, args.tokenizer, Path(root), device)
            model.train()
            rate = step_rate(model, pairs, args.batch_size, args.steps, dtype, args.warmup)
            row = {
                "model": shape,
                "dtype": dtype,
                "batch": args.batch_size,
                "steps_per_s": round(rate, 2),
                "pairs_per_s": round(rate * args.batch_size),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    Path(args.out).write_text(json.dumps({"device": name, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
