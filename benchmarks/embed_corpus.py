"""`embedlab embed` measured end to end, as a user runs it (the CLI in a subprocess), on this machine.

    # the 78,545 arXiv abstracts: the local engine, then the same job on a local Ray; same vectors?
    .venv/bin/python benchmarks/embed_corpus.py arxiv --model runs/static-minilm --backend torch
    .venv/bin/python benchmarks/embed_corpus.py arxiv --model runs/minilm --backend onnx-int8 --limit 10000
    # a million texts (arXiv titles and abstract sentences, as benchmarks/dedup_scale.py makes them)
    .venv/bin/python benchmarks/embed_corpus.py million --model runs/minilm --backend onnx-int8

Reports wall time, texts/s and peak memory of the command (for Ray: of the driver; the actors are Ray's
worker processes), and for the arXiv pair the cosine between the two engines' vectors. Writes JSON to
benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from embedlab.embed import read_vectors
from embedlab.paths import data_dir

EMBEDLAB = [sys.executable, "-m", "embedlab"]


def run_embed(source: Path, out: Path, args, *extra: str) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    command = [*EMBEDLAB, "embed", str(source), "--model", args.model, "--out", str(out)]
    command += ["--backend", args.backend, "--batch-size", str(args.batch_size), *extra]
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command],
        env={**os.environ, "TQDM_MININTERVAL": "30"},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    manifest = json.loads((out / "manifest.json").read_text())
    return {
        "command": " ".join(command[2:]),
        "texts": manifest["count"],
        "shards": len(manifest["shards"]),
        "wall_s": round(seconds, 1),
        "texts_per_s": round(manifest["count"] / seconds, 1),
        "peak_rss_gb": round(peak_kb / 1e6, 2),  # the command's process (for Ray: the driver)
    }


def arxiv(args) -> dict:
    source = data_dir() / "arxiv" / "papers.jsonl.gz"
    work = Path(args.work)
    if args.limit:  # the first papers, as a file of their own
        import gzip
        from itertools import islice

        subset = work / f"papers-{args.limit}.jsonl"
        work.mkdir(parents=True, exist_ok=True)
        with gzip.open(source, "rt", encoding="utf-8") as lines, subset.open("w", encoding="utf-8") as out:
            out.writelines(islice(lines, args.limit))
        source = subset
    common = ("--text-field", "abstract", "--keep", "title", "--keep", "abstract")
    local = run_embed(source, work / "arxiv-local", args, *common)
    print(json.dumps(local), flush=True)
    on_ray = run_embed(source, work / "arxiv-ray", args, *common, "--engine", "ray")
    print(json.dumps(on_ray), flush=True)
    a, docs_a, _ = read_vectors(work / "arxiv-local")
    b, docs_b, _ = read_vectors(work / "arxiv-ray")
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    titles = None if args.limit else run_embed(source, work / "arxiv-titles", args, "--text-field", "title")
    return {
        "papers": local["texts"],
        "local": local,
        "ray": on_ray,
        "same_ids": [d["id"] for d in docs_a] == [d["id"] for d in docs_b],
        "cosine_min": float(cosine.min()),
        "cosine_mean": float(cosine.mean()),
        "ray_vs_local_time": round(on_ray["wall_s"] / local["wall_s"], 2),
        "titles": titles,
    }


def million(args) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from dedup_scale import corpus

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"texts-{args.n}.jsonl"
    if not source.is_file():
        texts, _, _ = corpus(args.n, 0.1, seed=0)
        with source.open("w", encoding="utf-8") as handle:
            for i, text in enumerate(texts):
                handle.write(json.dumps({"id": i, "text": text}) + "\n")
    return {"n": args.n, **run_embed(source, work / "million", args)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("job", choices=["arxiv", "million"])
    parser.add_argument("--model", default="runs/minilm")
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--work", default="runs/bench-embed")
    parser.add_argument("--limit", type=int, help="arxiv: only the first N papers")
    args = parser.parse_args()
    report = {"job": args.job, "model": args.model, "backend": args.backend, **globals()[args.job](args)}
    print(json.dumps(report, indent=2))
    size = args.limit if args.job == "arxiv" else args.n
    label = f"{args.job}-{Path(args.model).name}-{args.backend}" + (f"-{size}" if size else "")
    out = Path("benchmarks/results") / f"embed_{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
