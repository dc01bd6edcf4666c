"""Matching: for each query the best candidates above a score (FAQ answering, record linkage), or paraphrase
mining inside one collection (`self_match`). Candidates go through a FAISS index, never an n×m matrix.

`embedlab match QUERIES CANDIDATES -k K --min-score S --out DIR` is this module on files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedlab.apps.common import check_threshold, encode_texts
from embedlab.index.neighbours import best_matches, pairs_above

KIND = "match result"  # the kind of folder `write_matches` makes (embedlab.io ownership)


@dataclass(frozen=True)
class Match:
    """One query's candidate: its row among the candidates and the cosine."""

    query: int
    candidate: int
    score: float


def match(
    query_vectors: np.ndarray, candidate_vectors: np.ndarray, *, k: int = 1, min_score: float = -1.0
) -> list[list[Match]]:
    """For each query, up to `k` candidates with cosine ≥ `min_score`, best first (empty: no match).

    Example::

        found = match(encode_texts(enc, questions, "q"), encode_texts(enc, answers, "a"), min_score=0.5)
        [answers[m[0].candidate] if m else None for m in found]
    """
    check_threshold(min_score, "min_score")
    if k < 1:
        raise ValueError("k must be at least 1")
    found = best_matches(query_vectors, candidate_vectors, k=k, min_score=min_score)
    return [[Match(q, c, s) for c, s in matches] for q, matches in enumerate(found)]


def match_texts(encoder, queries: list[str], candidates: list[str], *, k: int = 1, min_score: float = -1.0):
    """`match` on texts: both sides encoded with `encoder` (progress bars labelled "queries"/"candidates").

    Example::

        found = match_texts(load_encoder("all-MiniLM-L6-v2"), ["How do I reset my password?"], faq_answers)
    """
    check_threshold(min_score, "min_score")
    return match(
        encode_texts(encoder, queries, "queries"),
        encode_texts(encoder, candidates, "candidates"),
        k=k,
        min_score=min_score,
    )


def self_match(vectors: np.ndarray, *, min_score: float = 0.8, k: int = 10) -> list[Match]:
    """Paraphrase mining: pairs of rows of one collection with cosine ≥ `min_score`, best first.

    Example::

        pairs = self_match(encode_texts(encoder, sentences, "mining"), min_score=0.85)
    """
    check_threshold(min_score, "min_score")
    left, right, scores = pairs_above(vectors, min_score, k=k)
    order = np.argsort(-scores, kind="stable")
    return [Match(int(left[i]), int(right[i]), float(scores[i])) for i in order]


def match_rows(
    queries: list[dict],
    candidates: list[dict],
    query_vectors: np.ndarray,
    candidate_vectors: np.ndarray,
    *,
    k: int = 1,
    min_score: float = 0.5,
    self_: bool = False,
) -> list[dict]:
    """Matches as rows: `query`, `candidate` (None: no match above the score), `score`, `rank`, the texts.
    With `self_`, the pairs within `queries` (paraphrase mining).

    Example::

        rows = match_rows(questions, answers, q_vectors, a_vectors, k=1, min_score=0.5)
    """
    if self_:
        return [
            {
                "query": queries[m.query]["id"],
                "candidate": queries[m.candidate]["id"],
                "score": round(m.score, 4),
                "query_text": queries[m.query]["text"],
                "candidate_text": queries[m.candidate]["text"],
            }
            for m in self_match(query_vectors, min_score=min_score, k=max(k, 10))
        ]
    rows: list[dict] = []
    for q, found in enumerate(match(query_vectors, candidate_vectors, k=k, min_score=min_score)):
        query = queries[q]
        if not found:
            rows.append(
                {
                    "query": query["id"],
                    "candidate": None,
                    "score": None,
                    "rank": None,
                    "query_text": query["text"],
                    "candidate_text": None,
                }
            )
        for rank, m in enumerate(found, start=1):
            rows.append(
                {
                    "query": query["id"],
                    "candidate": candidates[m.candidate]["id"],
                    "score": round(m.score, 4),
                    "rank": rank,
                    "query_text": query["text"],
                    "candidate_text": candidates[m.candidate]["text"],
                }
            )
    return rows


def write_matches(out, rows: list[dict], *, force: bool = False, inputs: Sequence[str | Path] = ()):
    """Write matches.jsonl and a report.md (counts and the weakest accepted matches) into `out` atomically;
    `inputs`: the query and candidate files, which `out` may not be or hold.

    Example::

        write_matches("faq-matches", rows)
    """
    from embedlab.apps.common import write_rows
    from embedlab.io import output_dir

    scored = [r for r in rows if r["score"] is not None]
    lines = [
        "# Matches",
        "",
        f"- rows: {len(rows):,}; with a candidate: {len(scored):,}; without: {len(rows) - len(scored):,}",
        "",
        "| query | candidate | cosine |",
        "|---|---|---|",
        *(
            f"| {r['query']} | {r['candidate']} | {r['score']:.3f} |"
            for r in sorted(scored, key=lambda r: r["score"])[:10]
        ),
    ]
    with output_dir(out, kind=KIND, force=force, inputs=inputs) as staging:
        write_rows(staging / "matches.jsonl", rows)
        (staging / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out
