"""`embed_corpus`: stream documents (JSONL, CSV, Parquet; any size, constant memory), encode them on this
machine or on Ray, and write Parquet shards with a manifest (see `embedlab.embed.shards`).

Resumable: the manifest lists finished shards; a killed run loses at most the shards in flight, and
`resume=True` skips the finished ones (reading, not encoding, their rows) and never rewrites them. A resumed
run must use the same model, source file and settings, so its shards line up with the first run's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from embedlab.codes import CODE_DTYPES, int8_ranges, to_int8, ubinary
from embedlab.data.documents import RejectedRows, iter_documents
from embedlab.embed.shards import FORMAT, KIND, MANIFEST, write_shard, write_vectors_manifest
from embedlab.errors import ConfigError, DataError
from embedlab.io import check_not_input, check_output_dir, folder_lock, is_owned, mark_folder, relative_path
from embedlab.models.identity import describe, same_model

SHARD_SIZE = 10_000


@dataclass
class EmbedResult:
    """What `embed_corpus` did: the folder, texts in it, shards written now and kept from before, time.

    Example::

        result = embed_corpus("docs.jsonl", "all-MiniLM-L6-v2", "vectors/")
        result.count, result.texts_per_second
    """

    out: Path
    count: int
    dim: int
    embedded: int
    shards_written: int
    shards_kept: int
    seconds: float
    rejected: int = 0  # bad rows set aside (skip_bad_rows), listed in OUT/rejected.jsonl

    @property
    def texts_per_second(self) -> float:
        """Texts embedded by this call per second of it."""
        return self.embedded / self.seconds if self.seconds else 0.0


def pieces(texts: list[str], batch_size: int) -> list[list[str]]:
    """The calls every engine makes to `encode`: the same pieces of a shard, so that the same texts are
    batched together (int8 activations are quantised per batch) and the engines give the same vectors.
    """
    step = max(batch_size * 16, 1024)
    return [texts[start : start + step] for start in range(0, len(texts), step)]


class LocalEngine:
    """Encodes in this process with any embedlab encoder (torch, ONNX, int8; CPU or GPU).

    Example::

        engine = LocalEngine("all-MiniLM-L6-v2", backend="onnx-int8")
        [vectors] = list(engine.encode([["a text", "another"]], progress=lambda n: None))
    """

    window = 1  # shards handed over at a time

    def __init__(self, model: str, backend: str = "torch", batch_size: int = 64, device: str | None = None):
        from embedlab.runtime.encoder import load_encoder

        self.encoder = load_encoder(model, backend, device=device)
        self.batch_size = batch_size

    def encode(self, shards: list[list[str]], progress: Callable[[int], None]) -> Iterator[np.ndarray]:
        """The vectors of each shard's texts, in order, reporting texts done as they are."""
        for texts in shards:
            parts = []
            for piece in pieces(texts, self.batch_size):
                parts.append(np.asarray(self.encoder.encode(piece, self.batch_size)))
                progress(len(parts[-1]))
            yield np.concatenate(parts)

    def close(self) -> None:
        """Nothing to release."""


