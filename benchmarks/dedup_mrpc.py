"""Near-duplicate detection on MRPC, side by side: embedlab dedup, semhash (same encoder) and MinHash-LSH
(datasketch, lexical).

Each method deduplicates the whole collection of a split's sentences; a labelled pair counts as "predicted
duplicate" when both sentences land in the same group. The threshold of each method is chosen on the train
split (best F1), then precision / recall / F1 are reported on test.

    .venv/bin/python benchmarks/dedup_mrpc.py --model all-MiniLM-L6-v2 [--backend torch]
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from embedlab.apps.common import encode_texts
from embedlab.apps.dedup import deduplicate, union_find
from embedlab.paths import data_dir
from embedlab.runtime.encoder import load_encoder


def load_mrpc(split: str) -> tuple[list[str], list[tuple[int, int, int]]]:
    """Unique sentences of a split and its labelled pairs as (row, row, label)."""
    path = data_dir() / "mrpc" / f"msr_paraphrase_{split}.txt"
    with path.open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    position: dict[str, int] = {}
    pairs = []
    for row in rows:
        a, b = (position.setdefault(" ".join(t.split()), len(position)) for t in (row[3], row[4]))
        pairs.append((a, b, int(row[0])))
    return list(position), pairs


def pair_scores(groups: np.ndarray, pairs: list[tuple[int, int, int]]) -> dict[str, float]:
    predicted = np.array([groups[a] == groups[b] for a, b, _ in pairs])
    truth = np.array([label == 1 for _, _, label in pairs])
    tp = float((predicted & truth).sum())
    precision = tp / max(predicted.sum(), 1)
    recall = tp / max(truth.sum(), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    accuracy = float((predicted == truth).mean())
    return {"precision": 100 * precision, "recall": 100 * recall, "f1": 100 * f1, "accuracy": 100 * accuracy}


def embedlab_groups(texts, vectors, threshold: float) -> np.ndarray:
    return deduplicate(texts, vectors=vectors, threshold=threshold, show_progress=False).group_of()


class CachedEncoder:
    """semhash gets the very same vectors (the encoder's, computed once)."""

    def __init__(self, texts: list[str], vectors: np.ndarray) -> None:
        self.lookup = {t: v for t, v in zip(texts, vectors, strict=True)}

    def encode(self, sentences, **_: object) -> np.ndarray:
        return np.stack([self.lookup[s] for s in sentences])


def semhash_groups(texts, vectors, threshold: float, cache: dict) -> np.ndarray:
    from semhash import SemHash

    if "index" not in cache:
        cache["index"] = SemHash.from_records(records=texts, model=CachedEncoder(texts, vectors))
    result = cache["index"].self_deduplicate(threshold=threshold)
    position = {t: i for i, t in enumerate(texts)}
    groups = np.arange(len(texts))
    for duplicate in result.filtered:
        groups[position[duplicate.record]] = position[duplicate.duplicate_of]
    return groups


def minhash_groups(texts, threshold: float, cache: dict, num_perm: int = 128) -> np.ndarray:
    from datasketch import MinHash, MinHashLSH

    if "hashes" not in cache:
        hashes = []
        for text in texts:
            m = MinHash(num_perm=num_perm, seed=1)
            m.update_batch([w.encode() for w in set(text.lower().split())])
            hashes.append(m)
        cache["hashes"] = hashes
    hashes = cache["hashes"]
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for row, m in enumerate(hashes):
        lsh.insert(str(row), m)
    left, right = [], []
    for row, m in enumerate(hashes):
        for other in lsh.query(m):
            j = int(other)
            if j > row and hashes[row].jaccard(hashes[j]) >= threshold:
                left.append(row)
                right.append(j)
    return union_find(len(texts), np.array(left, dtype=np.int64), np.array(right, dtype=np.int64))


def choose(method, grid, train_texts, train_pairs) -> tuple[float, dict]:
    best = max(grid, key=lambda t: pair_scores(method("train", t), train_pairs)["f1"])
    return best, pair_scores(method("train", best), train_pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--out", default="benchmarks/results/dedup_mrpc.json")
    parser.add_argument("--cache", default="runs/mrpc-vectors.npz", help="vectors kept between runs")
    args = parser.parse_args()
    encoder = load_encoder(args.model, args.backend)
    data = {split: load_mrpc(split) for split in ("train", "test")}
    cache = Path(args.cache)
    if cache.is_file():  # the encoder's vectors, kept between runs (the grids are cheap, encoding is not)
        with np.load(cache) as saved:
            vectors = {split: saved[split] for split in data}
    else:
        vectors = {split: encode_texts(encoder, texts, f"MRPC {split}") for split, (texts, _) in data.items()}
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **vectors)
    caches: dict[str, dict] = {f"{m}-{s}": {} for m in ("semhash", "minhash") for s in data}
    methods = {
        "embedlab dedup": (
            lambda s, t: embedlab_groups(data[s][0], vectors[s], t),
            np.arange(0.50, 0.991, 0.01),
        ),
        "semhash 0.5 (same vectors)": (
            lambda s, t: semhash_groups(data[s][0], vectors[s], t, caches[f"semhash-{s}"]),
            np.arange(0.50, 0.991, 0.01),
        ),
        "MinHash-LSH (datasketch, word sets)": (
            lambda s, t: minhash_groups(data[s][0], t, caches[f"minhash-{s}"]),
            np.arange(0.10, 0.91, 0.05),
        ),
    }
    rows = []
    everything = pair_scores(np.zeros(len(data["test"][0]), dtype=np.int64), data["test"][1])  # all one group
    rows.append(
        {
            "method": "baseline: every pair a duplicate",
            "threshold": None,
            "train_f1": None,
            **{k: round(v, 2) for k, v in everything.items()},
            "seconds": 0.0,
        }
    )
    for name, (method, grid) in methods.items():
        started = time.perf_counter()
        threshold, train = choose(method, grid, *data["train"])
        test = pair_scores(method("test", threshold), data["test"][1])
        rows.append(
            {
                "method": name,
                "threshold": round(float(threshold), 2),
                "train_f1": round(float(train["f1"]), 2),
                **{k: round(float(v), 2) for k, v in test.items()},
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        print(rows[-1])
    print(
        "\n| method | threshold (train) | precision | recall | F1 | accuracy | seconds |\n"
        "|---|---|---|---|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r['method']} | {r['threshold']} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1']:.2f} "
            f"| {r['accuracy']:.2f} | {r['seconds']} |"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sizes = {s: {"sentences": len(t), "pairs": len(p)} for s, (t, p) in data.items()}
    out.write_text(
        json.dumps({"model": args.model, "backend": args.backend, "sizes": sizes, "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
