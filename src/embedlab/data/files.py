"""The user's own sentence-pair files: CSV, TSV, JSONL and Parquet, with configurable column names.

Every record is validated; the first bad one raises a DataError naming file, line (row for Parquet)
and field, so a user never meets a traceback from deep inside pandas or pyarrow.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from embedlab.data.records import PairBuilder, iter_jsonl, read_text
from embedlab.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset  # imported where used: document loading needs no datasets

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


class PairColumns(BaseModel):
    """Which of the file's columns hold the two sentences and the score."""

    model_config = ConfigDict(extra="forbid")
    sentence1: str = "sentence1"
    sentence2: str = "sentence2"
    score: str = "score"

    def names(self) -> tuple[str, str, str]:
        """The three column names, in order: sentence1, sentence2, score."""
        return (self.sentence1, self.sentence2, self.score)


def detect_format(path: Path) -> str:
    """The file format from the file's extension (`.csv`, `.jsonl`, `.parquet`, ...).

    Example::

        detect_format(Path("pairs.jsonl.gz"))  # "jsonl"
    """
    try:
        suffix = path.suffix.lower()
        if suffix == ".gz" and Path(path.stem).suffix.lower() in (".jsonl", ".ndjson", ".csv", ".tsv"):
            suffix = Path(path.stem).suffix.lower()  # compressed text: read through gzip
        return FORMATS[suffix]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise DataError(f"unknown file type '{path.suffix}'; expected one of {known}", path=path) from None


def load_pair_file(
    path: str | Path, columns: PairColumns | None = None, file_format: str | None = None
) -> Dataset:
    """Load a pair file into a Dataset with columns sentence1, sentence2, score."""
    path = Path(path)
    columns = columns or PairColumns()
    file_format = file_format or detect_format(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    readers = {"csv": _read_delimited, "tsv": _read_delimited, "jsonl": _read_jsonl, "parquet": _read_parquet}
    if file_format not in readers:
        raise DataError(
            f"unknown format '{file_format}'; expected one of csv, tsv, jsonl, parquet", path=path
        )
    return readers[file_format](path, columns, file_format)


def _missing_columns(path: Path, present: list[str], columns: PairColumns, where: str) -> None:
    for name in columns.names():
        if name not in present:
            raise DataError(
                f"column not found; the file has: {', '.join(map(str, present)) or 'no columns'}",
                path=path,
                line=1 if where == "line" else None,
                field=name,
                where=where,
            )


def _read_delimited(path: Path, columns: PairColumns, file_format: str) -> Dataset:
    delimiter = "\t" if file_format == "tsv" else ","
    reader = csv.DictReader(read_text(path).splitlines(keepends=True), delimiter=delimiter)
    try:
        header = list(reader.fieldnames or [])
    except csv.Error as error:
        raise DataError(f"unreadable header: {error}", path=path, line=1) from None
    _missing_columns(path, header, columns, "line")
    pairs = PairBuilder(path)
    try:
        for record in reader:
            if not any((value or "").strip() for value in record.values() if isinstance(value, str)):
                continue  # blank line
            pairs.add(reader.line_num, record, columns.names())
    except csv.Error as error:
        raise DataError(
            f"malformed {file_format.upper()}: {error}", path=path, line=reader.line_num
        ) from None
    return pairs.dataset()


def _read_jsonl(path: Path, columns: PairColumns, file_format: str) -> Dataset:
    pairs = PairBuilder(path)
    for number, record in iter_jsonl(path):
        pairs.add(number, record, columns.names())
    return pairs.dataset()


def _read_parquet(path: Path, columns: PairColumns, file_format: str) -> Dataset:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"not a readable Parquet file: {error}", path=path) from None
    _missing_columns(path, table.column_names, columns, "row")
    pairs = PairBuilder(path, where="row")
    for number, record in enumerate(table.select(list(columns.names())).to_pylist(), start=1):
        pairs.add(number, record, columns.names())
    return pairs.dataset()
