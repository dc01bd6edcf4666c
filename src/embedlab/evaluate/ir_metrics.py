"""Retrieval metrics equal to `pytrec_eval`'s (trec_eval's), the scorer BEIR and MTEB use, with graded
relevance: nDCG@10 (`ndcg_cut_10`: gain = the grade, log2 discount, ideal from every judged document),
MAP@100 (`map_cut_100`: divided by all relevant documents), recall@10 and @100, precision@10 (divided by
10 even when fewer are returned), and MRR@10 (as MTEB computes it beside pytrec_eval). A document is
relevant when its grade is at least 1. Ties in score are ordered as trec_eval orders them: by document id,
descending. Equality with pytrec_eval itself is a test (tests/evaluate/test_ir_metrics.py).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from embedlab.evaluate.long_documents import corpus_units, long_documents_record
from embedlab.evaluate.records import EvalRecord

MEASURES = ("ndcg@10", "mrr@10", "recall@10", "recall@100", "map@100", "precision@10")
DEPTH = 100  # documents ranked per query: enough for every measure above


def trec_ranking(scores: dict[str, float], depth: int = DEPTH) -> list[str]:
    """Document ids by descending score, ties by descending id (trec_eval's order), the first `depth`.

    Example::

        trec_ranking({"a": 0.5, "b": 0.5, "c": 0.9})  # ["c", "b", "a"]
    """
    return [
        doc for doc, _ in sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)[:depth]
    ]


def query_measures(ranked: list[str], judged: dict[str, int]) -> dict[str, float]:
    """The measures of one query's ranking (best first) against its graded judgements.

    Example::

        query_measures(["d3", "d1"], {"d1": 2, "d9": 1})["recall@10"]  # 0.5
    """
    relevant = {doc: grade for doc, grade in judged.items() if grade >= 1}
    count = len(relevant)
    hits = [relevant.get(doc, 0) for doc in ranked]
    measures = {}
    ideal = sorted(relevant.values(), reverse=True)[:10]
    ideal_dcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(hits[:10]) if g)
    measures["ndcg@10"] = dcg / ideal_dcg if ideal_dcg else 0.0
    first = next((i for i, g in enumerate(hits[:10]) if g), None)
    measures["mrr@10"] = 0.0 if first is None else 1.0 / (first + 1)
    for k in (10, 100):
        measures[f"recall@{k}"] = sum(1 for g in hits[:k] if g) / count if count else 0.0
    found, precisions = 0, 0.0
    for rank, grade in enumerate(hits[:100], start=1):
        if grade:
            found += 1
            precisions += found / rank
    measures["map@100"] = precisions / count if count else 0.0
    measures["precision@10"] = sum(1 for g in hits[:10] if g) / 10
    return measures


def mean_measures(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Each measure's mean over the judged queries (fractions in [0, 1], as pytrec_eval gives them).

    Example::

        mean_measures({"q1": ["d1", "d2"]}, {"q1": {"d2": 1}})["mrr@10"]  # 0.5
    """
    per_query = [query_measures(rankings.get(query, []), judged) for query, judged in qrels.items()]
    return {name: float(np.mean([m[name] for m in per_query])) for name in MEASURES}


def rank_by_vectors(
    query_vectors: np.ndarray, corpus_vectors: np.ndarray, query_ids: list[str], corpus_ids: list[str],
    depth: int = DEPTH, starts: np.ndarray | None = None,
) -> dict[str, list[str]]:  # fmt: skip
    """Exact cosine search: each query's `depth` best documents in trec_eval's order (ties by id, descending).
    With `starts` the corpus vectors are chunks, each document's contiguous from its start: a document
    scores as its best chunk.

    Example::

        rankings = rank_by_vectors(q, c, ["q1"], ["d1", "d2"])  # {"q1": ["d2", "d1"]}
    """
    from embedlab.io import l2_normalise

    queries, corpus = l2_normalise(query_vectors), l2_normalise(corpus_vectors)
    order = np.argsort(np.argsort(np.array(corpus_ids, dtype=object)))  # each id's place in sorted order
    depth = min(depth, len(corpus_ids))
    if starts is None and len(corpus_ids) >= FAISS_FROM:
        return _faiss_rankings(queries, corpus, query_ids, corpus_ids, order, depth)
    block = max(1, min(256, 2**24 // max(1, len(corpus))))  # a block of scores stays under 64 MB
    rankings = {}
    for start in range(0, len(query_ids), block):  # never the whole query × corpus matrix at once
        scores = queries[start : start + block] @ corpus.T
        if starts is not None:
            scores = np.maximum.reduceat(scores, starts, axis=1)
        for query, row in zip(query_ids[start : start + block], scores, strict=True):
            threshold = np.partition(row, -depth)[-depth]
            candidates = np.flatnonzero(row >= threshold)  # every tie at the threshold competes
            best = candidates[np.lexsort((-order[candidates], -row[candidates]))][:depth]
            rankings[query] = [corpus_ids[i] for i in best]
    return rankings


FAISS_FROM = 50_000  # documents: from here FAISS's exact inner-product search, not a NumPy loop per query
TIE_MARGIN = 16  # extra candidates FAISS returns, so ties at the cut are ordered as trec_eval orders them


def _faiss_rankings(queries, corpus, query_ids, corpus_ids, order, depth) -> dict[str, list[str]]:
    import faiss

    index = faiss.IndexFlatIP(corpus.shape[1])
    index.add(np.ascontiguousarray(corpus, dtype=np.float32))
    rankings = {}
    for start in range(0, len(query_ids), 1024):
        scores, rows = index.search(np.ascontiguousarray(queries[start : start + 1024], dtype=np.float32),
                                    min(len(corpus_ids), depth + TIE_MARGIN))  # fmt: skip
        for query, row_scores, row in zip(query_ids[start : start + 1024], scores, rows, strict=True):
            found = row >= 0
            row, row_scores = row[found], row_scores[found]
            best = row[np.lexsort((-order[row], -row_scores))][:depth]
            rankings[query] = [corpus_ids[i] for i in best]
    return rankings


def retrieval_records(task: str, split: str, measures: dict[str, float], queries: int) -> list[EvalRecord]:
    """The measures as evaluation records (×100, like every figure embedlab reports).

    Example::

        retrieval_records("retrieval:scifact", "test", {"ndcg@10": 0.645}, 300)
    """
    return [EvalRecord(task, split, name, 100 * value, queries) for name, value in measures.items()]


def bm25_rankings(
    queries: dict[str, str], corpus: dict[str, str], depth: int = DEPTH
) -> dict[str, list[str]]:
    """The lexical baseline: BM25 (`bm25s`, English stop words) rankings, ties as trec_eval orders them.

    Example::

        bm25_rankings({"q1": "graph colouring"}, {"d1": "four colour theorem", "d2": "graph colouring"})
    """
    from embedlab.index.lexical import LexicalIndex

    ids = list(corpus)
    lexical = LexicalIndex.build(list(corpus.values()))
    rankings = {}
    for query, text in queries.items():
        rows, scores = lexical.search(text, k=depth)
        rankings[query] = trec_ranking({ids[r]: float(s) for r, s in zip(rows, scores, strict=True)}, depth)
    return rankings


MODES = ("dense", "bm25", "hybrid")


def fused(*rankings: dict[str, list[str]], k: int = 60, depth: int = DEPTH) -> dict[str, list[str]]:
    """Reciprocal-rank fusion of several rankings per query (as `index search --mode hybrid` fuses them).

    Example::

        fused({"q": ["a", "b"]}, {"q": ["b", "c"]})  # {"q": ["b", "a", "c"]}
    """
    from embedlab.index.search import fuse

    out = {}
    for query in rankings[0]:
        ids = sorted({doc for ranking in rankings for doc in ranking[query]})
        position = {doc: i for i, doc in enumerate(ids)}
        best = fuse([[position[d] for d in ranking[query]] for ranking in rankings], k)
        out[query] = trec_ranking({ids[i]: score for i, score in best}, depth)
    return out


def evaluate_retrieval_task(
    model,
    task,
    *,
    mode: str = "dense",
    backend: str = "torch",
    batch_size: int = 64,
    long_documents: str = "truncate",
    show_progress: bool = True,
    rerank=None,
    rerank_depth: int = 50,
    rerank_cache: dict | None = None,
):
    """A `RetrievalTask` (see `embedlab.data.beir`) scored for `model` — exact cosine search over its
    vectors (`mode="dense"`), fused with BM25 by reciprocal rank (`hybrid`), or BM25 alone (`bm25`, also the
    model name `bm25`) — as records `retrieval:NAME` (`retrieval:NAME+hybrid`), ×100. The corpus vectors
    and the query vectors are cached by the model's fingerprint and the texts: a rerun encodes nothing.
    Documents longer than the model reads are truncated, or with `long_documents="chunk"` scored by their
    best chunk (`retrieval:NAME+chunks`); a `long_documents` record says how many there were. `rerank`: a
    `CrossEncoder` that reorders each query's first `rerank_depth` documents; its records
    (`retrieval:NAME+rerank`) follow the first stage's (`rerank_cache`: scores shared across calls).
    `model`: a name or folder (loaded with `backend`), or an encoder (`TorchEncoder.of(model, folder)`).

    Example::

        records = evaluate_retrieval_task("all-MiniLM-L6-v2", load_beir("data/scifact"), mode="hybrid")
    """
    from embedlab.errors import EmbedlabError

    if mode not in MODES:
        raise EmbedlabError(f"mode={mode!r}: choose {', '.join(MODES)}")
    dense = not (model == "bm25" or mode == "bm25")
    name = f"retrieval:{task.name}" + ("+hybrid" if mode == "hybrid" and dense else "")
    if not dense:
        rankings = bm25_rankings(task.queries, task.corpus)
        records = retrieval_records(name, task.split, mean_measures(rankings, task.qrels), len(task.qrels))
        return records + _reranked(task, rankings, name, rerank, rerank_depth, show_progress, rerank_cache)
    rankings, units = dense_rankings(model, task, backend, batch_size, show_progress, long_documents)
    if mode == "hybrid":
        rankings = fused(rankings, bm25_rankings(task.queries, task.corpus))
    name += "+chunks" if units.starts is not None else ""
    records = retrieval_records(name, task.split, mean_measures(rankings, task.qrels), len(task.qrels))
    records += _reranked(task, rankings, name, rerank, rerank_depth, show_progress, rerank_cache)
    return [*records, long_documents_record(name, task.split, units, len(task.corpus))]


def _reranked(task, rankings, name: str, reranker, depth: int, show: bool, cache) -> list[EvalRecord]:
    if reranker is None:
        return []
    from embedlab.evaluate.rerank import rerank_rankings

    reranked = rerank_rankings(task, rankings, reranker, depth=depth, show=show, cache=cache)
    return retrieval_records(
        f"{name}+rerank", task.split, mean_measures(reranked, task.qrels), len(task.qrels)
    )


def dense_rankings(
    model,
    task,
    backend: str = "torch",
    batch_size: int = 64,
    show: bool = False,
    long_documents: str = "truncate",
):
    """Each query's first documents by exact cosine search with `model` (a name or folder, or an encoder),
    vectors cached; also the corpus units (their chunks, with `long_documents="chunk"`). The first stage a
    reranker reorders.

    Example::

        rankings, _ = dense_rankings(TorchEncoder.of(model, "all-MiniLM-L6-v2"), task)
        rankings["q1"][:3]  # ["d7", "d1", "d3"]
    """
    from embedlab.runtime.encoder import encode_in_chunks, load_encoder

    encoder = load_encoder(str(model), backend) if isinstance(model, (str, Path)) else model

    def vectors(texts: list[str], label: str) -> np.ndarray:
        return encode_in_chunks(lambda part: encoder.encode(part, batch_size), texts,
                                f"retrieval {task.name} {label}", dim=encoder.dim, batch_size=batch_size,
                                show=show)  # fmt: skip

    units = corpus_units(encoder, task.corpus, long_documents)
    corpus_vectors = cached_vectors(
        encoder, units.texts, lambda: vectors(list(units.texts.values()), "corpus")
    )
    query_vectors = cached_vectors(
        encoder, task.queries, lambda: vectors(list(task.queries.values()), "queries")
    )
    rankings = rank_by_vectors(query_vectors, corpus_vectors, list(task.queries), list(task.corpus),
                               starts=units.starts)  # fmt: skip
    return rankings, units


def cached_vectors(encoder, texts: dict[str, str], encode, kind: str = "vectors") -> np.ndarray:
    """`encode()`'s vectors of `texts`, kept in the cache under the model's fingerprint, pooling,
    normalisation and precision and a digest of the texts (ids included): the second call reads them.
    Without a fingerprint (a hub model not on disk) nothing is cached. The key includes the length the
    model reads (`max_seq_length`). `kind` names another per-text array kept the same way (the token lengths
    of `evaluate.long_documents`).

    Example::

        vectors = cached_vectors(encoder, corpus, lambda: encoder.encode(list(corpus.values())))
    """
    import hashlib

    from embedlab.io import atomic_path, content_digest
    from embedlab.paths import cache_dir

    identity = encoder.identity
    if not identity.get("fingerprint"):
        return encode()
    digest = hashlib.sha256()
    for key, text in texts.items():
        digest.update(f"{key}\t{text}\n".encode("utf-8", "surrogatepass"))
    recipe = [identity.get(k) for k in ("fingerprint", "pooling", "normalize", "precision")]
    # the length the model reads: one set of weights at 128 and at 256 tokens gives other vectors
    recipe += [kind, getattr(encoder, "max_seq_length", None)]
    path = cache_dir() / "retrieval" / f"{content_digest([recipe, digest.hexdigest()])}.npy"
    if path.is_file():
        vectors = np.load(path)
        if vectors.shape[0] == len(texts):
            return vectors
    vectors = np.asarray(encode(), dtype=np.float32)
    with atomic_path(path) as staging, staging.open("wb") as handle:
        np.save(handle, vectors)
    return vectors
