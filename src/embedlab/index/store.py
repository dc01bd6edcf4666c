"""Build and grow an index folder safely: checks before work, one writer at a time, no lost updates.

These take vectors (see `embedlab.index.faiss_index`); the caller encodes with the model whose identity
it passes. Everything that reads or writes the folder's layout lives in `embedlab.index.manifest`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embedlab.errors import DataError
from embedlab.index.faiss_build import PQSettings, check_kind
from embedlab.index.faiss_index import TARGET_RECALL, DocumentIndex
from embedlab.index.manifest import LOCK_TIMEOUT, check_target, writer_lock
from embedlab.io import relative_path


def create_index(
    directory: str | Path,
    vectors: np.ndarray,
    documents: list[dict],
    *,
    model: dict,
    kind: str = "flat",
    target_recall: float = TARGET_RECALL,
    force: bool = False,
    lock_timeout: float = LOCK_TIMEOUT,
    bm25: bool = False,
    extra: dict | None = None,
    milvus: dict | None = None,
    pq: PQSettings = PQSettings(),
    vectors_precision: str = "float",
    dims: int | None = None,
) -> DocumentIndex:
    """Build an index in `directory`: a new or empty folder, or (with `force`) one holding an index.
    `vectors_precision` ("float", "int8", "binary") and `dims` (Matryoshka): see `DocumentIndex.build`.

    Call `check_target(directory, force=force)` before encoding, to fail before the expensive part;
    it is checked again here, under the lock. `milvus={"uri": ..., "collection": ...}` keeps the vectors in
    Milvus (see `milvus_settings`).

    Example::

        encoder = load_encoder("all-MiniLM-L6-v2")
        docs = load_documents("docs.jsonl")
        check_target("my-index", force=False)
        create_index("my-index", encoder.encode([d["text"] for d in docs]), docs, model=encoder.identity)
    """
    check_target(directory, force=force)
    index = DocumentIndex.build(
        vectors,
        documents,
        model=model,
        kind=kind,
        target_recall=target_recall,
        bm25=bm25,
        extra=extra,
        milvus=milvus,
        pq=pq,
        vectors_precision=vectors_precision,
        dims=dims,
    )
    with writer_lock(directory, lock_timeout):
        check_target(directory, force=force)  # another process may have built one meanwhile
        index.save(directory)
    return index


def create_index_from_vectors(
    vectors_dir: str | Path,
    directory: str | Path,
    *,
    kind: str = "flat",
    target_recall: float = TARGET_RECALL,
    force: bool = False,
    lock_timeout: float = LOCK_TIMEOUT,
    bm25: bool = True,
    milvus: dict | None = None,
    pq: PQSettings = PQSettings(),
    vectors_precision: str = "float",
    dims: int | None = None,
) -> DocumentIndex:
    """Build an index from the Parquet shards `embedlab embed` wrote, without encoding anything again: the
    model's identity comes from their manifest, so later searches and additions are checked against it.

    Example::

        embed_corpus("papers.jsonl", "all-MiniLM-L6-v2", "vectors/", text_field="abstract")
        create_index_from_vectors("vectors/", "papers-index", kind="ivf")
    """
    from embedlab.embed.shards import read_vectors

    check_target(directory, force=force, inputs=[vectors_dir])
    vectors, documents, manifest = read_vectors(vectors_dir)
    if documents and "text" not in documents[0]:
        raise DataError(
            f"{vectors_dir}: the texts were not kept beside the vectors (--no-keep-text); "
            "an index needs them: embed again without --no-keep-text"
        )
    seen: set[str] = set()
    for number, document in enumerate(documents):
        if document["id"] in seen:
            raise DataError(f"{vectors_dir}: id {document['id']!r} appears twice (again at row {number + 1})")
        seen.add(document["id"])
    return create_index(
        directory,
        vectors,
        documents,
        model=manifest["model"],
        kind=kind,
        target_recall=target_recall,
        force=force,
        lock_timeout=lock_timeout,
        bm25=bm25,
        extra={"chunking": manifest.get("chunking"), "from_vectors": relative_path(vectors_dir, directory)},
        milvus=milvus,
        pq=pq,
        vectors_precision=vectors_precision,
        dims=dims,
    )


def add_to_index(
    directory: str | Path,
    vectors: np.ndarray,
    documents: list[dict],
    *,
    model: dict | None,
    lock_timeout: float = LOCK_TIMEOUT,
) -> DocumentIndex:
    """Add documents (and their vectors, made by `model`) to the index in `directory`.

    The index is re-read under the writer lock, so two processes adding at once both keep their documents;
    a later writer waits up to `lock_timeout` seconds, then fails with a clear message.

    Example::

        index = DocumentIndex.load("my-index")
        encoder = load_encoder(index.manifest["model"]["path"])
        add_to_index("my-index", encoder.encode(texts), docs, model=encoder.identity)
    """
    with writer_lock(directory, lock_timeout):
        index = DocumentIndex.load(directory)
        index.check_model(model, int(vectors.shape[1]), directory)
        index.add(vectors, documents)
        _record_precision(index.manifest, model)
        index.save(directory)
    return index


def check_addition(directory: str | Path, documents: list[dict], *, model: dict | None, dim: int) -> None:
    """Everything `add_to_index` would refuse, checked before the documents are encoded: a missing or broken
    index, another model, ids already in the index.

    Example::

        check_addition("my-index", docs, model=encoder.identity, dim=encoder.dim)
    """
    current = DocumentIndex.load(directory)
    current.check_model(model, dim, directory)
    current.check_new_ids(documents)


def _record_precision(manifest: dict, model: dict | None) -> None:
    """Vectors of another precision of the same model were added: say so in the manifest (e.g. int8+fp32)."""
    recorded = manifest["model"]
    if not (isinstance(recorded, dict) and model and model.get("precision")):
        return
    if model["precision"] not in str(recorded.get("precision")).split("+"):
        recorded["precision"] = f"{recorded.get('precision')}+{model['precision']}"


def milvus_settings(directory: str | Path, uri: str | None, collection: str | None) -> dict:
    """Where an index's vectors go in Milvus: `uri` (default: a Milvus Lite file `DIR/milvus.db`) and the
    collection (default: named after the folder). A server that does not answer fails here, in seconds.

    Example::

        milvus_settings("papers-index", "http://milvus:19530", None)
        # {"uri": "http://milvus:19530", "collection": "embedlab_papers_index"}
    """
    import re

    from embedlab.index.milvus_index import check_uri

    name = collection or "embedlab_" + re.sub(r"[^0-9A-Za-z_]", "_", Path(directory).resolve().name)
    if not re.fullmatch(r"[A-Za-z_][0-9A-Za-z_]{0,254}", name):
        raise DataError(f"collection={name}: letters, digits and underscores, not starting with a digit")
    return {"uri": check_uri(uri or str(Path(directory) / "milvus.db")), "collection": name}


REJECTED = "rejected.jsonl"  # the rows `skip_bad_rows` set aside, beside the index


def build_index(
    model: str,
    documents: str | Path,
    directory: str | Path,
    *,
    id_field: str = "id",
    text_field: str = "text",
    backend: str = "torch",
    chunk_tokens: int | None = None,
    chunk_overlap: int | None = None,
    skip_bad_rows: bool = False,
    force: bool = False,
    show_progress: bool = True,
    **options,
) -> tuple[DocumentIndex, int, int]:
    """What `embedlab index build MODEL DOCUMENTS` does: check the target (before any encoding), read the
    documents (bad rows stop, or with `skip_bad_rows` go to `DIRECTORY/rejected.jsonl`), chunk long ones in
    the model's own tokens, encode and save. `options` go to `create_index` (kind, bm25, milvus, pq, ...).
    Returns the index, the number of documents and the number of rows set aside.

    Example::

        index, documents, rejected = build_index("all-MiniLM-L6-v2", "docs.jsonl", "my-index", kind="hnsw")
    """
    from embedlab.data.chunks import DEFAULT_OVERLAP, chunking_for, rows_for_index
    from embedlab.data.documents import RejectedRows, load_documents
    from embedlab.index.compressed import check_compression
    from embedlab.io import l2_normalise
    from embedlab.runtime.encoder import encode_in_chunks, load_encoder

    check_target(directory, force=force, inputs=[documents, model])
    rejected = RejectedRows() if skip_bad_rows else None
    docs = load_documents(documents, id_field, text_field, on_bad=rejected)
    encoder = load_encoder(model, backend)
    overlap = DEFAULT_OVERLAP if chunk_overlap is None else chunk_overlap
    chunking = chunking_for(encoder.max_seq_length, chunk_tokens, overlap)
    rows = rows_for_index(docs, encoder, chunking)
    check_kind(options.get("kind", "flat"), len(rows))  # before the encoding
    check_compression(options.get("vectors_precision", "float"), options.get("dims"), encoder.dim)
    vectors = encode_in_chunks(
        lambda part: encoder.encode(part), [r["text"] for r in rows], "index", dim=encoder.dim,
        show=show_progress,
    )  # fmt: skip
    extra = {"chunking": chunking, **options.pop("extra", {})}
    index = create_index(directory, l2_normalise(vectors), rows, model=encoder.identity, extra=extra,
                         force=force, **options)  # fmt: skip
    if rejected is not None:
        rejected.write(Path(directory) / REJECTED)
    return index, len(docs), rejected.count if rejected else 0
