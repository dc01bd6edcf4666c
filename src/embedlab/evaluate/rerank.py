"""The second stage, scored: a first stage's rankings (dense, BM25 or hybrid) with each query's top `depth`
documents reordered by a reranker (a `CrossEncoder`), the rest left in place below them — so nDCG@10 and
MRR@10 show what the reranker adds, and recall@100 what the first stage found.

    reranked = rerank_rankings(task, rankings, load_cross_encoder("runs/reranker/model"), depth=50)
"""

from __future__ import annotations

from embedlab.evaluate.ir_metrics import DEPTH, trec_ranking
from embedlab.evaluate.records import EvalRecord
from embedlab.models.cross_encoder import RERANK_DEPTH


def rerank_rankings(
    task,
    rankings: dict[str, list[str]],
    reranker,
    *,
    depth: int = RERANK_DEPTH,
    batch_size: int = 32,
    show: bool = False,
    cache: dict[tuple[str, str], float] | None = None,
) -> dict[str, list[str]]:
    """Each query's first `depth` documents reordered by the reranker's score of (query, document), ties as
    trec_eval orders them; the documents after `depth` follow in their first-stage order. `cache`: scores of
    (query, document) texts already read (dense and hybrid share most candidates), filled as it goes.

    Example::

        reranked = rerank_rankings(task, {"q1": ["d3", "d1"]}, reranker, depth=50)
    """
    from embedlab.models.cross_encoder import check_rerank_depth, score_pairs

    check_rerank_depth(depth)
    cache = {} if cache is None else cache
    heads = {query: ranked[:depth] for query, ranked in rankings.items()}
    pairs = [(task.queries[query], task.corpus[doc]) for query, head in heads.items() for doc in head]
    missing = list(dict.fromkeys(pair for pair in pairs if pair not in cache))
    cache.update(zip(missing, score_pairs(missing, reranker, batch_size=batch_size, show=show).tolist(),
                     strict=True))  # fmt: skip
    scores = iter(cache[pair] for pair in pairs)
    out = {}
    for query, head in heads.items():
        reordered = trec_ranking({doc: next(scores) for doc in head}, depth)
        out[query] = (reordered + rankings[query][depth:])[:DEPTH]
    return out


def evaluate_cross_encoder_sts(reranker, tasks=None, *, batch_size: int = 64) -> list[EvalRecord]:
    """A similarity cross-encoder on STS tasks (default the 7-task suite): Spearman and Pearson of its scores
    of each pair against the gold scores, and the Spearman average — the figures a bi-encoder's cosines get.

    Example::

        evaluate_cross_encoder_sts(load_cross_encoder("runs/reranker-stsb-minilm/model"), ["stsb"])
    """
    import numpy as np

    from embedlab.data.sts import load_sts
    from embedlab.evaluate.sts import correlation_records, parse_tasks, spearman_average
    from embedlab.models.cross_encoder import score_pairs

    wanted = parse_tasks(tasks)
    records: list[EvalRecord] = []
    for task, split in wanted:
        pairs = load_sts(task, split)
        scores = score_pairs(list(zip(pairs["sentence1"], pairs["sentence2"], strict=True)), reranker,
                             batch_size=batch_size)  # fmt: skip
        records += correlation_records(task, split, scores.astype(np.float64), pairs["score"])
    return records + spearman_average(records)
