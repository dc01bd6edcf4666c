"""Near-duplicate removal: exact copies first (by a hash of the normalised text, at no encoding cost), then
every pair above a cosine threshold found through a FAISS index (k nearest neighbours with a range check),
grouped by union-find; the first row of each group is kept, and every other row is removed as a duplicate of
a kept row it matches directly (or kept, if it matches none: chains do not drag in dissimilar rows).

`embedlab dedup DOCS --model M --threshold T --out DIR` is this module on a file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embedlab.apps.common import check_threshold, encode_texts, write_rows
from embedlab.data.documents import RejectedRows
from embedlab.index.neighbours import pairs_above
from embedlab.io import output_dir

KIND = "dedup result"  # the kind of folder `write_dedup` makes (embedlab.io ownership)


@dataclass(frozen=True)
class Removal:
    """A removed row: the kept row it duplicates, their cosine (1.0 for an exact copy), how it was found."""

    row: int
    duplicate_of: int
    score: float
    exact: bool


@dataclass
class DedupResult:
    """Which rows are kept and which removed (each with the row it duplicates).

    Example::

        result = deduplicate(texts, encoder, threshold=0.9)
        result.kept[:3], result.removed[0].duplicate_of
    """

    kept: list[int]
    removed: list[Removal]
    threshold: float
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def exact(self) -> int:
        """Rows removed as exact copies (after whitespace and case normalisation)."""
        return sum(r.exact for r in self.removed)

    def group_of(self) -> np.ndarray:
        """For every row, the row that represents its group (itself when kept)."""
        owner = np.arange(len(self.kept) + len(self.removed))
        for removal in self.removed:
            owner[removal.row] = removal.duplicate_of
        return owner


def normalise_for_hash(text: str) -> str:
    """Case-folded, whitespace collapsed: what counts as the same text for exact deduplication.

    Example::

        normalise_for_hash("  A  Cat ")  # "a cat"
    """
    return " ".join(text.casefold().split())


def exact_copies(texts: list[str]) -> np.ndarray:
    """For each row, the first row with the same normalised text (itself when it is the first).

    Example::

        exact_copies(["a", "b", " A "])  # array([0, 1, 0])
    """
    first: dict[bytes, int] = {}
    owner = np.empty(len(texts), dtype=np.int64)
    for row, text in enumerate(texts):  # 16-byte digests: a million long texts fit in little memory
        digest = hashlib.blake2b(normalise_for_hash(text).encode(), digest_size=16).digest()
        owner[row] = first.setdefault(digest, row)
    return owner


def union_find(size: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The smallest row of each row's connected group, given edges (left[i], right[i]).

    Example::

        union_find(4, np.array([0, 2]), np.array([1, 3]))  # array([0, 0, 2, 2])
    """
    parent = np.arange(size)

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving keeps the trees flat
            x = parent[x]
        return x

    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(x) for x in range(size)], dtype=np.int64)


def direct_matches(vectors: np.ndarray, groups: np.ndarray, threshold: float) -> dict[int, tuple[int, float]]:
    """Within each union-find group, in row order: a row is removed as a duplicate of the first kept row it
    matches directly (cosine ≥ `threshold`), else kept. So every removal names a row it really is close to —
    a chain a~b~c never removes c for a it does not resemble.

    Example::

        direct_matches(unit_vectors, union_find(n, left, right), 0.9)  # {row: (kept row, cosine)}
    """
    matches: dict[int, tuple[int, float]] = {}
    order = np.argsort(groups, kind="stable")  # rows grouped, in row order within each group
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    for members in np.split(order, bounds):
        if len(members) < 2:
            continue
        kept = [int(members[0])]
        for row in members[1:].tolist():
            scores = vectors[kept] @ vectors[row]
            best = int(np.argmax(scores >= threshold)) if (scores >= threshold).any() else -1
            if best < 0:
                kept.append(row)
            else:
                matches[row] = (kept[best], float(scores[best]))
    return matches


