"""fp32 vs bf16-autocast *training* speed on this CPU: seconds per optimiser step, and whether the loss
follows the same course.

Usage: .venv/bin/python benchmarks/bf16_train.py minilm
         all-MiniLM-L6-v2, CoSENT on STS-B train pairs, batch 16
       .venv/bin/python benchmarks/bf16_train.py scratch TOKENIZER
         the 7×480 scratch encoder, MSE to 384-d targets, batch 64 STS-B train sentences, 64 tokens
Blocks of STEPS steps alternate fp32, bf16, fp32, bf16 ... (each from the same starting weights), so drift on
a shared machine hits both alike; prints the median seconds per step of each and the ratio.
"""

from __future__ import annotations

import copy
import statistics
import sys
import time

import torch

from embedlab.data.sts import load_sts
from embedlab.hardware import has_amx, machine_summary

STEPS, BLOCKS = 8, 3


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "minilm"
    pairs = load_sts("stsb", "train")
    if which == "minilm":
        from sentence_transformers.sentence_transformer.losses import CoSENTLoss

        from embedlab.models import load_model

        model, batch = load_model("all-MiniLM-L6-v2"), 16
        loss_fn = CoSENTLoss(model)
    else:
        from sentence_transformers.sentence_transformer.losses import MSELoss

        from embedlab.models.scratch import build_scratch_model

        model, batch = build_scratch_model(sys.argv[2], projection_dim=384), 64
        model.max_seq_length = 64
        loss_fn = MSELoss(model)
    start = copy.deepcopy(model.state_dict())

    def block(bf16: bool, offset: int) -> tuple[float, float]:
        model.load_state_dict(start)
        model.train()
        optimiser = torch.optim.AdamW(model.parameters(), lr=2e-5)
        seconds, last = [], 0.0
        for step in range(STEPS):
            rows = pairs[(offset + step) * batch : (offset + step + 1) * batch]
            first = model.tokenize(rows["sentence1"])
            if which == "minilm":
                features, labels = [first, model.tokenize(rows["sentence2"])], torch.tensor(rows["score"])
            else:
                features, labels = [first], torch.randn(batch, 384) / 20
            began = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = loss_fn(features, labels)
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
            seconds.append(time.perf_counter() - began)
            last = float(loss)
        return statistics.median(seconds[1:]), last

    times: dict[bool, list[float]] = {False: [], True: []}
    losses: dict[bool, float] = {}
    for _ in range(BLOCKS):
        for bf16 in (False, True):
            seconds, losses[bf16] = block(bf16, 0)
            times[bf16].append(seconds)
    fp32, bf16 = statistics.median(times[False]), statistics.median(times[True])
    print(f"machine: {machine_summary()} (AMX: {has_amx()})")
    print(f"{which}: batch {batch}, {STEPS} steps per block, {BLOCKS} blocks each, median s/step")
    print(f"fp32 {fp32:.3f} s/step; bf16 autocast {bf16:.3f} s/step; ×{fp32 / bf16:.2f}")
    print(f"loss after {STEPS} steps: fp32 {losses[False]:.5f}, bf16 {losses[True]:.5f}")


if __name__ == "__main__":
    main()
