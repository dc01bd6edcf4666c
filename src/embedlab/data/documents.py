"""Document collections for search: JSONL, CSV or Parquet with an id, a text and any metadata."""

from __future__ import annotations

import csv
from pathlib import Path

from embedlab.data.files import detect_format
from embedlab.data.records import iter_jsonl, read_text
from embedlab.errors import DataError


def load_documents(path: str | Path, id_field: str | None = "id", text_field: str = "text") -> list[dict]:
    """Each document as a dict with `id` (str), `text` and its other fields; ids must be unique.

    With `id_field=None` the id is the line (or row) number.

    Example::

        docs = load_documents("docs.jsonl", id_field="id", text_field="text")
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    file_format = detect_format(path)
    where = "row" if file_format == "parquet" else "line"
    documents: list[dict] = []
    seen: dict[str, int] = {}
    for number, record in _records(path, file_format):
        for name in (id_field, text_field) if id_field is not None else (text_field,):
            value = record.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise DataError("missing or empty", path=path, line=number, field=name, where=where)
        doc_id = str(record[id_field]) if id_field is not None else str(number)
        if doc_id in seen:
            raise DataError(
                f"duplicate id {doc_id!r} (first at {where} {seen[doc_id]})",
                path=path,
                line=number,
                field=id_field,
                where=where,
            )
        seen[doc_id] = number
        text = record[text_field]
        if not isinstance(text, str):
            raise DataError(
                f"expected text, got {type(text).__name__}",
                path=path,
                line=number,
                field=text_field,
                where=where,
            )
        extra = {k: v for k, v in record.items() if k not in (id_field, text_field)}
        documents.append({"id": doc_id, "text": text, **extra})
    if not documents:
        raise DataError("no documents found", path=path)
    return documents


def _records(path: Path, file_format: str):
    if file_format == "jsonl":
        yield from iter_jsonl(path)
    elif file_format in ("csv", "tsv"):
        reader = csv.DictReader(
            read_text(path).splitlines(keepends=True), delimiter="\t" if file_format == "tsv" else ","
        )
        for record in reader:
            yield reader.line_num, dict(record)
    else:
        import pyarrow.parquet as pq

        yield from enumerate(pq.read_table(path).to_pylist(), start=1)
