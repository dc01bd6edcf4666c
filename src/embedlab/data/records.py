"""Validation of single sentence-pair records, shared by every loader so errors read the same."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from embedlab.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset  # imported where used: document loading needs no datasets


@dataclass
class PairBuilder:
    """Collects validated (sentence1, sentence2, score) records from one source file."""

    path: Path
    where: str = "line"
    sentence1: list[str] = field(default_factory=list)
    sentence2: list[str] = field(default_factory=list)
    score: list[float] = field(default_factory=list)

    def add(self, line: int, values: dict[str, object], names: tuple[str, str, str]) -> None:
        """Validate one record. `names` are the source's field names for sentence1, sentence2, score."""
        s1 = self._sentence(line, values.get(names[0]), names[0])
        s2 = self._sentence(line, values.get(names[1]), names[1])
        self.sentence1.append(s1)
        self.sentence2.append(s2)
        self.score.append(self._score(line, values.get(names[2]), names[2]))

    def _error(self, message: str, line: int, name: str) -> DataError:
        return DataError(message, path=self.path, line=line, field=name, where=self.where)

    def _sentence(self, line: int, value: object, name: str) -> str:
        if value is None:
            raise self._error("missing", line, name)
        if not isinstance(value, str):
            raise self._error(f"expected text, got {type(value).__name__} {value!r}", line, name)
        if not value.strip():
            raise self._error("empty sentence", line, name)
        return value

    def _score(self, line: int, value: object, name: str) -> float:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise self._error("missing score", line, name)
        if isinstance(value, bool):
            raise self._error(f"score is not a number: {value!r}", line, name)
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise self._error(f"score is not a number: {value!r}", line, name) from None
        if not math.isfinite(number):
            raise self._error(f"score is not a finite number: {value!r}", line, name)
        return number

    def dataset(self) -> Dataset:
        """The scored pairs as a `datasets.Dataset` (sentence1, sentence2, score)."""
        if not self.score:
            raise DataError("no sentence pairs found", path=self.path)
        from datasets import Dataset

        return Dataset.from_dict(
            {"sentence1": self.sentence1, "sentence2": self.sentence2, "score": self.score}
        )


def read_text(path: Path) -> str:
    """Read a UTF-8 text file; a decoding error names the line it is on. A BOM is dropped."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read file: {error.strerror}", path=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(
            f"not valid UTF-8 (byte {raw[error.start]:#04x}); re-save the file as UTF-8",
            path=path,
            line=line,
        ) from None
    return text.removeprefix("\ufeff")


def open_binary(path: Path):
    """Open a file for reading bytes, through gzip when it ends in `.gz`; an unreadable file is a DataError.

    Example::

        with open_binary(Path("corpus.jsonl.gz")) as handle:
            first = handle.readline()
    """
    import gzip

    try:
        return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")
    except OSError as error:
        raise DataError(f"cannot read file: {error.strerror}", path=path) from None


def damaged_lines(path: Path, handle) -> Iterator[bytes]:
    """The lines of an open file; a truncated or fake `.gz` (or a read error) stops with one line naming the
    file and the line it got to, instead of a traceback.
    """
    import zlib

    number = 0
    try:
        for number, raw in enumerate(handle, start=1):  # noqa: B007 (number is reported below)
            yield raw
    except (EOFError, OSError, zlib.error) as error:
        reason = "truncated (it ends before its end marker)" if isinstance(error, EOFError) else str(error)
        raise DataError(f"damaged file: {reason}", path=path, line=number + 1) from None


def iter_jsonl(path: Path, on_bad=None) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line, streamed (`.gz` too); invalid JSON, a non-object or
    bytes that are not UTF-8 name their line — or go to `on_bad(number, line, error)` and are skipped. A
    truncated or fake `.gz` always stops, naming the file.
    """
    with open_binary(path) as handle:
        for number, raw in enumerate(damaged_lines(path, handle), start=1):
            try:
                record = _json_object(path, number, raw)
            except DataError as error:
                if on_bad is None:
                    raise
                on_bad(number, raw.decode("utf-8", "replace").rstrip("\n"), error)
                continue
            if record is not None:
                yield number, record


def _json_object(path: Path, number: int, raw: bytes) -> dict | None:
    """One JSONL line as an object (None for a blank line)."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(
            f"not valid UTF-8 (byte {raw[error.start]:#04x}); re-save the file as UTF-8",
            path=path,
            line=number,
        ) from None
    if number == 1:
        line = line.removeprefix("\ufeff")
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(f"invalid JSON: {error.msg}", path=path, line=number) from None
    if not isinstance(record, dict):
        raise DataError("expected a JSON object", path=path, line=number)
    return record
