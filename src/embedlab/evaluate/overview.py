"""`embedlab eval MODEL --tasks suite`: one table with a figure per MTEB task type our data allows — the STS
average, retrieval nDCG@10 (arXiv title → same category, graded), pair-classification AP (MRPC), clustering
V-measure (arXiv titles by subject), classification macro-F1 (arXiv subjects) — with the BM25 and TF-IDF
baselines beside the model where they apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from embedlab.evaluate.records import EvalRecord, lookup

if TYPE_CHECKING:
    from embedlab.evaluate.suite import SuiteResult

GRADED = "arxiv-title-category"
HEADERS = ["task type", "task", "metric", "model", "baseline"]


def add_overview(
    result: SuiteResult,
    model: str,
    *,
    arxiv_dir: Path | None = None,
    backend: str = "torch",
    batch_size: int = 64,
) -> None:
    """Score `model` on the graded arXiv retrieval task (the default test split, built in memory), score
    BM25 there and TF-IDF on arXiv classification, and fill `result.overview` (rows under `HEADERS`).

    Example::

        result = evaluate_suite("all-MiniLM-L6-v2", "suite")
        result.overview[1]  # ["retrieval", "arXiv title → same category", "nDCG@10", "46.97", "BM25 42.35"]
    """
    from embedlab.data.arxiv import arxiv_retrieval_tasks, default_prepared_dir, load_split
    from embedlab.evaluate.arxiv import ArxivEvalConfig, evaluate_arxiv
    from embedlab.evaluate.ir_metrics import evaluate_retrieval_task
    from embedlab.evaluate.records import records_from_json

    folder = arxiv_dir or default_prepared_dir()
    graded = next(t for t in arxiv_retrieval_tasks(load_split(folder, "test")) if t.name == GRADED)
    result.retrieval += evaluate_retrieval_task(model, graded, backend=backend, batch_size=batch_size)
    result.baselines += evaluate_retrieval_task("bm25", graded)
    tfidf = evaluate_arxiv(
        None, folder, ArxivEvalConfig(batch_size=batch_size), tasks=("arxiv-classification",)
    )
    result.baselines += records_from_json(tfidf["records"])
    result.overview = overview_rows([*result.records], result.baselines)


def overview_rows(records: list[EvalRecord], baselines: list[EvalRecord]) -> list[list[str]]:
    """The overview's rows from a model's records and the baselines' ('–' where a figure is missing).

    Example::

        rows = overview_rows(result.records, result.baselines)
        rows[0]  # ["STS", "7-task average", "Spearman", "78.94", "–"]
    """

    def figure(found: list[EvalRecord], task: str, metric: str) -> str:
        value = lookup(found, task, metric)
        return "–" if value is None else f"{value:.2f}"

    clustering_sd = lookup(records, "arxiv-clustering", "v_measure_sd")
    clustering = figure(records, "arxiv-clustering", "v_measure")
    if clustering_sd is not None:
        clustering += f" ± {clustering_sd:.2f}"
    graded, classes = f"retrieval:{GRADED}", "arxiv-classification"
    return [
        ["STS", "7-task average", "Spearman", figure(records, "average", "spearman_cosine"), "–"],
        ["retrieval", "arXiv title → same category", "nDCG@10", figure(records, graded, "ndcg@10"),
         "BM25 " + figure(baselines, graded, "ndcg@10")],
        ["pair classification", "MRPC test", "cosine AP", figure(records, "mrpc", "cosine_ap"), "–"],
        ["clustering", "arXiv titles by subject", "V-measure", clustering, "–"],
        ["classification", "arXiv subjects (abstracts)", "macro-F1", figure(records, classes, "macro_f1"),
         "TF-IDF " + figure(baselines, classes, "macro_f1")],
    ]  # fmt: skip
