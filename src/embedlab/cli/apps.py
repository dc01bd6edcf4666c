"""Commands that use the embeddings: `dedup`, `cluster`, `match`, `classify train|predict`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from embedlab.cli.common import (
    DEFAULT_MODEL,
    Backend,
    Device,
    Dtype,
    Force,
    IdField,
    ManifestModel,
    Model,
    SkipBadRows,
    TextField,
    app,
    console,
    print_rejected,
    print_table,
    top_k,
    use_device,
    user_errors,
)
from embedlab.errors import EmbedlabError
from embedlab.io import check_not_input, check_output_dir, check_output_file

classify_app = typer.Typer(
    help="Classify texts with a linear model on their embeddings.", no_args_is_help=True
)
app.add_typer(classify_app, name="classify")

Documents = Annotated[Path, typer.Argument(help="JSONL, CSV or Parquet with an id and a text field.")]
Out = Annotated[Path, typer.Option(help="New folder for the results (written whole, or not at all).")]
Format = Annotated[Literal["jsonl", "parquet"], typer.Option("--format", help="Format of the row files.")]
BatchSize = Annotated[int, typer.Option(min=1, help="Texts per encoding batch.")]


def _load(documents: Path, id_field: str, text_field: str, model: str, backend: str, on_bad=None):
    from embedlab.data.documents import load_documents
    from embedlab.runtime.encoder import load_encoder

    docs = load_documents(documents, id_field, text_field, on_bad=on_bad)  # bad input: before the model
    return docs, load_encoder(model, backend)


@app.command("dedup")
@user_errors
def dedup(
    documents: Documents,
    model: Model = DEFAULT_MODEL,
    threshold: Annotated[
        float, typer.Option(help="Cosine at or above which two texts are duplicates.")
    ] = 0.9,
    out: Annotated[Path | None, typer.Option(help="Folder for kept/removed rows and report.md.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Print the counts; write nothing.")] = False,
    k: Annotated[int, top_k("Neighbours checked per text.", 2)] = 20,
    fmt: Format = "jsonl",
    force: Force = False,
    skip_bad_rows: SkipBadRows = False,
    id_field: IdField = "id",
    text_field: TextField = "text",
    backend: Backend = "torch",
    device: Device = None,
    dtype: Dtype = None,
    batch_size: BatchSize = 64,
) -> None:
    """Remove exact and near-duplicate texts: one kept per group; each removed row names what it copies."""
    use_device(device, dtype)
    from embedlab.apps.common import check_threshold
    from embedlab.apps.dedup import KIND, deduplicate, write_dedup

    check_threshold(threshold)
    if out is None and not dry_run:
        raise EmbedlabError("give --out DIR for the results, or --dry-run for the counts only")
    if out is not None and not dry_run:
        check_output_dir(out, kind=KIND, force=force, inputs=[documents])  # before any encoding
    from embedlab.data.documents import RejectedRows

    rejected = RejectedRows() if skip_bad_rows else None
    docs, encoder = _load(documents, id_field, text_field, model, backend, on_bad=rejected)
    result = deduplicate([d["text"] for d in docs], encoder, threshold=threshold, k=k, batch_size=batch_size)
    near = len(result.removed) - result.exact
    console.print(
        f"{len(docs):,} texts: keep {len(result.kept):,}, remove {len(result.removed):,} "
        f"({result.exact:,} exact copies, {near:,} near duplicates at cosine ≥ {threshold})"
    )
    if not dry_run and out is not None:
        write_dedup(out, result, docs, str(documents), fmt=fmt, force=force, rejected=rejected)
        console.print(f"written: {out}/kept.{fmt}, removed.{fmt}, report.md")
    where = out / "rejected.jsonl" if out is not None and not dry_run else "not written (--dry-run)"
    print_rejected(rejected.count if rejected else 0, where)


@app.command("cluster")
@user_errors
def cluster(
    documents: Documents,
    out: Out,
    model: Model = DEFAULT_MODEL,
    clusters: Annotated[
        int | None,
        typer.Option(min=1, help="k-means with this many clusters.", show_default="chosen by silhouette"),
    ] = None,
    min_cluster_size: Annotated[
        int | None, typer.Option(min=2, help="HDBSCAN with this smallest cluster (finds how many itself).")
    ] = None,
    fmt: Format = "jsonl",
    force: Force = False,
    id_field: IdField = "id",
    text_field: TextField = "text",
    backend: Backend = "torch",
    device: Device = None,
    dtype: Dtype = None,
    batch_size: BatchSize = 64,
) -> None:
    """Group documents by meaning: clusters with keywords, central documents and a 2-D map."""
    use_device(device, dtype)
    from embedlab.apps.cluster import KIND, cluster_vectors, write_clustering
    from embedlab.apps.common import encode_texts

    if clusters is not None and min_cluster_size is not None:
        raise EmbedlabError("give --clusters (k-means) or --min-cluster-size (HDBSCAN), not both")
    check_output_dir(out, kind=KIND, force=force, inputs=[documents])  # before any encoding
    docs, encoder = _load(documents, id_field, text_field, model, backend)
    if clusters is not None and clusters > len(docs):
        raise EmbedlabError(f"--clusters {clusters}: {documents} holds only {len(docs):,} documents")
    texts = [d["text"] for d in docs]
    vectors = encode_texts(encoder, texts, "cluster", batch_size)
    result = cluster_vectors(vectors, texts, k=clusters, min_cluster_size=min_cluster_size)
    write_clustering(out, result, docs, vectors, str(documents), fmt=fmt, force=force)
    noise = int((result.labels == -1).sum())
    if noise:  # HDBSCAN's outliers: say how many, and what to change when it is most of them
        advice = (
            "; try a smaller --min-cluster-size, or leave it out (k chosen)" if noise > len(docs) / 2 else ""
        )
        console.print(
            f"{noise:,} of {len(docs):,} documents are outliers (cluster -1){advice}", highlight=False
        )
    rows = [[str(c.label), f"{c.size:,}", ", ".join(c.keywords[:6])] for c in result.clusters[:20]]
    print_table(
        f"{len(result.clusters)} clusters ({result.method}) → {out}", ["cluster", "size", "keywords"], rows
    )


@app.command("match")
@user_errors
def match(
    queries: Annotated[Path, typer.Argument(help="Queries: JSONL, CSV or Parquet.")],
    candidates: Annotated[Path | None, typer.Argument(help="Candidates; leave out with --self.")] = None,
    model: Model = DEFAULT_MODEL,
    k: Annotated[int, top_k("Candidates per query.")] = 1,
    min_score: Annotated[float, typer.Option(help="Below this cosine: no match.")] = 0.5,
    self_: Annotated[bool, typer.Option("--self", help="Paraphrase mining inside QUERIES.")] = False,
    out: Annotated[Path | None, typer.Option(help="Folder for matches.jsonl and report.md.")] = None,
    force: Force = False,
    id_field: IdField = "id",
    text_field: TextField = "text",
    backend: Backend = "torch",
    device: Device = None,
    dtype: Dtype = None,
) -> None:
    """Best candidates per query above a score (FAQ answering, record linkage), or pairs within one file."""
    use_device(device, dtype)
    from embedlab.apps.common import check_threshold, encode_texts
    from embedlab.apps.match import KIND, match_rows, write_matches

    check_threshold(min_score, "min_score")
    if self_ == (candidates is not None):
        raise EmbedlabError("give CANDIDATES, or --self to find pairs inside QUERIES")
    inputs = [queries, candidates]
    if out is not None:
        check_output_dir(out, kind=KIND, force=force, inputs=inputs)  # before any encoding
    docs, encoder = _load(queries, id_field, text_field, model, backend)
    others = docs
    if candidates is not None:
        from embedlab.data.documents import load_documents

        others = load_documents(candidates, id_field, text_field)
    if not self_ and k > len(others):
        raise EmbedlabError(f"-k {k}: {candidates} holds only {len(others):,} candidates")
    query_vectors = encode_texts(encoder, [d["text"] for d in docs], "queries")
    other_vectors = (
        query_vectors if self_ else encode_texts(encoder, [d["text"] for d in others], "candidates")
    )
    rows = match_rows(docs, others, query_vectors, other_vectors, k=k, min_score=min_score, self_=self_)
    matched = len({r["query"] for r in rows if r["candidate"] is not None})
    console.print(
        f"{matched:,} of {len(docs):,} queries matched at cosine ≥ {min_score}"
        if not self_
        else f"{len(rows):,} pairs at cosine ≥ {min_score}"
    )
    if out is not None:
        write_matches(out, rows, force=force, inputs=[p for p in inputs if p is not None])
        console.print(f"written: {out}/matches.jsonl, report.md")
    else:
        shown = [
            [r["query"], str(r["candidate"]), f"{r['score']:.3f}" if r["score"] is not None else "—"]
            for r in rows[:20]
        ]
        print_table("matches", ["query", "candidate", "cosine"], shown)


@classify_app.command("train")
@user_errors
def classify_train(
    documents: Documents,
    label_field: Annotated[str, typer.Option(help="Field holding each document's label.")],
    out: Out,
    model: Model = DEFAULT_MODEL,
    test_fraction: Annotated[float, typer.Option(min=0.05, max=0.5, help="Held out to measure.")] = 0.2,
    force: Force = False,
    id_field: IdField = "id",
    text_field: TextField = "text",
    backend: Backend = "torch",
    device: Device = None,
    dtype: Dtype = None,
) -> None:
    """Train a classifier on frozen embeddings; print accuracy and macro-F1 on a held-out split."""
    use_device(device, dtype)
    from embedlab.apps.classify import labels_of, train_classifier
    from embedlab.apps.common import encode_texts
    from embedlab.models.classifier import KIND

    check_output_dir(out, kind=KIND, force=force, inputs=[documents])
    docs, encoder = _load(documents, id_field, text_field, model, backend)
    labels = labels_of(docs, label_field, documents)
    vectors = encode_texts(encoder, [d["text"] for d in docs], "classify")
    classifier, result = train_classifier(
        vectors, labels, model=encoder.identity, test_fraction=test_fraction
    )
    classifier.save(out, force=force)
    console.print(
        f"{len(classifier.labels)} labels; held-out {result.test_size:,} documents: accuracy "
        f"{100 * result.accuracy:.2f}, macro-F1 {100 * result.macro_f1:.2f} → {out}"
    )


@classify_app.command("predict")
@user_errors
def classify_predict(
    classifier_dir: Annotated[Path, typer.Argument(help="Folder written by `classify train`.")],
    documents: Documents,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for predictions.jsonl (or .parquet).", show_default="print them"),
    ] = None,
    fmt: Format = "jsonl",
    force: Force = False,
    model: ManifestModel = None,
    id_field: IdField = "id",
    text_field: TextField = "text",
    backend: Backend = "torch",
    device: Device = None,
    dtype: Dtype = None,
) -> None:
    """Label documents with a trained classifier (and its confidence)."""
    use_device(device, dtype)
    from embedlab.apps.common import encode_texts, write_rows
    from embedlab.io import atomic_path
    from embedlab.models.classifier import Classifier, check_classifier_model

    target = out / f"predictions.{fmt}" if out is not None else None
    if out is not None and target is not None:
        if out.exists() and not out.is_dir():
            raise EmbedlabError(f"--out {out} is a file; give a folder for predictions.{fmt}")
        check_not_input(out, [documents, classifier_dir])
        check_output_file(target, force=force, inputs=[documents, classifier_dir])
    classifier = Classifier.load(classifier_dir)
    docs, encoder = _load(documents, id_field, text_field, model or classifier.model["path"], backend)
    check_classifier_model(classifier, encoder.identity, encoder.dim, classifier_dir)
    labels, confidence = classifier.predict(encode_texts(encoder, [d["text"] for d in docs], "classify"))
    rows = [
        {"id": d["id"], "label": label, "confidence": round(float(c), 4)}
        for d, label, c in zip(docs, labels, confidence, strict=True)
    ]
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as staging:
            write_rows(staging, rows, fmt=fmt)
        console.print(f"{len(rows):,} predictions → {target}")
    else:
        print_table(
            "predictions",
            ["id", "label", "confidence"],
            [[r["id"], r["label"], f"{r['confidence']:.3f}"] for r in rows[:50]],
        )
