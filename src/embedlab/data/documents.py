"""Document collections for search: JSONL, CSV or Parquet with an id, a text and any metadata."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

from embedlab.data.files import detect_format
from embedlab.data.records import iter_jsonl, open_binary
from embedlab.errors import DataError
from embedlab.io import is_valid_unicode


class RejectedRows:
    """Rows set aside instead of stopping the job (`skip_bad_rows`): each with its number, the reason and
    the record as read; `write(path)` saves them as JSONL beside the job's output.

    Example::

        rejected = RejectedRows()
        docs = load_documents("corpus.jsonl", on_bad=rejected)
        rejected.count, rejected.rows[0]["reason"]  # 3, "corpus.jsonl, line 7, field 'text': missing …"
    """

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def __call__(self, number: int, record: object, error: DataError) -> None:
        """Set one row aside."""
        self.rows.append({"row": number, "reason": str(error), "record": record})

    @property
    def count(self) -> int:
        """How many rows were set aside."""
        return len(self.rows)

    def write(self, path: str | Path) -> Path | None:
        """The rows as JSONL at `path` (atomically); nothing is written when none was set aside."""
        import json

        from embedlab.io import write_text_atomic

        if not self.rows:
            return None
        # ASCII with escapes: a lone surrogate in a rejected text stays as it was read, and the file is valid
        lines = (json.dumps(row, ensure_ascii=True, default=repr) + "\n" for row in self.rows)
        write_text_atomic(path, "".join(lines))
        return Path(path)


OnBad = Callable[[int, object, DataError], None]


def load_documents(
    path: str | Path, id_field: str | None = "id", text_field: str = "text", *, on_bad: OnBad | None = None
) -> list[dict]:
    """Each document as a dict with `id` (str), `text` and its other fields; ids must be unique.

    With `id_field=None` the id is the line (or row) number. A bad row stops with one `DataError` naming
    file, row and field, unless `on_bad` (a `RejectedRows`) takes it: then it is set aside and skipped.

    Example::

        docs = load_documents("docs.jsonl", id_field="id", text_field="text")
    """
    path = Path(path)
    documents: list[dict] = []
    seen: dict[str, int] = {}
    where = "row" if detect_format(path) == "parquet" else "line" if path.is_file() else ""
    for number, document in iter_documents(path, id_field, text_field, on_bad=on_bad):
        doc_id = document["id"]
        if doc_id in seen:
            error = DataError(
                f"duplicate id {doc_id!r} (first at {where} {seen[doc_id]})",
                path=path,
                line=number,
                field=id_field,
                where=where,
            )
            if on_bad is None:
                raise error
            on_bad(number, document, error)
            continue
        seen[doc_id] = number
        documents.append(document)
    if not documents:
        raise DataError("no documents found", path=path)
    return documents


def iter_documents(
    path: str | Path,
    id_field: str | None = "id",
    text_field: str = "text",
    keep: list[str] | None = None,
    *,
    on_bad: OnBad | None = None,
) -> Iterator[tuple[int, dict]]:
    """Stream (line or row number, document) in constant memory: `id` (str), `text`, and the other fields
    (only those in `keep`, when given). Each row is checked as it is read — a missing or empty id or text,
    a text that is not a string or holds a lone surrogate, an id that is neither a string nor an integer,
    a metadata field whose type changes from row to row, a line that is not a JSON object — and stops with
    one `DataError` naming file, row and field, or goes to `on_bad` and is skipped. Ids are not checked for
    uniqueness here (that needs them all: `load_documents` does it). A damaged file (a truncated or fake
    `.gz`) always stops.

    Example::

        for number, doc in iter_documents("corpus.jsonl.gz", text_field="abstract", keep=["title"]):
            ...
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    file_format = detect_format(path)
    check = _RowCheck(path, "row" if file_format == "parquet" else "line", id_field, text_field, keep)
    for number, record in _records(path, file_format, on_bad):
        try:
            document = check(number, record)
        except DataError as error:
            if on_bad is None:
                raise
            on_bad(number, record, error)
            continue
        yield number, document


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else f"{type(value).__name__}"


class _RowCheck:
    """Validates one record into a document; remembers each metadata field's type from its first row."""

    def __init__(self, path: Path, where: str, id_field: str | None, text_field: str, keep) -> None:
        self.path, self.where, self.keep = path, where, keep
        self.id_field, self.text_field = id_field, text_field
        self.types: dict[str, tuple[str, int]] = {}

    def _error(self, message: str, number: int, name: str | None = None) -> DataError:
        return DataError(message, path=self.path, line=number, field=name, where=self.where)

    def __call__(self, number: int, record: dict) -> dict:
        required = (self.id_field, self.text_field) if self.id_field is not None else (self.text_field,)
        for name in required:
            value = record.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise self._error("missing or empty", number, name)
        if self.keep is not None and number == 1:
            missing = [name for name in self.keep if name not in record]
            if missing:
                raise self._error(f"no field {missing[0]!r} to keep", number)
        text = record[self.text_field]
        if not isinstance(text, str):
            raise self._error(f"expected text, got {type(text).__name__}", number, self.text_field)
        if not is_valid_unicode(text):
            raise self._error("not valid Unicode (it holds a lone surrogate)", number, self.text_field)
        doc_id = self._id(number, record)
        extra = {
            k: v
            for k, v in record.items()
            if k not in (self.id_field, self.text_field) and (self.keep is None or k in self.keep)
        }
        for name, value in extra.items():
            self._check_type(number, name, value)
        return {"id": doc_id, "text": text, **extra}

    def _id(self, number: int, record: dict) -> str:
        if self.id_field is None:
            return str(number)
        value = record[self.id_field]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self._error(
                f"an id is text or an integer, not {_kind(value)} ({value!r})", number, self.id_field
            )
        if isinstance(value, str) and not is_valid_unicode(value):
            raise self._error("not valid Unicode (it holds a lone surrogate)", number, self.id_field)
        return str(value)

    def _check_type(self, number: int, name: str, value: object) -> None:
        if value is None:
            return  # a field left out of a row is no change of type
        if isinstance(value, str) and not is_valid_unicode(value):
            raise self._error("not valid Unicode (it holds a lone surrogate)", number, name)
        kind = _kind(value)
        first = self.types.setdefault(name, (kind, number))
        if first[0] != kind:
            raise self._error(
                f"is {kind} here but {first[0]} at {self.where} {first[1]}: one type per field", number, name
            )


def _records(path: Path, file_format: str, on_bad: OnBad | None = None) -> Iterator[tuple[int, dict]]:
    if file_format == "jsonl":
        yield from iter_jsonl(path, on_bad)
    elif file_format in ("csv", "tsv"):
        yield from _csv_records(path, "\t" if file_format == "tsv" else ",")
    else:
        import pyarrow.parquet as pq

        number = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):  # a row group at a time
            for record in batch.to_pylist():
                number += 1
                yield number, record


def _csv_records(path: Path, delimiter: str) -> Iterator[tuple[int, dict]]:
    import io

    with io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        try:
            for record in reader:
                yield reader.line_num, dict(record)
        except UnicodeDecodeError:
            raise DataError(
                "not UTF-8 text; save it as UTF-8", path=path, line=reader.line_num + 1, where="line"
            ) from None
