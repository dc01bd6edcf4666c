"""Commands that scale out: `embed` (a corpus into Parquet shards, here or on Ray)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from embedlab.cli.common import (
    DEFAULT_MODEL,
    Backend,
    Device,
    Dtype,
    IdField,
    Model,
    SkipBadRows,
    TextField,
    app,
    console,
    print_rejected,
    use_device,
    user_errors,
)


@app.command("embed")
@user_errors
def embed_command(
    documents: Annotated[Path, typer.Argument(help="JSONL(.gz), CSV or Parquet, any size (streamed).")],
    out: Annotated[Path, typer.Option(help="Folder for the shards and manifest.json (new, or --resume).")],
    model: Model = DEFAULT_MODEL,
    id_field: IdField = "id",
    text_field: TextField = "text",
    keep: Annotated[
        list[str] | None,
        typer.Option(help="A field to store beside each vector (repeat).", show_default="every field"),
    ] = None,
    keep_text: Annotated[
        bool, typer.Option(help="Store the text too (index build --from-vectors needs it).")
    ] = True,
    shard_size: Annotated[int, typer.Option(min=1, help="Texts per Parquet shard.")] = 10_000,
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per forward pass.")] = 64,
    backend: Backend = "torch",
    engine: Annotated[
        Literal["local", "ray"], typer.Option(help="local (this process) or ray (Ray Data actors).")
    ] = "local",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster (ray://HOST:10001).", show_default="a local Ray")
    ] = None,
    actors: Annotated[
        int | None, typer.Option(min=1, help="Ray actors.", show_default="one per GPU, else per 2 CPUs")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run into the same --out.")] = False,
    skip_bad_rows: SkipBadRows = False,
    long_documents: Annotated[
        Literal["chunk", "truncate"],
        typer.Option(help="Longer than the model reads: chunk (as index build does) or truncate."),
    ] = "chunk",
    vectors: Annotated[
        Literal["float", "int8", "binary"],
        typer.Option(help="Store float32, int8 codes (4× smaller) or packed sign bits (32× smaller)."),
    ] = "float",
    device: Device = None,
    dtype: Dtype = None,
) -> None:
    """Embed a corpus into Parquet shards (id, vector, kept fields) with a manifest; resumable."""
    use_device(device, dtype)
    from embedlab.embed import embed_corpus

    result = embed_corpus(
        documents,
        model,
        out,
        id_field=id_field,
        text_field=text_field,
        keep=keep,
        keep_text=keep_text,
        shard_size=shard_size,
        batch_size=batch_size,
        backend=backend,
        engine=engine,
        address=address,
        actors=actors,
        resume=resume,
        skip_bad_rows=skip_bad_rows,
        long_documents=long_documents,
        vectors=vectors,
    )
    print_rejected(result.rejected, out / "rejected.jsonl")
    if result.embedded == 0 and result.shards_kept:
        console.print(f"{out}: already finished, {result.count:,} texts in {result.shards_kept} shards")
        return
    kept = f", {result.shards_kept} kept from before" if result.shards_kept else ""
    console.print(
        f"{out}: {result.count:,} texts, {result.dim}-d, {result.shards_written + result.shards_kept} shards "
        f"({result.shards_written} written now{kept}); {result.embedded:,} texts in {result.seconds:.1f} s, "
        f"{result.texts_per_second:,.0f} texts/s",
        highlight=False,
    )
