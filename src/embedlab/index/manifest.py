"""An index folder on disk: its manifest, its versioned data folders and its writer lock.

    DIR/manifest.json   what the index is: model identity, dim, kind, count, and which data folder is live
    DIR/v7/             the live data (written by the index kind: FAISS file + documents)
    DIR/v6/             the version before, kept for a reader that read the old manifest a moment ago
    DIR/.lock           held by every writer (filelock): two writers never interleave

A write stages a new data folder completely, renames it to the next free `vN`, then replaces the manifest in
one atomic rename — the commit point — and only then removes the data versions no manifest names any more:
the one before the previous, and any that a write which failed after its rename left behind. Nothing is
deleted that is not an embedlab data version (a `vN` folder holding its `documents.jsonl`).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from embedlab.errors import EmbedlabError
from embedlab.io import (
    check_output_dir,
    disk_errors,
    folder_kind,
    folder_lock,
    mark_folder,
    write_json_atomic,
)
from embedlab.models.identity import describe, same_model

MANIFEST = "manifest.json"
LOCK = ".lock"
FORMAT = 2
STAGING_PREFIX = ".staging-"
LOCK_TIMEOUT = 60.0
_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "model": (dict, str),
    "dim": int,
    "kind": str,
    "count": int,
    "data": str,
}
_VERSION = re.compile(r"^v(\d+)$")
KIND = "index"  # the kind of folder an index is (embedlab.io ownership)
VERSIONS = tuple("v" + "[0-9]" * digits for digits in range(1, 8))  # v1 … v9999999, not "v9-notes"
NAMES = (MANIFEST, "milvus.db", "rejected.jsonl", *VERSIONS)


def is_index(directory: str | Path) -> bool:
    """True when `directory` holds an index manifest."""
    return (Path(directory) / MANIFEST).is_file()


def read_manifest(directory: str | Path) -> dict:
    """The manifest of the index in `directory`, checked: every key present with the right type.

    Example::

        read_manifest("my-index")["count"]
    """
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise EmbedlabError(
            f"{directory} holds no index (no {MANIFEST}); build one with `embedlab index build`"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise EmbedlabError(f"{path}: unreadable manifest ({error})") from None
    if not isinstance(manifest, dict):
        raise EmbedlabError(f"{path}: the manifest must be a JSON object, not {type(manifest).__name__}")
    for key, kind in _REQUIRED.items():
        if key not in manifest:
            raise EmbedlabError(f"{path}: the manifest has no '{key}'; rebuild the index")
        if not isinstance(manifest[key], kind) or isinstance(manifest[key], bool):
            raise EmbedlabError(f"{path}: the manifest's '{key}' has the wrong type; rebuild the index")
    if not _VERSION.match(manifest["data"]):
        raise EmbedlabError(f"{path}: the manifest's 'data' must name a version folder such as 'v1'")
    return manifest


def check_target(directory: str | Path, *, force: bool, inputs: Iterable[str | Path | None] = ()) -> None:
    """Refuse to build over anything but a new or empty folder, or (with `force`) an index embedlab built
    there; never one of the build's `inputs` (documents, vectors, model) or a folder holding one.

    Called before any encoding, so a bad `out` costs nothing.

    Example::

        check_target("my-index", force=False, inputs=["docs.jsonl"])
    """
    directory = Path(directory)
    if is_index(directory) and not force and folder_kind(directory) == KIND:
        raise EmbedlabError(
            f"{directory} already holds an index; add to it with `embedlab index add`, "
            "or replace it with force=True (--force)"
        )
    check_output_dir(directory, kind=KIND, force=force, inputs=inputs)


@contextmanager
def writer_lock(directory: str | Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the index's writer lock, waiting at most `timeout` seconds for another writer to finish.

    Example::

        with writer_lock("my-index"):
            ...  # load, change, save
    """
    with folder_lock(directory, timeout, "this index"):
        yield


def write_version(directory: Path, write_data: Callable[[Path], None], manifest: dict) -> dict:
    """Write a new data version with `write_data(folder)` and commit `manifest` for it. Hold the lock.

    Returns the committed manifest (with `data`, `previous` and `format` filled in).
    """
    with disk_errors(directory):  # a full disk or a read-only folder: one line, the live version untouched
        return _write_version(directory, write_data, manifest)


def _write_version(directory: Path, write_data: Callable[[Path], None], manifest: dict) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    mark_folder(directory, KIND, NAMES)
    previous = read_manifest(directory) if is_index(directory) else None
    for stale in directory.glob(f"{STAGING_PREFIX}*"):  # a crashed writer's; under the lock none is live
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=directory))
    try:
        write_data(staging)
        number = int(_VERSION.match(previous["data"]).group(1)) + 1 if previous else 1  # type: ignore[union-attr]
        while (directory / f"v{number}").exists():  # left by a crash after its rename: never reused
            number += 1
        data = directory / f"v{number}"
        staging.rename(data)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    committed = {
        **manifest,
        "format": FORMAT,
        "data": data.name,
        "previous": previous["data"] if previous else None,
    }
    write_json_atomic(directory / MANIFEST, committed)  # the commit point
    live = {data.name, committed["previous"]}  # what a reader of this or the last manifest may open
    for version in directory.iterdir():  # the one before the previous, and any a failed write left behind
        ours = version.is_dir() and _VERSION.match(version.name) and (version / "documents.jsonl").is_file()
        if ours and version.name not in live:
            shutil.rmtree(version, ignore_errors=True)
    return committed


def check_model(manifest: dict, identity: dict | None, dim: int, where: str | Path) -> None:
    """Refuse vectors from a model other than the one the index was built with.

    Example::

        check_model(read_manifest("my-index"), encoder.identity, encoder.dim, "my-index")
    """
    recorded = manifest["model"]
    name = recorded.get("name") if isinstance(recorded, dict) else recorded
    if dim not in (manifest["dim"], manifest.get("truncated_from")):  # a Matryoshka index cuts queries
        raise EmbedlabError(
            f"the model gives {dim}-dimensional vectors but the index {where} holds "
            f"{manifest['dim']}-dimensional ones (built with {name})"
        )
    if identity is None or not isinstance(recorded, dict):
        return  # an index from before identities were recorded: the dimension is all there is to check
    if not same_model(recorded, identity):
        raise EmbedlabError(
            f"the index {where} was built with another model: {describe(recorded)}; this is "
            f"{describe(identity)}. Vectors of different models do not mix: use --model {name}, "
            "or build a new index"
        )


def model_source(manifest: dict) -> str:
    """What to load to get the index's model back: the resolved folder (or hub id) it recorded.

    Example::

        load_encoder(model_source(read_manifest("my-index")))
    """
    recorded = manifest["model"]
    return str(recorded.get("path") or recorded.get("name")) if isinstance(recorded, dict) else recorded


def model_backend(manifest: dict) -> str:
    """The backend whose precision the index's vectors have (int8 → onnx-int8, bf16 → torch-bf16, else
    torch): what `index add` and `index search` use unless told otherwise, so vectors stay alike.
    """
    recorded = manifest["model"]
    precision = recorded.get("precision") if isinstance(recorded, dict) else None
    return {"int8": "onnx-int8", "bf16": "torch-bf16"}.get(str(precision).split("+")[0], "torch")
