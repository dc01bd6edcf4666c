"""`embedlab dedup` at scale: a million texts — arXiv titles and abstract sentences plus injected exact copies
(case and spacing changed) and paraphrased copies (a word dropped, or two neighbours swapped), generated
reproducibly — deduplicated end to end on this machine. Reports time per stage, peak memory and the share of
injected copies found.

    .venv/bin/python benchmarks/dedup_scale.py --model runs/static-minilm --n 1000000 --threshold 0.9
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import time
from pathlib import Path

from embedlab.apps.dedup import deduplicate
from embedlab.data.sentences import split_sentences
from embedlab.paths import data_dir
from embedlab.runtime.encoder import load_encoder


def base_texts(limit: int) -> list[str]:
    """Distinct arXiv titles and abstract sentences, in file order."""
    seen: dict[str, None] = {}
    with gzip.open(data_dir() / "arxiv" / "papers.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            paper = json.loads(line)
            for text in (paper["title"], *split_sentences(paper["abstract"])):
                seen.setdefault(" ".join(text.split()), None)
            if len(seen) >= limit:
                break
    return list(seen)[:limit]


def paraphrase(text: str, rng: random.Random) -> str:
    words = text.split()
    if len(words) < 4:
        return text + " ."
    i = rng.randrange(len(words) - 1)
    if rng.random() < 0.5:
        del words[i]
    else:
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def corpus(n: int, share: float, seed: int) -> tuple[list[str], dict[int, int], dict[int, int]]:
    """`n` texts: distinct arXiv texts, then exact copies and paraphrases in equal numbers — at least `share`
    of `n` each, more where the arXiv texts run out (78,545 papers give about 526,000 distinct texts).
    Returns the texts, {exact copy row: original row} and {paraphrase row: original row}."""
    rng = random.Random(seed)
    texts = base_texts(n - 2 * int(n * share))
    base = len(texts)
    exact, near = {}, {}
    for original in rng.choices(range(base), k=(n - base) // 2):
        exact[len(texts)] = original
        texts.append("  " + texts[original].upper() + " ")
    for original in rng.choices(range(base), k=n - len(texts)):
        near[len(texts)] = original
        texts.append(paraphrase(texts[original], rng))
    return texts, exact, near


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="runs/static-minilm")
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--share", type=float, default=0.1, help="share of exact copies (and of paraphrases)")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--out", default="benchmarks/results/dedup_scale.json")
    args = parser.parse_args()
    started = time.perf_counter()
    texts, exact, near = corpus(args.n, args.share, seed=0)
    build_seconds = time.perf_counter() - started
    print(
        f"{len(texts):,} texts ({len(exact):,} exact, {len(near):,} paraphrased copies) {build_seconds:.0f} s"
    )
    encoder = load_encoder(args.model, args.backend)
    started = time.perf_counter()
    result = deduplicate(texts, encoder, threshold=args.threshold, batch_size=args.batch_size)
    seconds = time.perf_counter() - started
    groups = result.group_of()
    removed = {r.row for r in result.removed}
    found_exact = sum(row in removed and groups[row] == groups[o] for row, o in exact.items()) / len(exact)
    found_near = sum(row in removed and groups[row] == groups[o] for row, o in near.items()) / len(near)
    report = {
        "model": args.model,
        "backend": args.backend,
        "texts": len(texts),
        "threshold": args.threshold,
        "seconds": round(seconds, 1),
        "stages": {k: round(v, 1) for k, v in result.seconds.items()},
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
        "removed": len(result.removed),
        "exact_removed": result.exact,
        "injected_exact_found": round(100 * found_exact, 2),
        "injected_paraphrases_found": round(100 * found_near, 2),
        "other_rows_removed": len(removed - set(exact) - set(near)),
    }
    print(json.dumps(report, indent=2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