def _settings(source: Path, out: Path, **options) -> dict:
    stat = source.stat()
    where = {"path": relative_path(source, out), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return {"source": where, **options}


LONG_DOCUMENTS = ("chunk", "truncate")


def document_chunking(model: str, long_documents: str = "chunk"):
    """How embed treats documents longer than the model reads: `chunk` — windows of the model's own tokens,
    as `index build` makes them (recorded in the manifest) — or `truncate` (the model keeps its first
    tokens, and the manifest says so). Returns the chunking (None: none) and the token-offset function.

    Example::

        chunking, offsets = document_chunking("all-MiniLM-L6-v2")  # {"window": 254, "overlap": 32}, ...
    """
    import json

    from embedlab.data.chunks import chunking_for
    from embedlab.models.registry import resolve
    from embedlab.runtime.encoder import read_max_length

    if long_documents not in LONG_DOCUMENTS:
        raise ConfigError(f"long_documents {long_documents!r}: choose chunk or truncate")
    folder = Path(resolve(model))
    if long_documents == "truncate" or not (folder / "modules.json").is_file():
        return None, None  # a hub id is not read here: its own truncation applies, as the manifest says
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    if any(str(m.get("type", "")).endswith("StaticEmbedding") for m in modules):
        return None, None  # a static model embeds any length whole
    chunking = chunking_for(read_max_length(folder))
    return chunking, _token_offsets(folder)


def _token_offsets(folder: Path) -> Callable[[str], list[tuple[int, int]]]:
    """The model's tokens' character spans, from its tokenizer alone (no model loaded: Ray's driver too)."""
    if (folder / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        fast = Tokenizer.from_file(str(folder / "tokenizer.json"))
        return lambda text: list(fast.encode(text, add_special_tokens=False).offsets)
    from transformers import AutoTokenizer

    slow = AutoTokenizer.from_pretrained(str(folder))
    return lambda text: [
        tuple(span)
        for span in slow(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    ]


def open_output(out: Path, identity: dict, settings: dict, *, resume: bool) -> dict:
    """The manifest to continue: a fresh one for a new or empty folder; with `resume`, the folder's own after
    checking it was written by the same model from the same source and settings. Anything else is refused
    before any work, and nothing in the folder is touched.

    Example::

        manifest = open_output(Path("vectors"), encoder_identity("all-MiniLM-L6-v2"), settings, resume=False)
    """
    path = out / MANIFEST
    if path.is_file():
        import json

        manifest = json.loads(path.read_text(encoding="utf-8"))
        state = f"{manifest.get('count', 0):,} texts{', finished' if manifest.get('finished') else ''}"
        if not same_model(manifest.get("model", {}), identity):
            raise ConfigError(
                f"out={out} holds vectors of another model ({describe(manifest.get('model', {}))}), "
                f"not {describe(identity)}; choose a new folder"
            )
        if not resume:
            raise ConfigError(f"out={out} already holds vectors ({state}); pass resume=True to continue it")
        for key, value in settings.items():
            if manifest["settings"].get(key) != value:
                raise ConfigError(
                    f"resume=True: {out} was embedded with {key} {manifest['settings'].get(key)!r}, "
                    f"now {value!r}; resume with the same source and options"
                )
        return manifest
    if not (out.is_dir() and is_owned(out, KIND)):  # ours without a manifest: killed before its first shard
        check_output_dir(out, kind=KIND)
    if resume:
        raise ConfigError(f"resume=True: {out} holds no vectors to continue; run without it")
    return {
        "format": FORMAT,
        "model": identity,
        "settings": settings,
        "dim": None,
        "dtype": CODE_DTYPES[settings.get("vectors", "float")],
        "normalized": bool(identity.get("normalize")),
        "count": 0,
        "shards": [],
        "finished": False,
        "seconds": 0.0,
    }


def _skip(number: int, record: object, error: DataError) -> None:
    """The second read of a checked corpus passes over the rows the first read set aside."""


def _documents_in_shards(source: Path, settings: dict) -> Iterator[list[dict]]:
    on_bad = _skip if settings.get("skip_bad_rows") else None
    documents = iter_documents(
        source, settings["id_field"], settings["text_field"], settings["keep"], on_bad=on_bad
    )
    rows = (doc for _, doc in documents)
    while chunk := list(islice(rows, settings["shard_size"])):
        yield chunk


def _chunked(docs: list[dict], chunking: dict | None, offsets) -> list[dict]:
    from embedlab.data.chunks import chunk_documents

    return chunk_documents(docs, offsets, **chunking) if chunking else docs


def _windows(shards: Iterator[list[dict]], size: int) -> Iterator[list[list[dict]]]:
    while window := list(islice(shards, size)):
        yield window


def embed_corpus(
    source: str | Path,
    model: str,
    out: str | Path,
    *,
    id_field: str | None = "id",
    text_field: str = "text",
    keep: list[str] | None = None,
    keep_text: bool = True,
    shard_size: int = SHARD_SIZE,
    batch_size: int = 64,
    backend: str = "torch",
    engine: str = "local",
    address: str | None = None,
    actors: int | None = None,
    resume: bool = False,
    skip_bad_rows: bool = False,
    long_documents: str = "chunk",
    vectors: str = "float",
    show_progress: bool = True,
) -> EmbedResult:
    """Embed every document of `source` with `model` into Parquet shards in `out`, with a manifest.

    `engine="local"` encodes here; `engine="ray"` runs the same job on Ray Data (a local Ray by default,
    `address` for a cluster), giving the same shards. `keep`: the other fields stored beside each vector
    (default: all of them); the text too unless `keep_text=False` (an index built from the shards needs it).
    Every row is checked before any encoding: a bad one stops with one line, or with `skip_bad_rows` is set
    aside in `out/rejected.jsonl`. Long documents are chunked as `index build` chunks them (a row per
    chunk: `DOC#N`, `doc_id`, `start`, `end`), or with `long_documents="truncate"` cut at what the model
    reads; the manifest says which. `vectors="int8"` or `"binary"` stores sentence-transformers' codes
    (4× / 32× smaller shards): int8 in per-dimension ranges calibrated on the first shard (kept in the
    manifest; later values are clipped to them), binary as packed sign bits.

    Example::

        result = embed_corpus("papers.jsonl", "all-MiniLM-L6-v2", "vectors/", text_field="abstract")
        vectors, documents, manifest = read_vectors("vectors/")
    """
    from embedlab.runtime.encoder import encoder_identity

    source, out = Path(source), Path(out)
    if shard_size < 1:
        raise ConfigError(f"shard_size={shard_size}: must be at least 1")
    if vectors not in CODE_DTYPES:
        raise ConfigError(f"vectors={vectors!r}: choose one of {', '.join(CODE_DTYPES)}")
    if not source.is_file():
        raise DataError("file not found", path=source)
    settings = _settings(
        source, out, id_field=id_field, text_field=text_field, keep=keep, keep_text=keep_text,
        shard_size=shard_size, skip_bad_rows=skip_bad_rows, long_documents=long_documents, vectors=vectors,
    )  # fmt: skip
    identity = encoder_identity(model, backend)
    check_not_input(out, [source])
    open_output(out, identity, settings, resume=resume)  # refuse before the lock file is made
    rejected = RejectedRows() if skip_bad_rows else None
    for _ in iter_documents(source, id_field, text_field, keep, on_bad=rejected):
        pass  # every row checked before any encoding (a read costs little beside the encoding)
    chunking, offsets = document_chunking(model, long_documents)
    with folder_lock(out, 1.0, "these vectors"):
        manifest = open_output(out, identity, settings, resume=resume)
        manifest["chunking"] = chunking
        mark_folder(out, KIND, [MANIFEST, "shard-*.parquet", "rejected.jsonl"])
        if manifest["finished"]:
            return EmbedResult(out, manifest["count"], manifest["dim"], 0, 0, len(manifest["shards"]), 0.0)
        runner = _engine(engine, model, backend, batch_size, address, actors, shard_size)
        try:
            result = _run(runner, source, out, manifest, show_progress, offsets)
        finally:
            runner.close()
        if rejected is not None:
            rejected.write(out / "rejected.jsonl")
            result.rejected = rejected.count
        return result


def _engine(engine: str, model: str, backend: str, batch_size: int, address, actors, shard_size: int):
    if engine == "local":
        if address is not None:
            raise ConfigError("address=: only with engine=ray")
        return LocalEngine(model, backend, batch_size)
    if engine == "ray":
        from embedlab.embed.ray_engine import RayEngine

        return RayEngine(model, backend, batch_size, address=address, actors=actors, shard_size=shard_size)
    raise ConfigError(f"engine={engine}: choose local or ray")


def _stored(vectors: np.ndarray, manifest: dict) -> np.ndarray:
    """What a shard keeps of its vectors: themselves, or their int8 / binary codes. The int8 ranges come
    from the first shard written (a resumed run reads them from the manifest), so every shard shares them.
    """
    dtype = manifest["dtype"]
    if dtype == "ubinary":
        return ubinary(vectors)
    if dtype == "int8":
        manifest.setdefault("int8_ranges", int8_ranges(vectors).tolist())
        return to_int8(vectors, np.asarray(manifest["int8_ranges"], dtype=np.float32))
    return vectors


def _run(runner, source: Path, out: Path, manifest: dict, show_progress: bool, offsets) -> EmbedResult:
    from tqdm.auto import tqdm

    settings = manifest["settings"]
    keep_text = settings["keep_text"]
    kept = len(manifest["shards"])
    shards = _documents_in_shards(source, settings)
    for _ in islice(shards, kept):  # finished shards: read past, never encoded or rewritten
        pass
    begun = last = time.perf_counter()
    embedded = written = 0
    with tqdm(
        desc="embed: encoding", unit=" texts", initial=manifest["count"], disable=not show_progress
    ) as bar:
        for documents in _windows(shards, runner.window):
            window = [_chunked(docs, manifest["chunking"], offsets) for docs in documents]
            texts = [[doc["text"] for doc in docs] for docs in window]
            for docs, vectors in zip(window, runner.encode(texts, bar.update), strict=True):
                if not keep_text:
                    for doc in docs:
                        del doc["text"]
                entry = write_shard(out, kept + written, docs, _stored(vectors, manifest))
                now = time.perf_counter()
                manifest["shards"].append(entry)
                manifest["count"] += entry["rows"]
                manifest["dim"] = int(vectors.shape[1])
                manifest["seconds"] = round(manifest["seconds"] + now - last, 1)
                write_vectors_manifest(out, manifest)  # from here on this shard is finished
                last, embedded, written = now, embedded + entry["rows"], written + 1
    if manifest["count"] == 0:
        raise DataError("no documents found", path=source)
    manifest["finished"] = True
    write_vectors_manifest(out, manifest)
    seconds = time.perf_counter() - begun
    return EmbedResult(out, manifest["count"], manifest["dim"], embedded, written, kept, seconds)
