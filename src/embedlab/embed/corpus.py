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

from embedlab.data.documents import iter_documents
from embedlab.embed.shards import FORMAT, KIND, MANIFEST, write_shard, write_vectors_manifest
from embedlab.errors import ConfigError, DataError
from embedlab.io import check_not_input, check_output_dir, folder_lock, is_owned, mark_folder
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


def _settings(
    source: Path, id_field: str | None, text_field: str, keep, keep_text: bool, shard_size: int
) -> dict:
    stat = source.stat()
    return {
        "source": {"path": str(source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns},
        "id_field": id_field,
        "text_field": text_field,
        "keep": keep,
        "keep_text": keep_text,
        "shard_size": shard_size,
    }


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
                f"--out {out} holds vectors of another model ({describe(manifest.get('model', {}))}), "
                f"not {describe(identity)}; choose a new folder"
            )
        if not resume:
            raise ConfigError(f"--out {out} already holds vectors ({state}); pass --resume to continue it")
        for key, value in settings.items():
            if manifest["settings"].get(key) != value:
                raise ConfigError(
                    f"--resume: {out} was embedded with {key} {manifest['settings'].get(key)!r}, "
                    f"now {value!r}; resume with the same source and options"
                )
        return manifest
    if not (out.is_dir() and is_owned(out, KIND)):  # ours without a manifest: killed before its first shard
        check_output_dir(out, kind=KIND)
    if resume:
        raise ConfigError(f"--resume: {out} holds no vectors to continue; run without --resume")
    return {
        "format": FORMAT,
        "model": identity,
        "settings": settings,
        "dim": None,
        "dtype": "float32",
        "normalized": bool(identity.get("normalize")),
        "count": 0,
        "shards": [],
        "finished": False,
        "seconds": 0.0,
    }


def _documents_in_shards(source: Path, settings: dict) -> Iterator[list[dict]]:
    documents = iter_documents(source, settings["id_field"], settings["text_field"], settings["keep"])
    rows = (doc for _, doc in documents)
    while chunk := list(islice(rows, settings["shard_size"])):
        yield chunk


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
    show_progress: bool = True,
) -> EmbedResult:
    """Embed every document of `source` with `model` into Parquet shards in `out`, with a manifest.

    `engine="local"` encodes here; `engine="ray"` runs the same job on Ray Data (a local Ray by default,
    `address` for a cluster), giving the same shards. `keep`: the other fields stored beside each vector
    (default: all of them); the text too unless `keep_text=False` (an index built from the shards needs it).

    Example::

        result = embed_corpus("papers.jsonl", "all-MiniLM-L6-v2", "vectors/", text_field="abstract")
        vectors, documents, manifest = read_vectors("vectors/")
    """
    from embedlab.runtime.encoder import encoder_identity

    source, out = Path(source), Path(out)
    if shard_size < 1:
        raise ConfigError(f"--shard-size {shard_size}: must be at least 1")
    if not source.is_file():
        raise DataError("file not found", path=source)
    settings = _settings(source, id_field, text_field, keep, keep_text, shard_size)
    identity = encoder_identity(model, backend)
    check_not_input(out, [source])
    open_output(out, identity, settings, resume=resume)  # refuse before the lock file is made
    with folder_lock(out, 1.0, "these vectors"):
        manifest = open_output(out, identity, settings, resume=resume)
        mark_folder(out, KIND, [MANIFEST, "shard-*.parquet"])
        if manifest["finished"]:
            return EmbedResult(out, manifest["count"], manifest["dim"], 0, 0, len(manifest["shards"]), 0.0)
        runner = _engine(engine, model, backend, batch_size, address, actors, shard_size)
        try:
            return _run(runner, source, out, manifest, show_progress)
        finally:
            runner.close()


def _engine(engine: str, model: str, backend: str, batch_size: int, address, actors, shard_size: int):
    if engine == "local":
        if address is not None:
            raise ConfigError("--address: only with --engine ray")
        return LocalEngine(model, backend, batch_size)
    if engine == "ray":
        from embedlab.embed.ray_engine import RayEngine

        return RayEngine(model, backend, batch_size, address=address, actors=actors, shard_size=shard_size)
    raise ConfigError(f"--engine {engine}: choose local or ray")


def _run(runner, source: Path, out: Path, manifest: dict, show_progress: bool) -> EmbedResult:
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
        for window in _windows(shards, runner.window):
            texts = [[doc["text"] for doc in docs] for docs in window]
            for docs, vectors in zip(window, runner.encode(texts, bar.update), strict=True):
                if not keep_text:
                    for doc in docs:
                        del doc["text"]
                entry = write_shard(out, kept + written, docs, vectors)
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
