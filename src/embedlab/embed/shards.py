"""Vectors on disk: Parquet shards (`id`, `vector`, kept fields) and `manifest.json` (model identity, dim,
normalisation, dtype, count, the shards in order). A shard is written to a temp file and renamed, then the
manifest names it: a shard the manifest names is complete and is never rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from embedlab.errors import DataError
from embedlab.io import atomic_path, sha256_file, write_json_atomic

MANIFEST = "manifest.json"
FORMAT = "embedlab-vectors/1"
KIND = "vectors"  # the kind of folder `embedlab embed` makes (embedlab.io ownership)


def shard_name(number: int) -> str:
    """The file name of shard `number` (zero-based): `shard-00000.parquet`."""
    return f"shard-{number:05d}.parquet"


def write_shard(folder: Path, number: int, documents: list[dict], vectors: np.ndarray) -> dict:
    """Write one shard atomically: `id`, `vector` (fixed-size lists: float32, or the int8 / packed-binary
    codes `embedlab.codes` makes) and the documents' other fields.

    Returns its manifest entry.

    Example::

        entry = write_shard(Path("vectors"), 0, [{"id": "a", "text": "hi"}], np.ones((1, 4), "float32"))
        entry  # {"file": "shard-00000.parquet", "rows": 1}
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    kept = vectors.dtype if vectors.dtype in (np.int8, np.uint8) else np.float32
    vectors = np.ascontiguousarray(vectors, dtype=kept)
    columns = {"id": pa.array([d["id"] for d in documents], type=pa.string())}
    columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1])
    for name in documents[0] if documents else []:
        if name != "id":
            columns[name] = pa.array([d.get(name) for d in documents])
    name = shard_name(number)
    with atomic_path(folder / name) as staging:
        pq.write_table(pa.table(columns), staging)
        digest = sha256_file(staging)
    return {"file": name, "rows": len(documents), "sha256": digest}


def write_vectors_manifest(folder: Path, manifest: dict) -> None:
    """Commit the manifest (atomically): what a reader or a resumed run trusts."""
    write_json_atomic(folder / MANIFEST, manifest)


def read_vectors_manifest(folder: str | Path) -> dict:
    """The manifest of a vectors folder written by `embedlab embed`; a clear error for anything else.

    Example::

        manifest = read_vectors_manifest("vectors/")
        manifest["count"], manifest["dim"], manifest["model"]["name"]
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise DataError(f"{folder} holds no vectors written by `embedlab embed` (no {MANIFEST})")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise DataError(f"{path}: format {manifest.get('format')!r} is not {FORMAT!r}")
    return manifest


def iter_shards(folder: str | Path, manifest: dict | None = None) -> Iterator[tuple[np.ndarray, list[dict]]]:
    """(vectors, documents) of each finished shard, in order; documents hold `id` and the kept fields.
    Compressed shards come back as float32: int8 codes as their buckets' middles, binary codes as ±1 unit
    vectors (ranked as Hamming distance ranks) — `read_codes` gives the codes themselves.

    Example::

        for vectors, documents in iter_shards("vectors/"):
            ...
    """
    folder = Path(folder)
    manifest = manifest or read_vectors_manifest(folder)
    for entry in manifest["shards"]:
        table = _read_shard(folder, entry)
        yield decode(_codes(table), manifest), table.drop_columns(["vector"]).to_pylist()


def read_codes(folder: str | Path) -> Iterator[np.ndarray]:
    """Each shard's vectors as stored: float32, int8 codes or packed sign bits (manifest `dtype`).

    Example::

        for codes in read_codes("vectors/"):  # embed --vectors binary: uint8, dim / 8 bytes a row
            ...
    """
    manifest = read_vectors_manifest(folder)
    for entry in manifest["shards"]:
        yield _codes(_read_shard(Path(folder), entry))


def _codes(table) -> np.ndarray:
    flat = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat).reshape(table.num_rows, -1)


def decode(codes: np.ndarray, manifest: dict) -> np.ndarray:
    """Float32 vectors for a shard's stored `codes`, as the manifest's `dtype` says they were made."""
    from embedlab.codes import from_int8, unpack_binary

    dtype = manifest.get("dtype", "float32")
    if dtype == "int8":
        return from_int8(codes, np.asarray(manifest["int8_ranges"], dtype=np.float32))
    if dtype == "ubinary":
        return unpack_binary(codes, int(manifest["dim"]))
    return np.asarray(codes, dtype=np.float32)


def _read_shard(folder: Path, entry: dict):
    """A shard, checked against its manifest entry (checksum, rows): a cut or swapped file is refused."""
    import pyarrow.parquet as pq

    path = folder / entry["file"]
    mend = "embed again into a new folder"
    if not path.is_file():
        raise DataError(f"{path}: shard named by the manifest is missing; {mend}")
    if entry.get("sha256") and sha256_file(path) != entry["sha256"]:
        raise DataError(f"{path}: the shard differs from the one the manifest recorded (checksum); {mend}")
    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several types for a damaged file
        raise DataError(f"{path}: unreadable shard ({error}); {mend}") from None
    if table.num_rows != entry["rows"]:
        raise DataError(f"{path}: {table.num_rows:,} rows, the manifest recorded {entry['rows']:,}; {mend}")
    return table


def read_vectors(folder: str | Path) -> tuple[np.ndarray, list[dict], dict]:
    """All vectors, documents and the manifest of a finished vectors folder (to build an index from).

    Example::

        vectors, documents, manifest = read_vectors("vectors/")
        create_index("my-index", vectors, documents, model=manifest["model"])
    """
    manifest = read_vectors_manifest(folder)
    if not manifest.get("finished"):
        raise DataError(
            f"{folder}: the embedding is not finished ({manifest['count']:,} texts so far); "
            "finish it with `embedlab embed ... --resume`"
        )
    parts, documents = [], []
    for vectors, rows in iter_shards(folder, manifest):
        parts.append(vectors)
        documents.extend(rows)
    dim = int(manifest["dim"] or 0)
    return (np.concatenate(parts) if parts else np.empty((0, dim), np.float32)), documents, manifest
