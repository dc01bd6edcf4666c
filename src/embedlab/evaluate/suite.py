"""One evaluation call for any mix of tasks: STS tasks through `evaluate_sts`, arXiv tasks through
`evaluate_arxiv`; the code behind `embedlab eval`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from embedlab.errors import EmbedlabError
from embedlab.evaluate.arxiv import ARXIV_TASKS, ArxivEvalConfig, evaluate_arxiv
from embedlab.evaluate.records import EvalRecord, records_from_json
from embedlab.evaluate.sts import evaluate_sts, parse_tasks
from embedlab.io import check_output_file, open_dir


@dataclass
class SuiteResult:
    """Records by family, and how many arXiv test papers were used (for table titles)."""

    sts: list[EvalRecord] = field(default_factory=list)
    arxiv: list[EvalRecord] = field(default_factory=list)
    arxiv_test_papers: int = 0

    @property
    def records(self) -> list[EvalRecord]:
        """Every record of the run: STS tasks then arXiv."""
        return [*self.sts, *self.arxiv]


def split_tasks(tasks: str) -> tuple[list[str], tuple[str, ...]]:
    """'stsb,arxiv-retrieval' → (STS tasks, arXiv tasks); a bad STS task name fails here, before any work."""
    wanted = [t.strip() for t in tasks.split(",") if t.strip()]
    arxiv_tasks = tuple(t for t in wanted if t in ARXIV_TASKS)
    sts_tasks = [t for t in wanted if t not in ARXIV_TASKS]
    if sts_tasks:
        parse_tasks(sts_tasks)
    return sts_tasks, arxiv_tasks


def evaluate_suite(
    model: str,
    tasks: str = "sts",
    *,
    batch_size: int = 64,
    arxiv_dir: Path | None = None,
    arxiv_settings: ArxivEvalConfig | None = None,
) -> SuiteResult:
    """Evaluate `model` (a name, folder or hub id; 'tfidf' for the TF-IDF baseline on arXiv tasks).

    Example::

        result = evaluate_suite("all-MiniLM-L6-v2", "stsb,sickr,arxiv-classification")
        [(r.task, r.metric, r.value) for r in result.records]
    """
    sts_tasks, arxiv_tasks = split_tasks(tasks)
    if model == "tfidf" and sts_tasks:
        raise EmbedlabError(
            "the TF-IDF baseline is evaluated on arxiv-retrieval and arxiv-classification only"
        )
    result = SuiteResult()
    if sts_tasks:
        from embedlab.models import load_model

        result.sts = evaluate_sts(load_model(model), sts_tasks, batch_size=batch_size)
    if arxiv_tasks:
        from embedlab.data.arxiv import default_prepared_dir

        payload = evaluate_arxiv(
            None if model == "tfidf" else model,
            arxiv_dir or default_prepared_dir(),
            arxiv_settings or ArxivEvalConfig(batch_size=batch_size),
            tasks=arxiv_tasks,
        )
        result.arxiv = records_from_json(payload["records"])
        result.arxiv_test_papers = payload["test_papers"]
    return result


def default_results_path(model: str) -> Path:
    """results/NAME.json for a model name or folder."""
    return RESULTS / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', Path(model).name or model)}.json"


RESULTS = Path("results")  # embedlab's own folder of results: what it wrote there it may replace
RESULTS_KIND = "results folder"


def results_target(model: str, out: str | Path | None = None, *, force: bool = False) -> tuple[Path, bool]:
    """Where `eval` writes its records, checked before any work, and whether an earlier file is replaced:
    `out` (an existing file only with `force`, never the model), else results/NAME.json in embedlab's own
    results folder, where an earlier figure of the same model is replaced.

    Example::

        path, replaces = results_target("all-MiniLM-L6-v2")  # (Path("results/all-MiniLM-L6-v2.json"), False)
    """
    if out is not None:
        check_output_file(out, force=force, inputs=[model], param="out")
        return Path(out), Path(out).exists()
    results_folder()
    path = default_results_path(model)
    return path, path.exists()


def results_folder() -> Path:
    """`results/`, embedlab's own folder of results (eval records, the speed report): made and marked the
    first time, refused when it is a folder of the user's.

    Example::

        results_folder()  # Path("results")
    """
    return open_dir(RESULTS, kind=RESULTS_KIND, names=["*.json", "speed"])
