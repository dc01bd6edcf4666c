"""Commands that ship: `export onnx`, `index build|add|search`, `serve`, `bench speed`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from embedlab.cli.common import (
    Backend,
    BackendName,
    Device,
    Dtype,
    Force,
    IdField,
    IndexBackend,
    IndexKind,
    LockTimeout,
    ManifestModel,
    Rerank,
    RerankBackend,
    RerankDepth,
    SearchMode,
    SkipBadRows,
    TextField,
    app,
    bench_app,
    console,
    export_app,
    index_app,
    print_rejected,
    print_table,
    top_k,
    use_device,
    user_errors,
)
from embedlab.errors import ConfigError, EmbedlabError
from embedlab.runtime.export import KEEP_FP32


@export_app.command("onnx")
@user_errors
def export_onnx_command(
    model_dir: Annotated[Path, typer.Argument(help="A sentence-transformers model folder (writable).")],
    int8: Annotated[
        bool, typer.Option(help="Also write an int8 (per-channel, symmetric) quantized file.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite existing ONNX files.")] = False,
    sentences: Annotated[
        int, typer.Option(help="STS-B test sentences for the parity check (a reranker: half as many pairs).")
    ] = 500,
    keep_fp32: Annotated[
        int,
        typer.Option(
            min=0,
            help="int8: leave this many of the MatMuls most sensitive to quantization in fp32 "
            "(ranked on STS-B dev sentences).",
        ),
    ] = KEEP_FP32,
    int8_scheme: Annotated[
        Literal["per-row", "dynamic"],
        typer.Option(
            help="per-row: a text's int8 vector is the same alone or in any batch; dynamic: onnxruntime's "
            "per-batch ranges, faster, but a vector moves with its batch mates."
        ),
    ] = "per-row",
) -> None:
    """ONNX export (fp32, optional int8) into MODEL_DIR/onnx/, with a parity report against torch."""
    from embedlab.data.sts import sentences as sts_sentences
    from embedlab.evaluate.parity import parity_report
    from embedlab.models.cross_encoder import CROSS_ENCODER, model_kind
    from embedlab.runtime.export import export_onnx

    written = export_onnx(model_dir, int8=int8, force=force, keep_fp32=keep_fp32, int8_scheme=int8_scheme)
    files = [str(p.relative_to(model_dir)) for p in written]
    if model_kind(model_dir) == CROSS_ENCODER:
        _print_reranker_parity(model_dir, files, sentences)
        return
    sample = sts_sentences("stsb", "test", limit=sentences)
    rows = parity_report(model_dir, files, sample)
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


def _print_reranker_parity(model_dir: Path, files: list[str], sentences: int) -> None:
    from embedlab.data.sts import load_sts
    from embedlab.evaluate.parity import reranker_parity

    sample = load_sts("stsb", "test").select(range(sentences // 2))
    pairs = list(zip(sample["sentence1"], sample["sentence2"], strict=True))
    rows = reranker_parity(model_dir, files, pairs)
    print_table(
        f"{model_dir} — reranker ONNX parity with torch ({len(pairs)} STS-B pairs)",
        ["file", "MB", "largest score difference", "Spearman with torch's scores"],
        [[r.file, f"{r.size_mb:.1f}", f"{r.max_difference:.4f}", f"{r.spearman:.2f}"] for r in rows],
    )


@index_app.command("build")
@user_errors
def index_build(
    model: Annotated[str | None, typer.Argument(help="Model name or folder.")] = None,
    documents: Annotated[
        Path | None, typer.Argument(help="JSONL, CSV or Parquet with id, text and any metadata.")
    ] = None,
    out: Annotated[Path, typer.Option(help="New or empty folder for the index.")] = ...,  # type: ignore[assignment]
    from_vectors: Annotated[
        Path | None,
        typer.Option(help="Build from `embedlab embed` shards instead of MODEL DOCUMENTS (no encoding)."),
    ] = None,
    kind: Annotated[
        IndexKind,
        typer.Option(
            help="flat (exact), ivf, hnsw, or ivfpq (compressed codes, re-ranked; 10M+ on one box)."
        ),
    ] = "flat",
    opq: Annotated[bool, typer.Option(help="ivfpq: rotate vectors (OPQ) before quantising.")] = False,
    pq_bytes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="ivfpq: bytes per vector code (must divide the width); more = higher recall, more memory.",
            show_default="width/8",
        ),
    ] = None,
    store: Annotated[
        Literal["faiss", "milvus"], typer.Option(help="Where the vectors live: a FAISS file, or Milvus.")
    ] = "faiss",
    uri: Annotated[
        str | None,
        typer.Option(help="Milvus: a Lite file (.db) or http://HOST:19530.", show_default="OUT/milvus.db"),
    ] = None,
    collection: Annotated[
        str | None, typer.Option(help="Milvus collection.", show_default="named after --out")
    ] = None,
    target_recall: Annotated[
        float,
        typer.Option(
            min=0.01,
            max=1.0,
            help="ivf/hnsw: search effort is tuned on the documents to reach this recall@10.",
        ),
    ] = 0.95,
    force: Annotated[bool, typer.Option(help="Replace the index already in --out.")] = False,
    vectors: Annotated[
        Literal["float", "int8", "binary"],
        typer.Option(
            help="float; int8 (4x less memory) or binary (32x less): compressed codes in memory, candidates "
            "rescored with vectors memory-mapped from disk (--kind flat)."
        ),
    ] = "float",
    dims: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Keep the first N dimensions of each vector (Matryoshka; for models trained with "
            "loss.matryoshka_dims). Queries are cut to match.",
            show_default="all",
        ),
    ] = None,
    bm25: Annotated[bool, typer.Option(help="Keep a BM25 index beside the vectors (hybrid search).")] = True,
    chunk_tokens: Annotated[
        int | None,
        typer.Option(min=8, help="Chunk window in the model's tokens.", show_default="what the model reads"),
    ] = None,
    chunk_overlap: Annotated[int, typer.Option(min=0, help="Tokens shared by consecutive chunks.")] = 32,
    skip_bad_rows: SkipBadRows = False,
    id_field: IdField = "id",
    text_field: TextField = "text",
    backend: Backend = "torch",
    device: Device = None,
    dtype: Dtype = None,
    lock_timeout: LockTimeout = 60.0,
) -> None:
    """Embed documents (long ones in token-aware chunks), or take `embedlab embed`'s vectors; save a FAISS
    index (or the vectors in Milvus), a BM25 index and a manifest.
    """
    from embedlab.index import PQSettings, check_target, create_index_from_vectors, milvus_settings

    if store == "faiss" and (uri or collection):
        raise ConfigError("--uri and --collection are for --store milvus")
    if kind != "ivfpq" and (opq or pq_bytes):
        raise ConfigError("--opq and --pq-bytes are for --kind ivfpq")
    if vectors != "float" and (kind != "flat" or store != "faiss"):
        raise ConfigError(
            f"--vectors {vectors} is an exact search over compressed codes: --kind flat, --store faiss"
        )
    pq = PQSettings(code_bytes=pq_bytes, opq=opq)
    check_target(out, force=force, inputs=[documents, from_vectors, model])  # before any encoding
    milvus = milvus_settings(out, uri, collection) if store == "milvus" else None
    if from_vectors is not None:
        if model is not None or documents is not None:
            raise ConfigError("--from-vectors: give the vectors folder instead of MODEL DOCUMENTS, not both")
        index = create_index_from_vectors(
            from_vectors,
            out,
            kind=kind,
            target_recall=target_recall,
            force=force,
            bm25=bm25,
            lock_timeout=lock_timeout,
            milvus=milvus,
            pq=pq,
            vectors_precision=vectors,
            dims=dims,
        )
        _print_built(out, index, index.manifest["count"], kind, bm25)
        return
    if model is None or documents is None:
        raise ConfigError("index build: give MODEL DOCUMENTS, or --from-vectors DIR")
    use_device(device, dtype)
    from embedlab.index import build_index

    index, count, rejected = build_index(
        model,
        documents,
        out,
        id_field=id_field,
        text_field=text_field,
        backend=backend,
        chunk_tokens=chunk_tokens,
        chunk_overlap=chunk_overlap,
        skip_bad_rows=skip_bad_rows,
        kind=kind,
        target_recall=target_recall,
        force=force,
        lock_timeout=lock_timeout,
        bm25=bm25,
        milvus=milvus,
        pq=pq,
        vectors_precision=vectors,
        dims=dims,
    )
    _print_built(out, index, count, kind, bm25)
    print_rejected(rejected, out / "rejected.jsonl")


BUILT_WORDS = {  # manifest entry → how the build summary says it
    "vectors": "{} vectors",
    "nprobe": "searches {} lists",
    "ef_search": "ef_search {}",
    "rescore_multiplier": "rescores {}× k candidates",
    "pq_bytes": "{} bytes a vector",
    "tuned_recall_at_10": "recall@10 {} against exact search",
    "uri": "in Milvus at {}",
    "collection": "collection {}",
}


def _print_built(out: Path, index, documents: int, kind: str, bm25: bool) -> None:
    manifest = index.manifest
    said = [
        words.format(manifest[key])
        for key, words in BUILT_WORDS.items()
        if manifest.get(key) not in (None, "float")
    ]
    console.print(
        f"{out}: {documents:,} documents in {manifest['count']:,} chunks, {manifest['dim']}-d, "
        f"{kind} index{' + BM25' if bm25 else ''}{' with OPQ' if manifest.get('opq') else ''}"
        + (f"; {', '.join(said)}" if said else ""),
        highlight=False,
        soft_wrap=True,
    )


@index_app.command("add")
@user_errors
def index_add(
    directory: Annotated[Path, typer.Argument(help="Index folder.")],
    documents: Annotated[Path, typer.Argument(help="More documents (ids must be new).")],
    id_field: IdField = "id",
    text_field: TextField = "text",
    model: ManifestModel = None,
    backend: IndexBackend = None,
    device: Device = None,
    dtype: Dtype = None,
    lock_timeout: LockTimeout = 60.0,
) -> None:
    """Add documents to an index and save it again (atomically; concurrent writers wait their turn)."""
    use_device(device, dtype)
    from embedlab.apps.common import encode_texts
    from embedlab.data.chunks import rows_for_index
    from embedlab.data.documents import load_documents
    from embedlab.index import add_to_index, check_addition, model_backend, model_source, read_manifest
    from embedlab.runtime.encoder import load_encoder

    docs = load_documents(documents, id_field, text_field)
    manifest = read_manifest(directory)
    encoder = load_encoder(model or model_source(manifest), backend or model_backend(manifest))
    rows = rows_for_index(docs, encoder, manifest.get("chunking"))  # the windows already in the index
    check_addition(directory, rows, model=encoder.identity, dim=encoder.dim)  # before the encoding
    vectors = encode_texts(encoder, [r["text"] for r in rows], "index")
    index = add_to_index(directory, vectors, rows, model=encoder.identity, lock_timeout=lock_timeout)
    console.print(
        f"{directory}: {index.manifest['documents']:,} documents ({index.manifest['count']:,} chunks)"
    )


@index_app.command("search")
@user_errors
def index_search(
    directory: Annotated[Path, typer.Argument(help="Index folder.")],
    query: Annotated[str | None, typer.Argument(help="What to look for (leave out with --like).")] = None,
    k: Annotated[int, top_k("Number of documents.")] = 10,
    mode: Annotated[SearchMode, typer.Option(help="dense, bm25 or hybrid (both, rank-fused).")] = "hybrid",
    where: Annotated[
        list[str] | None, typer.Option(help="Only documents with field=value (repeatable).")
    ] = None,
    like: Annotated[str | None, typer.Option(help="Documents similar to this indexed document id.")] = None,
    model: ManifestModel = None,
    backend: IndexBackend = None,
    device: Device = None,
    dtype: Dtype = None,
    rerank: Rerank = None,
    rerank_depth: RerankDepth = 50,
    rerank_backend: RerankBackend = "torch",
) -> None:
    """The k documents best matching the query (or like a document), each with its best passage."""
    use_device(device, dtype)
    from embedlab.index import DocumentIndex, model_backend, model_source
    from embedlab.index.search import effective_mode, more_like_this, search
    from embedlab.runtime.encoder import load_encoder

    if (query is None) == (like is None):
        raise EmbedlabError("give a QUERY, or --like DOC_ID for documents similar to an indexed one")
    reranker = None
    if rerank is not None:
        if like is not None:
            raise EmbedlabError("--rerank reorders the results of a QUERY, not of --like")
        from embedlab.runtime.reranker import load_reranker

        reranker = load_reranker(
            rerank, rerank_backend
        )  # an embedding model here: one line, before the index loads
    index = DocumentIndex.load(directory)
    if like is not None:
        hits = more_like_this(index, like, k=k, where=where)
        title = f"like {like!r} in {directory}"
    else:
        used = effective_mode(index, mode)
        encoder = None
        if used != "bm25":
            encoder = load_encoder(
                model or model_source(index.manifest), backend or model_backend(index.manifest)
            )
            index.check_model(encoder.identity, encoder.dim, directory)
        hits = search(
            index,
            encoder,
            query or "",
            k=k,
            mode=used,
            where=where,
            rerank=reranker,
            rerank_depth=rerank_depth,
        )
        title = f"{query!r} in {directory} ({used}" + (f", top {rerank_depth} reranked)" if rerank else ")")
    print_table(title, *_hit_table(hits, reranked=reranker is not None))
    if any(hit.sides for hit in hits):
        console.print(
            "score: rank fusion, Σ 1/(60 + rank) over the two sides (0.033 = first on both); cosine and BM25 "
            "are each side's own score (– where that side did not find it)",
            highlight=False,
            soft_wrap=True,
        )


def _hit_table(hits, *, reranked: bool) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of search results: scores (each side's too in hybrid), the snippet, metadata."""
    fused = any(hit.sides for hit in hits)
    side = lambda value, places: "–" if value is None else f"{value:.{places}f}"  # noqa: E731
    headers = ["#", "id", "score", *(["cosine", "BM25"] if fused else []), *(["rerank"] if reranked else []),
               "passage", "metadata"]  # fmt: skip
    rows = [
        [str(rank), hit.id, f"{hit.score:.3f}",
         *([side(hit.sides.get("dense"), 3), side(hit.sides.get("bm25"), 2)] if fused else []),
         *([f"{hit.rerank_score:.3f}"] if reranked else []), hit.snippet or hit.highlight,
         ", ".join(f"{k}={v}" for k, v in list(hit.metadata.items())[:3])]
        for rank, hit in enumerate(hits, start=1)
    ]  # fmt: skip
    return headers, rows


