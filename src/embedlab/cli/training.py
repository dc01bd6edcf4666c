"""Commands that train: `train`, `soup`, `tokenizer train`, `distill static`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from embedlab.cli.common import (
    Force,
    app,
    console,
    distill_app,
    print_table,
    tokenizer_app,
    user_errors,
)


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
    seeds: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Train with N seeds (runs/NAME-seedS/; a staged config: its last stage) and report "
            "mean ± sd (runs/NAME-seeds/).",
        ),
    ] = None,
    soup: Annotated[
        str | None,
        typer.Option(help="With --seeds: average the seeds' weights, uniform or greedy (chosen on dev)."),
    ] = None,
) -> None:
    """Fine-tune a model from a config; writes runs/NAME/ and prints before/after figures."""
    from embedlab.config import load_config

    overrides = list(set_ or [])
    if bf16 is not None:
        overrides.append(f"training.bf16={str(bf16).lower()}")
    run_config = load_config(config, overrides)
    if seeds is not None or soup is not None:
        _train_seeds(run_config, seeds, soup, resume, overwrite)
        return
    _train_and_report(run_config, resume=resume, overwrite=overwrite)


def _train_and_report(run_config, *, resume: bool, overwrite: bool) -> None:
    from embedlab.evaluate.report import retrieval_rows, table_rows
    from embedlab.train import train

    console.print(f"[bold]run[/] {run_config.name}: {run_config.model} → {run_config.run_dir}")
    result = train(run_config, resume=resume, overwrite=overwrite, log=lambda line: console.print(line))
    headers, rows = table_rows(result.after, result.before)
    if rows:
        print_table(f"{run_config.name} — STS Spearman (cosine, ×100)", headers, rows)
    headers, rows = retrieval_rows(result.after, result.before)
    if rows:
        print_table(f"{run_config.name} — retrieval, held-out queries (×100)", headers, rows)
    best = f"{result.best_dev_spearman:.2f}" if result.best_dev_spearman is not None else "–"
    chosen_by = "dev nDCG@10" if run_config.retrieval else "dev Spearman"
    console.print(
        f"best {chosen_by} {best}; {result.global_step} steps in {result.train_seconds / 60:.1f} min "
        f"({'bf16' if result.bf16 else 'fp32'}); model: {result.model_dir}"
    )


@app.command("adapt")
@user_errors
def adapt_command(
    documents: Annotated[
        str,
        typer.Argument(
            help="Documents file (JSONL, CSV, TSV, Parquet), or arxiv:train for the shipped papers."
        ),
    ],
    query_field: Annotated[str, typer.Option(help="The field that queries its own document, e.g. title.")],
    document_field: Annotated[str, typer.Option(help="The field to retrieve, e.g. abstract.")],
    label_field: Annotated[
        str | None, typer.Option(help="A label (category): no negative of the query's own label.")
    ] = None,
    id_field: Annotated[str | None, typer.Option(help="Field holding the document id.")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model to start from: name or folder.")] = (
        "all-MiniLM-L6-v2"
    ),
    out: Annotated[
        Path | None, typer.Option(help="Run folder to write.", show_default="runs/adapt-DOCUMENTS")
    ] = None,
    hard_negatives: Annotated[
        int, typer.Option(min=0, help="Mined hard negatives per pair (0: in-batch only).")
    ] = 1,
    max_pairs: Annotated[
        int | None, typer.Option(min=1, help="Train on a seeded sample of this many pairs.")
    ] = None,
    epochs: Annotated[float, typer.Option(min=0.01, help="Passes over the training pairs.")] = 1.0,
    label_positives: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="With --label-field: this share of positives of the query's label."
        ),
    ] = 0.0,
    tasks: Annotated[
        str, typer.Option(help="Also scored before and after (besides the held-out queries); '' for none.")
    ] = "sts",
    resume: Annotated[bool, typer.Option(help="Continue the run from its last checkpoint.")] = False,
    force: Annotated[bool, typer.Option(help="Replace this command's earlier run folder.")] = False,
) -> None:
    """Fine-tune a model to retrieve your documents: each query field finds its document field; some queries
    are held out (never trained on) and scored before and after. `embedlab train` runs the same with a config.
    """
    from embedlab.train.retrieval import adapt_config

    task_list = [t.strip() for t in tasks.split(",") if t.strip()]
    config = adapt_config(
        documents, query_field=query_field, document_field=document_field, label_field=label_field,
        id_field=id_field, model=model, out=out, hard_negatives=hard_negatives, max_pairs=max_pairs,
        epochs=epochs, tasks=task_list, label_positives=label_positives,
    )  # fmt: skip
    _train_and_report(config, resume=resume, overwrite=force)


def _train_seeds(run_config, seeds: int | None, soup: str | None, resume: bool, overwrite: bool) -> None:
    from embedlab.train.seeds import train_seeds

    result = train_seeds(
        run_config, seeds, soup=soup, resume=resume, overwrite=overwrite, log=lambda line: console.print(line)
    )
    console.print((result.out / "report.md").read_text(encoding="utf-8"), markup=False, highlight=False)
    if result.soup_dir is not None:
        console.print(f"soup of {len(result.soup_members or [])} seeds: {result.soup_dir}")


@app.command("soup")
@user_errors
def soup_command(
    models: Annotated[
        list[Path],
        typer.Argument(help="Model folders: fine-tunes of one starting model (seeds or settings)."),
    ],
    out: Annotated[Path, typer.Option(help="New folder for the soup.")],
    how: Annotated[str, typer.Option(help="greedy (members chosen on --dev) or uniform (all).")] = "greedy",
    dev: Annotated[str, typer.Option(help="The split that chooses: task:split.")] = "stsb:dev",
    tasks: Annotated[str, typer.Option(help="Evaluation tasks for the card; 'sts' = 7-task suite.")] = "sts",
    force: Force = False,
) -> None:
    """Average the weights of fine-tuned models into one (a model soup), chosen on dev, with a card."""
    from embedlab.evaluate.report import table_rows
    from embedlab.train.soup import soup_models

    result = soup_models(
        models, out, how=how, dev=dev, tasks=tasks, force=force, log=lambda line: console.print(line)
    )
    headers, rows = table_rows(result.after)
    print_table(f"{out} — STS Spearman (cosine, ×100)", headers, rows)
    console.print(
        f"{how} soup of {len(result.members)} of {len(models)} models, dev {result.dev:.2f}: "
        f"{result.model_dir}",
        highlight=False,
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
    force: Force = False,
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
        force=force,
        inputs=corpus,
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
    force: Force = False,
    evaluate: Annotated[
        bool, typer.Option(help="Evaluate on the 7-task STS suite for the model card.")
    ] = True,
) -> None:
    """A static-embedding model from the teacher's vocabulary (model2vec); loads in sentence-transformers."""
    from embedlab.evaluate.report import table_rows
    from embedlab.train.distill import distill_static_model

    result, records = distill_static_model(teacher, out, pca_dims=pca_dims, force=force, evaluate=evaluate)
    console.print(
        f"{out}: {result.vocabulary:,} tokens × {result.dim} dims, distilled in {result.seconds:.0f} s",
        highlight=False,
    )
    if records:
        headers, rows = table_rows(records)
        print_table(f"{out} — STS (cosine, ×100)", headers, rows)
