"""Small helpers every stage shares: atomic writes, folder locks, file hashing, L2 normalisation.

One copy of each idea, so that "written completely or not at all" means the same thing everywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed over `path`, on error removed.

    A crash at any point leaves either the old file or the new one, never half of one.

    Example::

        with atomic_path("results/stsb.json") as staging:
            staging.write_text("{}")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # created as open() would (0666 less the umask), not mkstemp's 0600: others may read the result
    os.close(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield staging
        staging.replace(path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def check_replaceable(path: str | Path, replaces: Callable[[Path], bool]) -> None:
    """Refuse, before any work, a `path` that exists and is not the kind of folder about to be written there.

    Example::

        check_replaceable("runs/soup", replaces=lambda p: (p / "modules.json").is_file())
    """
    from embedlab.errors import EmbedlabError

    path = Path(path)
    if path.exists() and (not path.is_dir() or (any(path.iterdir()) and not replaces(path))):
        raise EmbedlabError(
            f"{path} exists and is not what this command writes; choose a new or empty folder"
        )


@contextmanager
def atomic_dir(path: str | Path, *, replaces: Callable[[Path], bool]) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `path`; on success it takes `path`'s place, on error it goes.

    An existing, non-empty `path` is replaced only if `replaces(path)` says it is the kind of folder being
    written (a model folder, a prepared dataset): a folder of the user's is refused, never deleted.

    Example::

        with atomic_dir("runs/x/model", replaces=lambda p: (p / "modules.json").is_file()) as staging:
            model.save(str(staging))
    """
    path = Path(path)
    check_replaceable(path, replaces)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    staging.mkdir()  # as mkdir would (0777 less the umask), not mkdtemp's 0700
    try:
        yield staging
        previous = path.with_name(f".{path.name}.previous") if path.exists() else None
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
            path.rename(previous)  # a crash from here on leaves the new folder or the old one, never neither
        staging.rename(path)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    r"""Write `text` (UTF-8) to `path` atomically.

    Example::

        write_text_atomic("runs/demo/report.md", "# demo\n")
    """
    with atomic_path(path) as staging:
        staging.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, payload: object) -> None:
    """Write `payload` as indented JSON to `path` atomically.

    Example::

        write_json_atomic("results/mine.json", {"records": []})
    """
    write_text_atomic(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def content_digest(payload: object, length: int = 16) -> str:
    """A short, stable SHA-256 of `payload` as JSON (keys sorted): names a cache entry or a stage's inputs.

    Example::

        content_digest(["pairs", {"train_pairs": 20000}, 42])  # "3f1c0a9e…" (16 hex digits)
    """
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:length]


def sha256_file(path: str | Path) -> str:
    """The hex SHA-256 of a file, read in 1 MiB blocks.

    Example::

        sha256_file("model/model.safetensors")  # '53aa5117…'
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def l2_normalise(vectors: np.ndarray, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Rows scaled to unit length as a contiguous array of `dtype` (zero rows stay zero), so that the inner
    product is the cosine. Evaluations pass float64 where their published figures were computed so.

    Example::

        l2_normalise(np.array([[3.0, 4.0]]))  # array([[0.6, 0.8]], dtype=float32)
    """
    vectors = np.ascontiguousarray(vectors, dtype=dtype)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)


@contextmanager
def folder_lock(directory: str | Path, timeout: float, what: str = "this folder") -> Iterator[None]:
    """Hold `directory/.lock`, waiting at most `timeout` seconds for another writer; then a clear error.

    Example::

        with folder_lock("my-index", 60, "this index"):
            ...  # load, change, save
    """
    from filelock import FileLock, Timeout

    from embedlab.errors import EmbedlabError

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / ".lock")
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise EmbedlabError(
            f"{directory}: another process is writing {what} (lock {directory / '.lock'} held for over "
            f"{timeout:g} s); try again when it has finished"
        ) from None
    try:
        yield
    finally:
        lock.release()
