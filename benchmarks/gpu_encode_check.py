"""Device check (one GPU, under 5 minutes, nothing but the repository and pip wheels): sentence-transformers'
`encode` against embedlab's pipelined encode path (`runtime/gpu.py`) on MiniLM-L6 and MPNet-base built from
their configs with random weights (speed does not depend on the weights), on real STS-B sentences.

Prints and writes (to --out) sentences/s of both, the ratio, and the cosine of each path's vectors to
sentence-transformers' fp32 vectors. Runs on a CPU too (small --limit), which is how the test suite keeps it
working.

    python benchmarks/gpu_encode_check.py --sentences runs/gpu-payload/sentences.txt \
        --tokenizer runs/gpu-payload/tokenizer --out results.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from embedlab.runtime.gpu import PipelinedEncoder, resolve_device

MODELS = {  # the shapes of all-MiniLM-L6-v2 and all-mpnet-base-v2
    "MiniLM-L6": (
        "bert",
        {
            "hidden_size": 384,
            "num_hidden_layers": 6,
            "num_attention_heads": 12,
            "intermediate_size": 1536,
            "vocab_size": 30522,
        },
        256,
    ),
    "MPNet-base": (
        "mpnet",
        {
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
            "vocab_size": 30527,
        },
        384,
    ),
}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def build(name: str, tokenizer_dir: str, root: Path, device: str):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling
    from transformers import AutoTokenizer, BertConfig, BertModel, MPNetConfig, MPNetModel

    kind, shape, max_length = MODELS[name]
    folder = root / name
    if not folder.is_dir():
        torch.manual_seed(0)
        config = (BertConfig if kind == "bert" else MPNetConfig)(max_position_embeddings=514, **shape)
        (BertModel if kind == "bert" else MPNetModel)(config).save_pretrained(folder)
        AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(folder)
    transformer = Transformer(str(folder), max_seq_length=max_length)
    modules = [transformer, Pooling(shape["hidden_size"], pooling_mode="mean"), Normalize()]
    return SentenceTransformer(modules=modules, device=device)


def timed(encode, sentences: list[str], repeats: int) -> tuple[float, np.ndarray]:
    """Best sentences/s of `repeats` runs (after one warm-up) and the vectors."""
    encode(sentences[:2048])
    best, vectors = 0.0, None
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        vectors = encode(sentences)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = max(best, len(sentences) / (time.perf_counter() - started))
    return best, np.asarray(vectors)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(axis=1).min())


def check(name, dtype, args, root, device, sentences, reference) -> dict:
    model = build(name, args.tokenizer, root, device)
    if dtype != "fp32":
        model.to(DTYPES[dtype])
    st_rate, st_vectors = timed(
        lambda s: model.encode(s, batch_size=args.batch_size, convert_to_numpy=True), sentences, args.repeats
    )
    fresh = build(name, args.tokenizer, root, device)
    ours = PipelinedEncoder(fresh, dtype=dtype, token_budget=args.token_budget, workers=args.workers)
    our_rate, our_vectors = timed(ours.encode, sentences, args.repeats)
    if dtype == "fp32":
        reference[name] = st_vectors
    row = {
        "model": name,
        "dtype": dtype,
        "st_sentences_per_s": round(st_rate),
        "embedlab_sentences_per_s": round(our_rate),
        "ratio": round(our_rate / st_rate, 2),
        "min_cosine_embedlab_vs_st_fp32": round(cosine(our_vectors, reference[name]), 6),
        "min_cosine_st_vs_st_fp32": round(cosine(st_vectors, reference[name]), 6),
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", required=True, help="one sentence per line")
    parser.add_argument("--tokenizer", required=True, help="a BERT WordPiece tokenizer folder")
    parser.add_argument("--limit", type=int, default=30_000)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--token-budget", type=int, default=32_768)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--runs", default="MiniLM-L6:fp32,MiniLM-L6:bf16,MPNet-base:fp32,MPNet-base:bf16,MPNet-base:fp16"
    )
    parser.add_argument("--out", default="gpu_encode_check.json")
    args = parser.parse_args()
    device = resolve_device("auto")
    lines = Path(args.sentences).read_text(encoding="utf-8").splitlines()
    sentences = [line for line in lines if line.strip()][: args.limit]
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU"
    print(f"{len(sentences):,} sentences on {name}; torch {torch.__version__}", flush=True)
    rows, reference = [], {}
    with tempfile.TemporaryDirectory() as root:
        for run in args.runs.split(","):
            model, dtype = run.split(":")
            rows.append(check(model, dtype, args, Path(root), device, sentences, reference))
    Path(args.out).write_text(
        json.dumps({"device": name, "sentences": len(sentences), "rows": rows}, indent=2)
    )
    print(
        "\n| model | dtype | ST encode /s | embedlab /s | × | min cosine to ST fp32 |\n"
        "|---|---|---|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r['model']} | {r['dtype']} | {r['st_sentences_per_s']:,} "
            f"| {r['embedlab_sentences_per_s']:,} | {r['ratio']} | {r['min_cosine_embedlab_vs_st_fp32']} |"
        )


if __name__ == "__main__":
    main()
