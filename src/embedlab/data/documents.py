"""Document collections for search: JSONL, CSV or Parquet with an id, a text and any metadata."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from embedlab.data.files import detect_format
from embedlab.data.records import iter_jsonl, open_binary
from embedlab.errors import DataError


def load_documents(path: str | Path, id_field: str | None = "id", text_field: str = "text") -> list[dict]:
    """Each document as a dict with `id` (str), `text` and its other fields; ids must be unique.

    With `id_field=None` the id is the line (or row) number.

    Example::

        docs = load_documents("docs.jsonl", id_field="id", text_field="text")
    """
    path = Path(path)
    documents: list[dict] = []
    seen: dict[str, int] = {}
    where = "row" if detect_format(path) == "parquet" else "line" if path.is_file() else ""
    for number, document in iter_documents(path, id_field, text_field):
        doc_id = document["id"]
        if doc_id in seen:
            raise DataError(
                f"duplicate id {doc_id!r} (first at {where} {seen[doc_id]})",
                path=path,
                line=number,
                field=id_field,
                where=where,
            )
        seen[doc_id] = number
        documents.append(document)
    if not documents:
        raise DataError("no documents found", path=path)
    return documents


def iter_documents(
    path: str | Path, id_field: str | None = "id", text_field: str = "text", keep: list[str] | None = None
) -> Iterator[tuple[int, dict]]:
    """Stream (line or row number, document) in constant memory: `id` (str), `text`, and the other fields
    (only those in `keep`, when given). Each row is checked as it is read; ids are not checked for
    uniqueness here (that needs them all: `load_documents` does it).

    Example::

        for number, doc in iter_documents("corpus.jsonl.gz", text_field="abstract", keep=["title"]):
            ...
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    file_format = detect_format(path)
    where = "row" if file_format == "parquet" else "line"
    required = (id_field, text_field) if id_field is not None else (text_field,)
    for number, record in _records(path, file_format):
        for name in required:
            value = record.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise DataError("missing or empty", path=path, line=number, field=name, where=where)
        if keep is not None and number == 1:
            missing = [name for name in keep if name not in record]
            if missing:
                raise DataError(f"no field {missing[0]!r} to keep", path=path, line=number, where=where)
        text = record[text_field]
        if not isinstance(text, str):
            raise DataError(
                f"expected text, got {type(text).__name__}",
                path=path,
                line=number,
                field=text_field,
                where=where,
            )
        doc_id = str(record[id_field]) if id_field is not None else str(number)
        extra = {
            k: v for k, v in record.items() if k not in (id_field, text_field) and (keep is None or k in keep)
        }
        yield number, {"id": doc_id, "text": text, **extra}


def _records(path: Path, file_format: str) -> Iterator[tuple[int, dict]]:
    if file_format == "jsonl":
        yield from iter_jsonl(path)
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