@app.command("serve")
@user_errors
def serve(
    model: Annotated[
        str, typer.Argument(help="Model name or folder (exported with `embedlab export onnx` for onnx).")
    ],
    index: Annotated[
        Path | None, typer.Option(help="Index folder for POST /search and the page at /.")
    ] = None,
    classifier: Annotated[
        Path | None, typer.Option(help="`classify train` folder for POST /classify.")
    ] = None,
    reranker: Annotated[
        str | None,
        typer.Option(help="A reranker (CrossEncoder folder) for POST /v1/rerank and POST /search's rerank."),
    ] = None,
    rerank_backend: Annotated[
        Literal["torch", "onnx", "onnx-int8"] | None,
        typer.Option(
            help="The reranker's backend (onnx-int8: after export onnx --int8).", show_default="torch"
        ),
    ] = None,
    backend: Annotated[
        BackendName | None, typer.Option(help="Encoder backend.", show_default="torch")
    ] = None,
    device: Device = None,
    dtype: Dtype = None,
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
    api_key_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the API key (the key stays off the command line).", show_default=False
        ),
    ] = None,
) -> None:
    """Run the embedding service (FastAPI + uvicorn). Other settings: EMBEDLAB_* variables, e.g.
    EMBEDLAB_API_KEY (or --api-key-file), EMBEDLAB_MAX_INPUTS, EMBEDLAB_MAX_CHARS, EMBEDLAB_TOO_LONG=reject,
    EMBEDLAB_HEADER_TIMEOUT_S, EMBEDLAB_BODY_TIMEOUT_S, EMBEDLAB_MAX_CONNECTIONS.
    """
    import uvicorn
    from pydantic import ValidationError

    from embedlab.errors import ConfigError, format_validation_error
    from embedlab.serve import ServeSettings, create_app
    from embedlab.serve.app import load_service_models, load_service_reranker
    from embedlab.serve.connections import server_options

    given = {
        "model": model,
        "index_dir": str(index) if index else None,
        "classifier_dir": str(classifier) if classifier else None,
        "reranker": reranker,
        "rerank_backend": rerank_backend,
        "device": device,
        "dtype": dtype,
        "backend": backend,
        "threads": threads,
        "max_batch_size": max_batch_size,
        "max_wait_ms": max_wait_ms,
        "max_queue_texts": max_queue_texts,
        "request_timeout_s": request_timeout,
        "api_key_file": str(api_key_file) if api_key_file else None,
    }
    try:
        settings = ServeSettings.model_validate(
            {key: value for key, value in given.items() if value is not None}
        )
    except ValidationError as error:  # an EMBEDLAB_* variable with a bad value
        raise ConfigError(format_validation_error("the service settings", error)) from None
    # a bad model, index or classifier: one line, before listening
    encoder, loaded_index, classifier_head = load_service_models(settings)
    loaded_reranker = load_service_reranker(settings) if settings.reranker else None
    url = f"http://{host}:{port}"
    device = getattr(encoder, "device", None) or settings.device or "cpu"
    parts = [
        f"serving {settings.model} ({getattr(encoder, 'identity', {}).get('precision', settings.backend)}, "
        f"{device}, {encoder.dim}-d) at {url}/v1/embeddings",
        f"search page {url}/ over {settings.index_dir}" if loaded_index is not None else "no index (no page)",
        f"reranker {settings.reranker} ({settings.rerank_backend})" if loaded_reranker is not None else "",
        "API key required" if settings.api_key else "no API key",
        f"docs {url}/docs",
    ]
    console.print(" · ".join(p for p in parts if p), highlight=False, soft_wrap=True)
    uvicorn.run(
        create_app(
            settings,
            encoder=encoder,
            index=loaded_index,
            classifier=classifier_head,
            reranker=loaded_reranker,
        ),
        host=host,
        port=port,
        log_level="info",
        **server_options(settings),  # slow clients cut off, connections capped, bounded shutdown
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
    force: Force = False,
    device: Device = None,
    dtype: Dtype = None,
) -> None:
    """Speed and size table: torch fp32/bf16 and ONNX fp32/int8 at batch 1, 32 and 128, back to back."""
    use_device(device, dtype)
    import torch

    from embedlab.evaluate.speed import (
        available_backends,
        bench_speed,
        check_speed_target,
        speed_markdown,
        spread_warning,
        write_speed_report,
    )
    from embedlab.hardware import has_bf16_hardware

    check_speed_target(out, model_dir, force=force)  # before the timing

    torch.set_num_threads(threads)
    chosen = (
        backends.split(",") if backends else available_backends(model_dir, include_bf16=has_bf16_hardware())
    )
    rows = bench_speed(
        model_dir, chosen, sentences=sentences, repeats=repeats, threads=threads, show_progress=True
    )
    console.print(speed_markdown(rows))
    warning = spread_warning(rows)
    if warning:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    written = write_speed_report(rows, out, model_dir, force=force)
    console.print(f"written: {', '.join(str(path) for path in written)}")
