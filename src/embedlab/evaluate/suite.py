"""One evaluation call for any mix of tasks: STS tasks through `evaluate_sts`, arXiv tasks through
`evaluate_arxiv`; the code behind `embedlab eval`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from embedlab.data.beir import RetrievalTask, load_beir
from embedlab.errors import EmbedlabError
from embedlab.evaluate.arxiv import ARXIV_TASKS, ArxivEvalConfig, evaluate_arxiv
from embedlab.evaluate.ir_metrics import evaluate_retrieval_task
from embedlab.evaluate.records import EvalRecord, records_from_json
from embedlab.evaluate.sts import evaluate_sts, parse_tasks
from embedlab.io import check_not_input, check_output_file, open_dir


@dataclass
class SuiteResult:
    """Records by family, and how many arXiv test papers were used (for table titles)."""

    sts: list[EvalRecord] = field(default_factory=list)
    arxiv: list[EvalRecord] = field(default_factory=list)
    arxiv_test_papers: int = 0
    retrieval: list[EvalRecord] = field(default_factory=list)
    pair_classification: list[EvalRecord] = field(default_factory=list)
    clustering: list[EvalRecord] = field(default_factory=list)
    baselines: list[EvalRecord] = field(default_factory=list)  # `suite`: BM25 and TF-IDF on its tasks
    overview: list[list[str]] = field(default_factory=list)  # `suite`: one row per task type

    @property
    def records(self) -> list[EvalRecord]:
        """Every record of the run: STS tasks, arXiv, retrieval, pair classification, clustering."""
        return [*self.sts, *self.arxiv, *self.retrieval, *self.pair_classification, *self.clustering]


RETRIEVAL = "retrieval:"
NANOBEIR = "nanobeir"
MTEB = "mteb:"  # an MTEB retrieval task by name: `data.mteb_tasks`
SPLITS = ("test", "dev", "validation", "train")


def retrieval_task_spec(item: str) -> tuple[Path, str]:
    """'retrieval:DIR' or 'retrieval:DIR:SPLIT' → (the BEIR folder, the split; default test).

    Example::

        retrieval_task_spec("retrieval:data/scifact:dev")  # (Path("data/scifact"), "dev")
    """
    spec = item.removeprefix(RETRIEVAL)
    folder, _, split = spec.rpartition(":")
    return (Path(folder), split) if folder and split in SPLITS else (Path(spec), "test")


def load_retrieval_tasks(item: str) -> list[RetrievalTask]:
    """The tasks one retrieval spec names: 'retrieval:DIR[:SPLIT]' (a BEIR folder), 'nanobeir' (the 13
    NanoBEIR tasks), 'nanobeir:scifact+nfcorpus', or MTEB retrieval tasks by name ('mteb:SciFact+NFCorpus').

    Example::

        [t.name for t in load_retrieval_tasks("nanobeir:scifact")]  # ["NanoSciFact"]
    """
    if item.startswith(NANOBEIR):
        from embedlab.data.nanobeir import load_nanobeir, nanobeir_names

        return [load_nanobeir(name) for name in nanobeir_names(item)]
    if item.startswith(MTEB):
        from embedlab.data.mteb_tasks import load_mteb_task, mteb_names

        return [load_mteb_task(name) for name in mteb_names(item)]
    return [load_beir(*retrieval_task_spec(item))]


def _is_retrieval(item: str) -> bool:
    return item.startswith((RETRIEVAL, MTEB)) or item == NANOBEIR or item.startswith(f"{NANOBEIR}:")


PAIR_CLASSIFICATION = "mrpc"
CLUSTERING = "arxiv-clustering"
SUITE = "suite"  # one of each task type, with the baselines: `evaluate.overview`


@dataclass(frozen=True)
class TaskSelection:
    """What a `tasks` string asks for, by family.

    Example::

        split_tasks("sts,mrpc,retrieval:data/scifact").retrieval  # ["retrieval:data/scifact"]
    """

    sts: list[str]
    arxiv: tuple[str, ...]
    retrieval: list[str]
    pair_classification: bool = False
    clustering: bool = False
    overview: bool = False  # `suite`: the STS suite, graded arXiv retrieval, MRPC, clustering, classification

    @property
    def needs_model(self) -> bool:
        """Whether a loaded model scores any of them (every family but arXiv and `retrieval:DIR`)."""
        return bool(self.sts or self.pair_classification or self.clustering)


def split_tasks(tasks: str) -> TaskSelection:
    """'stsb,arxiv-retrieval,mrpc,arxiv-clustering,retrieval:DIR' (or 'suite') by family; a bad STS task
    name or a retrieval folder that is not there fails here, before any work.
    """
    wanted = [t.strip() for t in tasks.split(",") if t.strip()]
    overview = SUITE in wanted
    if overview:
        wanted = [t for t in wanted if t != SUITE] + ["sts", PAIR_CLASSIFICATION, CLUSTERING, ARXIV_TASKS[1]]
    wanted = list(dict.fromkeys(wanted))
    retrieval = [t for t in wanted if _is_retrieval(t)]
    arxiv_tasks = tuple(t for t in wanted if t in ARXIV_TASKS)
    special = {PAIR_CLASSIFICATION, CLUSTERING}
    sts_tasks = [t for t in wanted if t not in ARXIV_TASKS and t not in retrieval and t not in special]
    if sts_tasks:
        parse_tasks(sts_tasks)
    for item in retrieval:
        if item.startswith(MTEB):
            from embedlab.data.mteb_tasks import check_mteb_task, mteb_names

            for name in mteb_names(item):
                check_mteb_task(name)  # a name mteb does not know, or not a retrieval task, fails here
            continue
        if not item.startswith(RETRIEVAL):
            from embedlab.data.nanobeir import nanobeir_names

            nanobeir_names(item)  # a name it does not know fails here
            continue
        folder, _ = retrieval_task_spec(item)
        if not folder.is_dir():
            raise EmbedlabError(f"tasks {item}: {folder} is not a folder (a BEIR task: corpus.jsonl, ...)")
    return TaskSelection(
        sts_tasks, arxiv_tasks, retrieval, PAIR_CLASSIFICATION in wanted, CLUSTERING in wanted, overview
    )


def _check_baseline(model: str, selection: TaskSelection) -> None:
    if model == "bm25" and (selection.needs_model or selection.arxiv or selection.overview):
        raise EmbedlabError("the BM25 baseline is evaluated on retrieval:DIR tasks only")
    if model == "tfidf" and (selection.retrieval or selection.overview):
        raise EmbedlabError("retrieval:DIR tasks take a model or bm25 (the lexical baseline), not tfidf")
    if model == "tfidf" and selection.needs_model:
        raise EmbedlabError(
            "the TF-IDF baseline is evaluated on arxiv-retrieval and arxiv-classification only"
        )


def evaluate_suite(
    model: str,
    tasks: str = "sts",
    *,
    batch_size: int = 64,
    arxiv_dir: Path | None = None,
    arxiv_settings: ArxivEvalConfig | None = None,
    mode: str = "dense",
    backend: str = "torch",
    long_documents: str = "truncate",
    rerank: str | None = None,
    rerank_depth: int = 50,
    rerank_backend: str = "torch",
) -> SuiteResult:
    """Evaluate `model` (a name, folder or hub id; 'tfidf' for the TF-IDF baseline on arXiv tasks, 'bm25'
    on retrieval:DIR tasks); `tasks="suite"` adds the one-table overview with its baselines. Retrieval
    documents longer than the model reads are truncated, or with `long_documents="chunk"` scored by their
    best chunk; with `rerank` (a reranker folder) each query's first `rerank_depth` are reordered by it too
    (records `retrieval:NAME+rerank`, beside the first stage's), run on `rerank_backend` (torch, onnx or
    onnx-int8).

    Example::

        result = evaluate_suite("all-MiniLM-L6-v2", "stsb,sickr,mrpc,arxiv-classification")
        [(r.task, r.metric, r.value) for r in result.records]
    """
    selection = split_tasks(tasks)
    _check_baseline(model, selection)
    reranker = _reranker(rerank, selection, rerank_backend)
    read = [load_retrieval_tasks(item) for item in selection.retrieval]  # bad data: before any encoding
    result = SuiteResult()
    if selection.needs_model:
        _score_loaded(model, selection, batch_size, result, arxiv_dir)
    if selection.arxiv:
        from embedlab.data.arxiv import default_prepared_dir

        payload = evaluate_arxiv(
            None if model == "tfidf" else model,
            arxiv_dir or default_prepared_dir(),
            arxiv_settings or ArxivEvalConfig(batch_size=batch_size),
            tasks=selection.arxiv,
        )
        result.arxiv = records_from_json(payload["records"])
        result.arxiv_test_papers = payload["test_papers"]
    settings = {"mode": mode, "backend": backend, "batch_size": batch_size, "long_documents": long_documents,
                "rerank": reranker, "rerank_depth": rerank_depth}  # fmt: skip
    for named in read:
        scored = [evaluate_retrieval_task(model, task, **settings) for task in named]
        result.retrieval += [record for records in scored for record in records]
        if len(scored) > 1:  # NanoBEIR: the mean over its tasks, the figure the field reports
            result.retrieval += mean_records("retrieval:NanoBEIR_mean", scored)
    if selection.overview:
        from embedlab.evaluate.overview import add_overview

        add_overview(result, model, arxiv_dir=arxiv_dir, backend=backend, batch_size=batch_size)
    return result


def _score_loaded(
    model: str, selection: TaskSelection, batch_size: int, result: SuiteResult, arxiv_dir: Path | None
) -> None:
    from embedlab.models import load_model

    loaded = load_model(model)
    if selection.sts:
        result.sts = evaluate_sts(loaded, selection.sts, batch_size=batch_size)
    if selection.pair_classification:
        from embedlab.evaluate.pair_classification import evaluate_pair_classification

        result.pair_classification = evaluate_pair_classification(loaded, batch_size=batch_size)
    if selection.clustering:
        from embedlab.evaluate.clustering import evaluate_clustering

        result.clustering = evaluate_clustering(loaded, arxiv_dir=arxiv_dir, batch_size=batch_size)


def _reranker(rerank: str | None, selection: TaskSelection, backend: str):
    if rerank is None:
        return None
    if not selection.retrieval:
        raise EmbedlabError("rerank reorders retrieval results: add a retrieval task (retrieval:DIR, ...)")
    from embedlab.runtime.reranker import load_reranker

    return load_reranker(rerank, backend)


def evaluate_model(model, tasks: list[str], *, name: str | Path, batch_size: int = 64) -> list[EvalRecord]:
    """A loaded `SentenceTransformer` scored on STS tasks and `retrieval:DIR` tasks (fp32, as a user loads
    it): what a training run reports before and after. `name`: the model's folder or name (its identity
    keys the cache of corpus vectors).

    Example::

        evaluate_model(model, ["stsb", "retrieval:runs/adapt/held-out"], name="runs/adapt/model")
    """
    from embedlab.runtime.encoder import TorchEncoder

    selection = split_tasks(",".join(tasks))
    records = evaluate_sts(model, selection.sts, batch_size=batch_size) if selection.sts else []
    encoder = TorchEncoder.of(model, name)
    for item in selection.retrieval:
        for task in load_retrieval_tasks(item):
            records += evaluate_retrieval_task(encoder, task, batch_size=batch_size, show_progress=False)
    return records


def mean_records(task: str, scored: list[list[EvalRecord]]) -> list[EvalRecord]:
    """Each retrieval measure's mean over several tasks' records (n: the tasks).

    Example::

        mean_records("retrieval:NanoBEIR_mean", [scifact_records, nfcorpus_records])[0].value
    """
    from embedlab.evaluate.ir_metrics import MEASURES

    means = []
    for measure in MEASURES:
        values = [r.value for records in scored for r in records if r.metric == measure]
        if values:
            means.append(EvalRecord(task, "test", measure, sum(values) / len(values), len(values)))
    return means


def results_name(model: str) -> str:
    """The records' file name for a model: its name, or its folder's whole path, so `runs/a/model` and
    `runs/b/model` never share one.

    Example::

        results_name("runs/stsb-minilm/model")  # "runs_stsb-minilm_model.json"
    """
    given = str(model).strip()
    folder = Path(given).resolve()
    if folder.exists() and folder.is_relative_to(Path.cwd()):  # a folder here: its path from here
        given = str(folder.relative_to(Path.cwd()))
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '_', given).strip('_') or 'model'}.json"


RESULTS = Path("results")  # embedlab's own folder of results: what it wrote there it may replace
RESULTS_KIND = "results folder"


def results_target(model: str, out: str | Path | None = None, *, force: bool = False) -> tuple[Path, bool]:
    """Where `eval` writes its records (NAME.json, `results_name`), checked before any work, and whether an
    earlier file is replaced: in the folder `out` (an existing file there only with `force`; never the
    model's own folder), else in embedlab's own `results/`, where an earlier figure of the same model is
    replaced.

    Example::

        path, replaces = results_target("all-MiniLM-L6-v2")  # (Path("results/all-MiniLM-L6-v2.json"), False)
    """
    if out is None:
        path = results_folder() / results_name(model)
        return path, path.exists()
    folder = Path(out)
    check_not_input(folder, [model], "out")
    if folder.exists() and not folder.is_dir():
        raise EmbedlabError(f"out={folder} is a file; give a folder for the records (NAME.json goes in it)")
    path = folder / results_name(model)
    check_output_file(path, force=force, inputs=[model], param="out")
    return path, path.exists()


def results_folder() -> Path:
    """`results/`, embedlab's own folder of results (eval records, the speed report): made and marked the
    first time, refused when it is a folder of the user's.

    Example::

        results_folder()  # Path("results")
    """
    return open_dir(RESULTS, kind=RESULTS_KIND, names=["*.json", "speed"])
