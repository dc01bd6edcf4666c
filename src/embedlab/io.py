"""Small helpers every stage shares: atomic writes, output ownership, folder locks, file hashing, L2
normalisation.

One copy of each idea, so that "written completely or not at all" means the same thing everywhere.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from fnmatch import fnmatch
from pathlib import Path

import numpy as np

MARKER = ".embedlab.json"  # in every folder embedlab makes: its kind and the names it writes there


@contextmanager
def disk_errors(where: str | Path) -> Iterator[None]:
    """Turn a full disk or a read-only place met while writing `where` into one clear line.

    Example::

        with disk_errors("runs/x"):
            Path("runs/x/big.bin").write_bytes(data)
    """
    from embedlab.errors import EmbedlabError

    try:
        yield
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise EmbedlabError(f"no space left writing {where}; nothing was half-written") from None
        inside = error.filename is None or str(error.filename).startswith(str(Path(where).parent))
        if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM) and inside:
            raise EmbedlabError(f"{where} is read-only (not writable here); choose another place") from None
        raise


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed over `path`, on error removed.

    A crash at any point leaves either the old file or the new one, never half of one.

    Example::

        with atomic_path("results/stsb.json") as staging:
            staging.write_text("{}")
    """
    path = Path(path)
    with disk_errors(path):
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


def _transient(name: str) -> bool:
    """Names embedlab's own writers leave for a moment (marker, locks, staging copies): never the user's."""
    return (
        name == MARKER
        or name.startswith((".lock", ".staging-"))
        or (name.startswith(".") and name.endswith((".tmp", ".previous")))
    )


def _marker(folder: Path) -> dict | None:
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    valid = isinstance(marker, dict) and isinstance(marker.get("kind"), str)
    return marker if valid and isinstance(marker.get("names"), list) else None


def mark_folder(folder: str | Path, kind: str, names: Iterable[str]) -> None:
    """Record that embedlab made `folder` as a `kind` and the names (glob patterns) it writes in it.

    Example::

        mark_folder("runs/demo", "training run", ["config.yaml", "model", "checkpoints"])
    """
    write_json_atomic(Path(folder) / MARKER, {"kind": kind, "names": sorted(set(names))})


def folder_kind(folder: str | Path) -> str | None:
    """The kind embedlab recorded for `folder` (`"index"`, `"training run"`, …), or None if it made none.

    Example::

        folder_kind("runs/demo")  # "training run"
    """
    marker = _marker(Path(folder))
    return marker["kind"] if marker else None


def is_owned(folder: str | Path, kind: str) -> bool:
    """True when embedlab made `folder` as a `kind` and it holds nothing but what embedlab writes there.

    Example::

        is_owned("dedup-out", "dedup result")  # False for a folder a user put a file in
    """
    folder = Path(folder)
    marker = _marker(folder)
    if marker is None or marker["kind"] != kind:
        return False
    return all(
        _transient(entry.name) or any(fnmatch(entry.name, pattern) for pattern in marker["names"])
        for entry in folder.iterdir()
    )


def _has_content(folder: Path) -> bool:
    return any(not _transient(entry.name) for entry in folder.iterdir())


def check_not_input(out: str | Path, inputs: Iterable[str | Path | None] = (), param: str = "out") -> None:
    """Refuse an output that is, contains or lies inside one of the command's own inputs.

    Example::

        check_not_input("proj", inputs=["proj/corpus.jsonl"])  # EmbedlabError: proj contains the input ...
    """
    from embedlab.errors import EmbedlabError

    target = Path(out).resolve()
    for given in inputs:
        if given is None or not Path(given).exists():
            continue  # a model name, not a path
        source = Path(given).resolve()
        if target == source:
            raise EmbedlabError(f"{param}={out} is one of this command's inputs; choose another place")
        if source.is_relative_to(target):
            raise EmbedlabError(f"{param}={out} contains the input {given}; choose a new folder")
        if source.is_dir() and target.is_relative_to(source):
            raise EmbedlabError(f"{param}={out} lies inside the input {given}; choose a folder outside it")


def check_output_dir(
    out: str | Path,
    *,
    kind: str,
    force: bool = False,
    inputs: Iterable[str | Path | None] = (),
    param: str = "out",
) -> None:
    """Refuse, before any work, an output folder that may not be written: one of the inputs (or holding one),
    a folder of the user's, or another kind's; an earlier `kind` of embedlab's only with `force`.

    Example::

        check_output_dir("dedup-out", kind="dedup result", force=True, inputs=["corpus.jsonl"])
    """
    from embedlab.errors import EmbedlabError

    out = Path(out)
    check_not_input(out, inputs, param)
    if not out.exists():
        return
    if not out.is_dir():
        raise EmbedlabError(f"{param}={out} is a file, not a folder; choose a new or empty folder")
    if not _has_content(out):
        return
    if is_owned(out, kind):
        if force:
            return
        raise EmbedlabError(f"{out} holds an earlier {kind}; pass force=True (--force) to replace it")
    other = folder_kind(out)
    why = (
        f"it is embedlab's {other}, not a {kind}"
        if other and other != kind
        else "it holds files embedlab did not write"
    )
    raise EmbedlabError(
        f"{out}: {why}; embedlab never writes into or replaces such a folder: choose a new or empty one"
    )


