"""Querying an index for real documents: dense, BM25 or hybrid (reciprocal-rank fusion), metadata filters,
results per document (the best chunk as the highlight), and "more like this" by document id.

It lives in `index/` (not `apps/`) because the service's `POST /search` uses it, and serve sits below apps.

Library use mirrors `embedlab index search DIR QUERY --mode hybrid --where field=value` and `POST /search`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

import numpy as np

from embedlab.errors import EmbedlabError
from embedlab.models.cross_encoder import RERANK_DEPTH, check_rerank_depth

MODES = ("dense", "bm25", "hybrid")
RRF_K = 60  # the constant of Cormack et al. (2009): ranks below ~60 weigh little
CHUNKS_PER_DOCUMENT = 4  # candidates fetched per wanted document, so chunks of one document don't crowd out


@dataclass(frozen=True)
class DocumentHit:
    """One document found: its id, score (cosine, BM25 or fused), best chunk as the highlight, metadata.
    In hybrid mode `score` is the reciprocal-rank fusion Σ 1/(60 + rank) — about 0.033 for a document first
    on both sides, 0.016 for one found by one side only — and `sides` keeps each side's own score (cosine,
    BM25; None where that side did not find it). `snippet`: the highlight's part around the query's words.

    Example::

        (hit, *_) = search(index, encoder, "graph colouring", k=5)
        hit.id, hit.score, hit.sides["dense"], hit.snippet, hit.metadata.get("year")
    """

    id: str
    score: float
    highlight: str
    start: int | None
    end: int | None
    metadata: dict
    rerank_score: float | None = None  # the reranker's, when one reordered the hits (`score`: first stage)
    sides: dict = field(default_factory=dict)  # hybrid: {"dense": cosine | None, "bm25": score | None}
    snippet: str = ""

    def to_dict(self) -> dict:
        """The hit as JSON for the CLI and the service."""
        return {
            "id": self.id,
            "score": round(self.score, 6),
            "rerank_score": None if self.rerank_score is None else round(self.rerank_score, 6),
            "sides": {side: None if s is None else round(s, 6) for side, s in self.sides.items()},
            "snippet": self.snippet or self.highlight,
            "highlight": self.highlight,
            "start": self.start,
            "end": self.end,
            "metadata": self.metadata,
        }


Scalar = str | int | float | bool | None


def where_value(text: str) -> Scalar:
    """A filter value typed the way JSON is: `true`, `3`, `2.5`, `null`, `"3"` (a string); any other text
    is the string itself (`math`, `en`).

    Example::

        where_value("true"), where_value("3"), where_value('"3"'), where_value("math")  # True, 3, "3", "math"
    """
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if value is None or isinstance(value, str | int | float | bool) else text


def parse_where(conditions: list[str] | dict | None) -> dict[str, Scalar]:
    """`["field=value", ...]` (values typed by `where_value`) or a dict of typed values (a JSON request's)
    as {field: value}; a condition without `=` is an error naming it.

    Example::

        parse_where(["subject=math", "year=2019"])  # {"subject": "math", "year": 2019}
    """
    if not conditions:
        return {}
    if isinstance(conditions, dict):
        return {str(k): v for k, v in conditions.items()}
    parsed = {}
    for condition in conditions:
        field, sep, value = condition.partition("=")
        if not sep or not field.strip():
            raise EmbedlabError(f"where {condition!r}: write it as field=value")
        parsed[field.strip()] = where_value(value.strip())
    return parsed


def same_value(found: object, wanted: Scalar) -> bool:
    """Equal as JSON values are: `true` is not `1`, `3` equals `3.0`, `"3"` is not `3`."""
    if isinstance(found, bool) or isinstance(wanted, bool):
        return found is wanted
    return found == wanted


def _document_id(row: dict) -> str:
    return str(row.get("doc_id", row["id"]))


def _allowed(row: dict, where: dict[str, Scalar], exclude: str | None) -> bool:
    if exclude is not None and _document_id(row) == exclude:
        return False
    return all(same_value(row.get(field), value) for field, value in where.items())


def _ranked(index, side: str, vector: np.ndarray | None, text: str, depth: int) -> list[tuple[int, float]]:
    """(row, score) best first for one side: dense cosine or BM25."""
    if side == "dense":
        assert vector is not None
        (hits,) = index.search(index.fit_width(vector[None, :]), depth)
        return [(hit.row, hit.score) for hit in hits]
    rows, scores = index.lexical.search(text, depth)
    return list(zip(rows.tolist(), scores.tolist(), strict=True))


def fuse(rankings: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion: each item scores Σ 1/(k + rank) over the rankings it appears in.

    Example::

        fuse([[3, 1, 2], [1, 4]])[0]  # (1, 1/62 + 1/61): found by both sides, ranked first
    """
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def _candidates(index, vector, text: str, mode: str, depth: int, keep) -> tuple[list, dict]:
    """Rows that pass the filters, best first: one side's scores, or both fused; and, fused, each side's
    own score of each row (what a reader of a fused score wants to see beside it).
    """
    sides = ["dense", "bm25"] if mode == "hybrid" else [mode]
    ranked = {
        side: [(r, s) for r, s in _ranked(index, side, vector, text, depth) if keep(r)] for side in sides
    }
    if mode == "hybrid":
        return fuse([[r for r, _ in ranked[side]] for side in sides]), {s: dict(ranked[s]) for s in sides}
    return ranked[mode], {}


def _per_document(index, rows: list[tuple[int, float]], sides: dict) -> dict[str, DocumentHit]:
    """The best row of each document, in order: a document's best chunk is its highlight."""
    hits: dict[str, DocumentHit] = {}
    for row, score in rows:
        document = index.documents[row]
        doc_id = _document_id(document)
        if doc_id not in hits:
            metadata = {
                f: v for f, v in document.items() if f not in ("id", "doc_id", "text", "start", "end")
            }
            start, end = document.get("start"), document.get("end")
            own = {side: scores.get(row) for side, scores in sides.items()}
            hits[doc_id] = DocumentHit(
                doc_id, float(score), document["text"], start, end, metadata, sides=own
            )
    return hits


def snippet(text: str, query: str, width: int = 240) -> str:
    """The `width` characters of `text` holding the most of the query's words (whole words, any case), cut
    at word boundaries and marked with … where text was left out; the start when no word is found.

    Example::

        snippet(long_abstract, "graph colouring", width=120)  # "… every planar graph admits a colouring …"
    """
    if len(text) <= width:
        return text
    words = {w.lower() for w in re.findall(r"\w+", query) if len(w) > 2}
    places = [m.start() for m in re.finditer(r"\w+", text) if m.group().lower() in words]
    start = 0
    if places:  # the window starting a little before some match that covers the most matches
        start = max((max(0, p - width // 4) for p in places),
                    key=lambda s: sum(s <= p < s + width for p in places))  # fmt: skip
        start = min(start, len(text) - width)
    end = start + width
    if start > 0:
        start = text.find(" ", start) + 1 or start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    return ("… " if start > 0 else "") + text[start:end].strip() + (" …" if end < len(text) else "")


def search_rows(
    index, *, vector: np.ndarray | None, text: str, k: int, mode: str, where: dict, exclude: str | None
) -> list[DocumentHit]:
    """The `k` best documents for one query (its vector for dense, its text for BM25), filtered.

    Example::

        search_rows(index, vector=v, text="graph colouring", k=5, mode="hybrid", where={}, exclude=None)
    """
    if mode not in MODES:
        raise EmbedlabError(f"mode={mode}: choose one of {', '.join(MODES)}")
    if mode != "dense" and index.lexical is None:
        raise EmbedlabError("this index has no BM25 side; rebuild it with `embedlab index build --bm25`")
    size = len(index.documents)
    depth = min(size, k * CHUNKS_PER_DOCUMENT * (8 if where or exclude else 1))
    while True:
        rows, sides = _candidates(
            index, vector, text, mode, depth, lambda r: _allowed(index.documents[r], where, exclude)
        )
        hits = _per_document(index, rows, sides)
        if len(hits) >= k or depth >= size:
            return list(hits.values())[:k]
        depth = min(size, depth * 4)  # filters or long documents left too few: look deeper


def effective_mode(index, mode: str) -> str:
    """`hybrid` on an index without a BM25 side (built with --no-bm25, or before there was one) is `dense`.

    Example::

        effective_mode(DocumentIndex.load("old-index"), "hybrid")  # "dense"
    """
    return "dense" if mode == "hybrid" and index.lexical is None else mode


def search(
    index,
    encoder,
    query: str,
    *,
    k: int = 10,
    mode: str = "hybrid",
    where=None,
    rerank=None,
    rerank_depth: int = RERANK_DEPTH,
) -> list[DocumentHit]:
    """The `k` best documents for `query`: dense, BM25 or hybrid, with `where` filters (field=value); with
    `rerank` (a reranker folder or a `CrossEncoder`) the first `rerank_depth` are reordered by it.

    Example::

        index = DocumentIndex.load("papers-index")
        hits = search(index, load_encoder("all-MiniLM-L6-v2"), "graph colouring", mode="hybrid",
                      where=["subject=math"], rerank="runs/reranker-arxiv-minilm/model")
    """
    if not query.strip():
        raise EmbedlabError("the query is empty: give some text to look for")
    check_rerank_depth(rerank_depth)
    mode = effective_mode(index, mode)
    vector = encoder.encode([query])[0] if mode != "bm25" else None
    wanted = max(k, rerank_depth) if rerank is not None else k
    hits = search_rows(
        index, vector=vector, text=query, k=wanted, mode=mode, where=parse_where(where), exclude=None
    )
    hits = rerank_hits(query, hits, rerank)[:k] if rerank is not None else hits
    return [replace(hit, snippet=snippet(hit.highlight, query)) for hit in hits]


def rerank_hits(query: str, hits: list[DocumentHit], reranker) -> list[DocumentHit]:
    """`hits` reordered by a reranker's score of (query, best passage), best first; each keeps its
    first-stage score beside the reranker's. `reranker`: a folder or name (loaded once), or a `CrossEncoder`.

    Example::

        first = search(index, encoder, "graph colouring", k=50)
        hits = rerank_hits("graph colouring", first, "runs/reranker/model")
        hits[0].rerank_score, hits[0].score
    """
    from embedlab.models.cross_encoder import rerank

    if not hits:
        return []
    return with_rerank_scores(hits, rerank(query, [hit.highlight for hit in hits], reranker).tolist())


def with_rerank_scores(hits: list[DocumentHit], scores: list[float]) -> list[DocumentHit]:
    """`hits` carrying a reranker's `scores` (one each), ordered by them; ties keep the first stage's order.

    Example::

        with_rerank_scores(hits[:2], [0.1, 0.9])[0] is the second hit, with rerank_score 0.9
    """
    scored = [replace(hit, rerank_score=float(s)) for hit, s in zip(hits, scores, strict=True)]
    return sorted(scored, key=lambda hit: -(hit.rerank_score or 0.0))


def more_like_this(index, doc_id: str, *, k: int = 10, where=None) -> list[DocumentHit]:
    """Documents similar to the indexed document `doc_id` (the mean of its chunks' vectors), not itself.

    Example::

        more_like_this(index, "2101.00001", k=5)
    """
    rows = [row for row, d in enumerate(index.documents) if _document_id(d) == doc_id]
    if not rows:
        raise EmbedlabError(f"like={doc_id!r}: no document with this id in the index")
    from embedlab.io import l2_normalise

    vector = l2_normalise(index.vectors_of(rows).mean(axis=0, keepdims=True))[0]
    return search_rows(
        index, vector=vector, text="", k=k, mode="dense", where=parse_where(where), exclude=doc_id
    )