def deduplicate(
    texts: list[str],
    encoder=None,
    *,
    threshold: float = 0.9,
    vectors: np.ndarray | None = None,
    k: int = 20,
    batch_size: int = 64,
    show_progress: bool = True,
) -> DedupResult:
    """Keep one text of each group of duplicates: exact copies, then pairs with cosine ≥ `threshold`.

    Give an `encoder` (any embedlab Encoder) or precomputed `vectors` (one row per text).

    Example::

        result = deduplicate(texts, load_encoder("runs/static-minilm"), threshold=0.9)
        kept_texts = [texts[i] for i in result.kept]
    """
    import time

    check_threshold(threshold)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    owner = exact_copies(texts)
    unique = np.flatnonzero(owner == np.arange(len(texts)))
    seconds["exact"] = time.perf_counter() - started
    started = time.perf_counter()
    if vectors is None:
        if encoder is None:
            raise ValueError("give an encoder or the texts' vectors")
        unique_vectors = encode_texts(encoder, [texts[i] for i in unique], "dedup", batch_size, show_progress)
    else:
        from embedlab.io import l2_normalise

        unique_vectors = l2_normalise(np.asarray(vectors)[unique])
    seconds["encode"] = time.perf_counter() - started
    started = time.perf_counter()
    with _bar(len(unique), "dedup: neighbours", show_progress) as progress:
        left, right, _ = pairs_above(unique_vectors, threshold, k=k, progress=progress)
    matches = direct_matches(unique_vectors, union_find(len(unique), left, right), threshold)
    seconds["neighbours"] = time.perf_counter() - started
    copies = np.flatnonzero(owner != np.arange(len(texts)))
    removed = [Removal(int(row), int(owner[row]), 1.0, True) for row in copies]
    removed += [Removal(int(unique[i]), int(unique[j]), score, False) for i, (j, score) in matches.items()]
    # an exact copy of a row removed as a near duplicate points to that row's own representative
    representative = {r.row: r.duplicate_of for r in removed if not r.exact}
    removed = [
        Removal(r.row, representative.get(r.duplicate_of, r.duplicate_of), r.score, r.exact) for r in removed
    ]
    kept = sorted(set(range(len(texts))) - {r.row for r in removed})
    return DedupResult(kept, sorted(removed, key=lambda r: r.row), threshold, seconds)


class _bar:
    """A progress bar as a callback taking how many rows were just done."""

    def __init__(self, total: int, label: str, show: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=label, unit=" texts", disable=not show)

    def __enter__(self) -> Callable[[int], None]:
        return self.bar.update

    def __exit__(self, *_: object) -> None:
        self.bar.close()


def dedup_report(result: DedupResult, documents: list[dict], source: str) -> str:
    """A short Markdown report: counts, threshold, timings and the closest removed pairs.

    Example::

        print(dedup_report(result, docs, "docs.jsonl"))
    """
    near = [r for r in result.removed if not r.exact]
    lines = [
        f"# Near-duplicates in {source}",
        "",
        f"- texts: {len(documents):,}; kept {len(result.kept):,}; removed {len(result.removed):,} "
        f"({result.exact:,} exact copies, {len(near):,} near duplicates at cosine ≥ {result.threshold})",
        "- seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items()),
        "",
        "| removed | duplicate of | cosine | text |",
        "|---|---|---|---|",
    ]
    for r in sorted(near, key=lambda r: r.score)[:10]:  # the least similar removals: where to check T
        text = documents[r.row]["text"].replace("|", "\\|")[:80]
        lines.append(
            f"| {documents[r.row]['id']} | {documents[r.duplicate_of]['id']} | {r.score:.3f} | {text} |"
        )
    return "\n".join(lines) + "\n"


def write_dedup(
    out: str | Path,
    result: DedupResult,
    documents: list[dict],
    source: str,
    *,
    fmt: str = "jsonl",
    force=False,
    rejected: RejectedRows | None = None,
) -> Path:
    """Write kept rows, removed rows (each with `duplicate_of` and `score`) and report.md into `out`; with
    `rejected` (the bad rows `skip_bad_rows` set aside), rejected.jsonl too.

    Example::

        write_dedup("dedup-out", result, docs, "docs.jsonl", fmt="parquet")
    """
    kept = [documents[i] for i in result.kept]
    removed = [
        {
            **documents[r.row],
            "duplicate_of": documents[r.duplicate_of]["id"],
            "score": round(r.score, 4),
            "exact": r.exact,
        }
        for r in result.removed
    ]
    with output_dir(out, kind=KIND, force=force, inputs=[source]) as staging:
        write_rows(staging / f"kept.{fmt}", kept)
        write_rows(staging / f"removed.{fmt}", removed)
        (staging / "report.md").write_text(dedup_report(result, documents, source), encoding="utf-8")
        if rejected is not None:
            rejected.write(staging / "rejected.jsonl")
    return Path(out)