def check_output_file(
    path: str | Path, *, force: bool = False, inputs: Iterable[str | Path | None] = (), param: str = "out"
) -> None:
    """Refuse a file output that is an input, is a folder, or (without `force`) replaces an existing file.

    Example::

        check_output_file("predictions.jsonl", inputs=["docs.jsonl"])
    """
    from embedlab.errors import EmbedlabError

    path = Path(path)
    check_not_input(path, inputs, param)
    if path.is_dir():
        raise EmbedlabError(f"{param}={path} is a folder; give a file name")
    if path.exists() and not force:
        raise EmbedlabError(f"{path} exists; pass force=True (--force) to replace it, or choose another name")


def _remove_owned(folder: Path) -> None:
    """Take an owned folder out of the way in one rename, then delete it (a crash leaves a hidden copy)."""
    aside = folder.parent / f".{folder.name}.{secrets.token_hex(6)}.previous"
    folder.rename(aside)
    shutil.rmtree(aside, ignore_errors=True)


def claim_dir(
    out: str | Path,
    *,
    kind: str,
    names: Iterable[str],
    force: bool = False,
    inputs: Iterable[str | Path | None] = (),
    param: str = "out",
) -> Path:
    """Make a folder that is written piece by piece (a training run, an index, vector shards) and mark it
    as `kind`, writing `names`; with `force`, an earlier one of embedlab's of the same kind is replaced.

    Example::

        run_dir = claim_dir("runs/demo", kind="training run", names=["config.yaml", "model"], force=True)
    """
    out = Path(out)
    check_output_dir(out, kind=kind, force=force, inputs=inputs, param=param)
    with disk_errors(out):
        if force and out.is_dir() and _has_content(out):
            _remove_owned(out)
        out.mkdir(parents=True, exist_ok=True)
        mark_folder(out, kind, names)
    return out


def open_dir(
    out: str | Path,
    *,
    kind: str,
    names: Iterable[str],
    inputs: Iterable[str | Path | None] = (),
    param: str = "out",
) -> Path:
    """A folder that later calls continue (a staged run, a seed sweep's summary, a pipeline's run): made
    and marked the first time, taken as it is when it is embedlab's `kind`, refused when it is anything else.

    Example::

        out = open_dir("runs/demo-seeds", kind="seed sweep", names=["summary.json", "report.md", "soup"])
    """
    out = Path(out)
    if out.is_dir() and is_owned(out, kind):
        check_not_input(out, inputs, param)
        return out
    return claim_dir(out, kind=kind, names=names, inputs=inputs, param=param)


def _remove_leftovers(path: Path, older_than_s: float = 3600.0) -> None:
    """Staging copies of `path` that a crashed write left (an hour old: no live writer's), removed."""
    import time

    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        if time.time() - leftover.stat().st_mtime <= older_than_s:
            continue
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | Path, *, kind: str) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `path`; on success it is marked as `kind` and takes `path`'s
    place, on error it goes. Only an earlier `kind` of embedlab's is replaced (see `check_output_dir`,
    which callers run first with their `force` and inputs): a folder of the user's is refused, never deleted.

    Example::

        with atomic_dir("runs/x/model", kind="model") as staging:
            model.save(str(staging))
    """
    path = Path(path)
    check_output_dir(path, kind=kind, force=True)
    with disk_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(path)
        staging = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        staging.mkdir()  # as mkdir would (0777 less the umask), not mkdtemp's 0700
        try:
            yield staging
            mark_folder(staging, kind, [entry.name for entry in staging.iterdir()])
            previous = path.with_name(f".{path.name}.previous") if path.exists() else None
            if previous is not None:
                shutil.rmtree(previous, ignore_errors=True)
                path.rename(previous)  # a crash from here on leaves the new folder or the old, never neither
            staging.rename(path)
            if previous is not None:
                shutil.rmtree(previous, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


@contextmanager
def output_dir(
    out: str | Path,
    *,
    kind: str,
    force: bool = False,
    inputs: Iterable[str | Path | None] = (),
    param: str = "out",
) -> Iterator[Path]:
    """The one way a command writes a result folder: checked (`check_output_dir`), staged, marked as
    `kind` and renamed into place only when complete.

    Example::

        with output_dir("dedup-out", kind="dedup result", inputs=["corpus.jsonl"]) as staging:
            (staging / "report.md").write_text("# dedup")
    """
    check_output_dir(out, kind=kind, force=force, inputs=inputs, param=param)
    with atomic_dir(out, kind=kind) as staging:
        yield staging


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


def is_valid_unicode(text: str) -> bool:
    r"""False for text no tokenizer takes and no UTF-8 file can hold: a lone surrogate (JSON `"\ud800"`).

    Example::

        is_valid_unicode("caf\u00e9"), is_valid_unicode("\ud800")  # True, False
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def relative_path(path: str | Path, folder: str | Path) -> str:
    """`path` as seen from `folder` (POSIX, `..` where needed): what manifests record, so that a copied or
    moved folder keeps working.

    Example::

        relative_path("/data/idx/milvus.db", "/data/idx")  # "milvus.db"
    """
    return Path(os.path.relpath(Path(path).resolve(), Path(folder).resolve())).as_posix()


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
